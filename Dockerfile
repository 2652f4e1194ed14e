# Production-like image: the app only; PostgreSQL + pgvector come from DATABASE_URL (see docker-compose.yml).
# Build stage: the venv and the browser assets (npm packages and the pinned face model) at build time, never
# committed and never fetched from a CDN at run time.
FROM python:3.11-slim AS build
ENV PYTHONDONTWRITEBYTECODE=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends make nodejs npm >/dev/null \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml README.md Makefile ./
COPY src/ src/
COPY sql/ sql/
COPY static/ static/
RUN make setup assets && rm -rf static/node_modules

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY --from=build /app /app
RUN useradd --system --uid 10001 --home-dir /app frontdesk && mkdir -p /app/.data && chown frontdesk /app/.data
USER frontdesk
ENV PATH=/app/.venv/bin:$PATH

# TLS is terminated by the proxy in front of the app (docker-compose.yml `scale` profile), or set TLS=auto.
ENV HOST=0.0.0.0 PORT=8000 TLS=off DATA_DIR=/app/.data LOG_FORMAT=json
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s CMD ["python", "-c", "import os, ssl, urllib.request as u; tls = os.environ.get('TLS') != 'off' or os.environ.get('TLS_CERT_FILE'); u.urlopen(('https' if tls else 'http') + '://127.0.0.1:' + os.environ['PORT'] + '/healthz', context=ssl._create_unverified_context())"]
CMD ["sh", "-c", "python -m frontdesk migrate && exec python -m frontdesk serve"]
