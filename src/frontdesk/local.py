"""What a local `make run` prepares beside the app: the embedded database and a generated API token."""

from __future__ import annotations

import secrets
from pathlib import Path

import msgspec

from frontdesk import embedded
from frontdesk.settings import Settings


def load_or_create_token(data_dir: Path) -> str:
    """The API token for an embedded run with no API_TOKENS: made once, kept private under data_dir."""
    path = data_dir / "api-token"
    if path.is_file() and path.read_text().strip():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(32)
    path.touch(mode=0o600)
    path.write_text(token + "\n")
    return token


def prepare(settings: Settings) -> tuple[Settings, embedded.EmbeddedPostgres | None]:
    """Settings with a database URL and tokens filled in, starting the embedded Postgres when needed."""
    if not settings.embedded_database:
        return settings, None
    server = embedded.start(settings.data_dir / "postgres")
    tokens = settings.api_tokens or (load_or_create_token(settings.data_dir),)
    return msgspec.structs.replace(settings, database_url=server.url(), api_tokens=tokens), server
