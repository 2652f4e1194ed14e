"""Settings: read once, typed, and a bad value stops the start naming the variable and the allowed range."""

from __future__ import annotations

from pathlib import Path

import pytest

from frontdesk.settings import Settings, SettingsError


def test_defaults_match_the_documented_ones() -> None:
    settings = Settings.from_env({}, env_file=None)
    assert settings.database_url is None and settings.embedded_database
    assert (settings.host, settings.port) == ("0.0.0.0", 8000)
    assert (settings.face_embedding_dim, settings.text_embedding_dim) == (512, 1536)
    assert settings.cors_origins == ()


@pytest.mark.parametrize("value", ["0", "2001", "abc", "512.5", "-3"])
def test_a_bad_dimension_names_the_variable_and_the_range(value: str) -> None:
    with pytest.raises(SettingsError) as err:
        Settings.from_env({"FACE_EMBEDDING_DIM": value}, env_file=None)
    assert "FACE_EMBEDDING_DIM" in str(err.value)
    assert "1..2000" in str(err.value)


def test_lists_are_comma_separated_and_star_only_when_given() -> None:
    settings = Settings.from_env(
        {"CORS_ORIGINS": "https://a.example, https://b.example", "API_TOKENS": "t1,t2"}, env_file=None
    )
    assert settings.cors_origins == ("https://a.example", "https://b.example")
    assert settings.api_tokens == ("t1", "t2")
    assert Settings.from_env({"CORS_ORIGINS": "*"}, env_file=None).cors_origins == ("*",)


def test_supabase_urls_get_sslmode_require() -> None:
    url = "postgresql://u:p@db.abc.supabase.co:5432/postgres"
    assert Settings.from_env({"DATABASE_URL": url}, env_file=None).database_url == url + "?sslmode=require"
    other = "postgresql://u:p@localhost/x"
    assert Settings.from_env({"DATABASE_URL": other}, env_file=None).database_url == other


def test_env_file_is_read_and_the_environment_wins(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("# comment\nPORT=9000\nexport TEXT_EMBEDDING_DIM='384'\nHOST=127.0.0.1\n")
    settings = Settings.from_env({"PORT": "9100"}, env_file=env_file)
    assert (settings.port, settings.text_embedding_dim, settings.host) == (9100, 384, "127.0.0.1")


def test_tls_files_come_in_pairs() -> None:
    with pytest.raises(SettingsError, match="TLS_CERT_FILE and TLS_KEY_FILE"):
        Settings.from_env({"TLS_CERT_FILE": "/x.pem"}, env_file=None)
