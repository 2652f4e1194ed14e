"""What a local `make run` prepares beside the app: the embedded database and a generated API token."""

from __future__ import annotations

import secrets
from pathlib import Path

import msgspec

from frontdesk import embedded
from frontdesk.settings import Settings, SettingsError


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


def prepare(settings: Settings, *, serving: bool = False) -> tuple[Settings, embedded.EmbeddedPostgres | None]:
    """Settings with a database URL and tokens filled in, starting the embedded Postgres when needed."""
    if not settings.embedded_database:
        if serving and not settings.api_tokens:
            raise SettingsError(
                "API_TOKENS must be set when DATABASE_URL is set: no one may read customer data anonymously"
            )
        return settings, None
    server = embedded.start(settings.data_dir / "postgres")
    tokens = settings.api_tokens or (load_or_create_token(settings.data_dir),)
    return msgspec.structs.replace(settings, database_url=server.url(), api_tokens=tokens), server
