"""Every setting frontdesk reads, in one typed place.

Settings are read once from the environment (and an optional `.env` file) by `Settings.from_env()`;
the app is built from a `Settings` value, so tests construct their own with `Settings(...)`.
A bad value stops the start with a message naming the variable and what it accepts.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Literal, TypeVar

import msgspec

# pgvector's HNSW index accepts at most 2,000 dimensions for the `vector` type.
MAX_INDEXED_DIM = 2000

T = TypeVar("T")


class SettingsError(Exception):
    """A setting is missing or out of range; the message names the variable."""


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    # Database. None means: start the embedded PostgreSQL under data_dir.
    database_url: str | None = None
    database_read_url: str | None = None
    pool_min_size: int = 1
    pool_max_size: int = 10
    # Seconds a request waits for a pooled connection (or a new one) before answering 503.
    pool_timeout: float = 2.0

    # HTTP
    host: str = "0.0.0.0"
    port: int = 8000
    cors_origins: tuple[str, ...] = ()
    max_body_bytes: int = 4 * 1024 * 1024
    log_level: str = "info"
    log_format: Literal["text", "json"] = "text"
    data_dir: Path = Path(".data")
    # "auto": serve HTTPS with a self-signed certificate generated under data_dir (phones need a secure
    # context for the camera); "off": plain HTTP; or give tls_cert_file/tls_key_file.
    tls: Literal["auto", "off"] = "auto"
    tls_cert_file: Path | None = None
    tls_key_file: Path | None = None

    # Auth: bearer tokens accepted by the data API and the signaling server.
    api_tokens: tuple[str, ...] = ()

    # Vectors
    face_embedding_dim: int = 512
    text_embedding_dim: int = 1536
    # Cosine distance above which a face search result is "no match".
    face_match_max_distance: float = 0.4
    # hnsw.ef_search used by searches (pgvector's default is 40); face search has its own, higher one.
    hnsw_ef_search: int = 100
    face_search_ef_search: int = 400

    # Signaling
    signaling_backend: Literal["memory", "postgres"] = "memory"
    max_viewers_per_room: int = 4
    max_rooms: int = 1000
    max_frame_bytes: int = 64 * 1024
    max_messages_per_second: float = 50.0
    ping_timeout_seconds: float = 30.0
    resume_grace_seconds: float = 20.0
    idle_room_seconds: float = 3600.0
    stun_urls: tuple[str, ...] = ()
    turn_urls: tuple[str, ...] = ()
    turn_secret: str | None = None
    turn_ttl_seconds: int = 3600

    # Pages
    face_model_path: Path | None = None

    @property
    def embedded_database(self) -> bool:
        return self.database_url is None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, env_file: str | Path | None = ".env") -> Settings:
        env = _Env(environ if environ is not None else os.environ, env_file)
        settings = cls(
            database_url=_with_supabase_ssl(env.text("DATABASE_URL")),
            database_read_url=_with_supabase_ssl(env.text("DATABASE_READ_URL")),
            pool_min_size=env.integer("POOL_MIN_SIZE", 1, 0, 1000),
            pool_max_size=env.integer("POOL_MAX_SIZE", 10, 1, 1000),
            pool_timeout=env.number("POOL_TIMEOUT", 2.0, 0.1, 600),
            host=env.text("HOST") or "0.0.0.0",
            port=env.integer("PORT", 8000, 1, 65535),
            cors_origins=env.items("CORS_ORIGINS"),
            max_body_bytes=env.integer("MAX_BODY_BYTES", 4 * 1024 * 1024, 1024, 1024**3),
            log_level=env.choice("LOG_LEVEL", "info", ("critical", "error", "warning", "info", "debug")),
            log_format=env.choice("LOG_FORMAT", "text", ("text", "json")),  # type: ignore[arg-type]  # choice() checked it
            data_dir=Path(env.text("DATA_DIR") or ".data"),
            tls=env.choice("TLS", "auto", ("auto", "off")),  # type: ignore[arg-type]  # choice() checked it
            tls_cert_file=env.path("TLS_CERT_FILE"),
            tls_key_file=env.path("TLS_KEY_FILE"),
            api_tokens=env.items("API_TOKENS"),
            face_embedding_dim=env.integer("FACE_EMBEDDING_DIM", 512, 1, MAX_INDEXED_DIM),
            text_embedding_dim=env.integer("TEXT_EMBEDDING_DIM", 1536, 1, MAX_INDEXED_DIM),
            face_match_max_distance=env.number("FACE_MATCH_MAX_DISTANCE", 0.4, 0.0, 2.0),
            hnsw_ef_search=env.integer("HNSW_EF_SEARCH", 100, 1, 1000),
            face_search_ef_search=env.integer("FACE_SEARCH_EF_SEARCH", 400, 1, 1000),
            signaling_backend=env.choice(  # type: ignore[arg-type]  # choice() checked it
                "SIGNALING_BACKEND", "memory", ("memory", "postgres")
            ),
            max_viewers_per_room=env.integer("MAX_VIEWERS_PER_ROOM", 4, 1, 64),
            max_rooms=env.integer("MAX_ROOMS", 1000, 1, 1_000_000),
            max_frame_bytes=env.integer("MAX_FRAME_BYTES", 64 * 1024, 1024, 16 * 1024 * 1024),
            max_messages_per_second=env.number("MAX_MESSAGES_PER_SECOND", 50.0, 1.0, 100_000.0),
            ping_timeout_seconds=env.number("PING_TIMEOUT_SECONDS", 30.0, 1.0, 3600.0),
            resume_grace_seconds=env.number("RESUME_GRACE_SECONDS", 20.0, 0.0, 3600.0),
            idle_room_seconds=env.number("IDLE_ROOM_SECONDS", 3600.0, 10.0, 30 * 86400.0),
            stun_urls=env.items("STUN_URLS"),
            turn_urls=env.items("TURN_URLS"),
            turn_secret=env.text("TURN_SECRET"),
            turn_ttl_seconds=env.integer("TURN_TTL_SECONDS", 3600, 60, 7 * 86400),
            face_model_path=env.path("FACE_MODEL_PATH"),
        )
        if (settings.tls_cert_file is None) != (settings.tls_key_file is None):
            raise SettingsError("TLS_CERT_FILE and TLS_KEY_FILE must be set together")
        if settings.pool_min_size > settings.pool_max_size:
            raise SettingsError(
                f"POOL_MIN_SIZE ({settings.pool_min_size}) must not exceed POOL_MAX_SIZE ({settings.pool_max_size})"
            )
        return settings


def _with_supabase_ssl(url: str | None) -> str | None:
    """Supabase-style hosts only accept TLS; add sslmode=require unless the URL already says."""
    if url and "supabase." in url and "sslmode=" not in url:
        return url + ("&" if "?" in url else "?") + "sslmode=require"
    return url


class _Env:
    def __init__(self, environ: Mapping[str, str], env_file: str | Path | None) -> None:
        self._values: dict[str, str] = {}
        if env_file is not None and Path(env_file).is_file():
            self._values.update(_read_env_file(Path(env_file)))
        self._values.update(environ)  # the real environment wins over .env

    def text(self, name: str) -> str | None:
        value = self._values.get(name, "").strip()
        return value or None

    def _number(self, name: str, default: T, low: T, high: T, cast: Callable[[str], T], kind: str) -> T:
        raw = self.text(name)
        if raw is None:
            return default
        try:
            value = cast(raw)
        except ValueError:
            raise SettingsError(f"{name} must be {kind} in {low}..{high}, got {raw!r}") from None
        if not (low <= value <= high):  # type: ignore[operator]
            raise SettingsError(f"{name} must be {kind} in {low}..{high}, got {raw!r}")
        return value

    def integer(self, name: str, default: int, low: int, high: int) -> int:
        return self._number(name, default, low, high, int, "an integer")

    def number(self, name: str, default: float, low: float, high: float) -> float:
        value = self._number(name, default, low, high, float, "a number")
        if value != value:  # NaN passes no range check but say so plainly
            raise SettingsError(f"{name} must be a number in {low}..{high}, got NaN")
        return value

    def items(self, name: str) -> tuple[str, ...]:
        raw = self.text(name) or ""
        return tuple(item.strip() for item in raw.split(",") if item.strip())

    def choice(self, name: str, default: str, allowed: tuple[str, ...]) -> str:
        raw = (self.text(name) or default).lower()
        if raw not in allowed:
            raise SettingsError(f"{name} must be one of {', '.join(allowed)}, got {raw!r}")
        return raw

    def path(self, name: str) -> Path | None:
        raw = self.text(name)
        return Path(raw) if raw else None


def _read_env_file(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, value = line.split("=", 1)
        key = key.strip().removeprefix("export ").strip()
        values[key] = value.strip().strip("'\"")
    return values
