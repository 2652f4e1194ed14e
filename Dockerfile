# Production-like image: the app only; PostgreSQL + pgvector come from DATABASE_URL (see docker-compose.yml).
FROM python:3.11-slim AS base

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app

# Browser assets from the npm registry at build time (never committed, never from a CDN at run time).
FROM node:20-slim AS assets
WORKDIR /app
COPY static/package.json static/package-lock.json static/
COPY Makefile ./
RUN apt-get update -qq && apt-get install -y -qq make >/dev/null && make assets

FROM base
COPY pyproject.toml README.md ./
COPY src/ src/
COPY sql/ sql/
COPY static/ static/
COPY --from=assets /app/static/vendor/ static/vendor/
RUN pip install -e . && useradd --system --uid 10001 --home-dir /app frontdesk && mkdir -p /app/.data && chown frontdesk /app/.data
USER frontdesk

# TLS is terminated by the proxy in front of the app (docker-compose.yml); the container speaks HTTP.
ENV HOST=0.0.0.0 PORT=8000 TLS=off DATA_DIR=/app/.data LOG_FORMAT=json
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s CMD python -c "import os,urllib.request; urllib.request.urlopen(f'http://127.0.0.1:{os.environ[\"PORT\"]}/healthz')"
CMD ["sh", "-c", "python -m frontdesk migrate && exec python -m frontdesk serve"]
