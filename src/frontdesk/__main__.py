"""`python -m frontdesk serve | migrate | demo | token`."""

from __future__ import annotations

import argparse
import gc
import signal
import sys

from frontdesk import migrations, observability
from frontdesk.settings import Settings, SettingsError


def _serve(settings: Settings) -> None:
    import uvicorn

    from frontdesk import local, tls
    from frontdesk.app import create_app

    # uvicorn shuts down gracefully on SIGTERM, then re-raises the signal to the handler it found. Python's
    # default handler would kill the process there (exit 143) and leave the embedded Postgres running; as a
    # KeyboardInterrupt it ends this function through `finally` (and a SIGTERM during startup does too).
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    generated_token = not settings.api_tokens
    settings, server = local.prepare(settings, serving=True)
    try:
        assert settings.database_url is not None
        migrations.migrate(settings.database_url, settings.face_embedding_dim, settings.text_embedding_dim)
        migrations.check_dimensions(settings.database_url, settings.face_embedding_dim, settings.text_embedding_dim)
        ssl = tls.certificate_files(settings)
        app = create_app(settings)
        _tune_gc()
        scheme = "https" if ssl else "http"
        for line in tls.banner(settings, scheme, show_token=generated_token):
            print(line, flush=True)
        config = uvicorn.Config(
            app,
            host=settings.host,
            port=settings.port,
            log_level=settings.log_level,
            ssl_certfile=str(ssl[0]) if ssl else None,
            ssl_keyfile=str(ssl[1]) if ssl else None,
            ws_max_size=settings.max_frame_bytes,
            timeout_graceful_shutdown=10,
            proxy_headers=False,
            log_config=None,  # our handlers (text or JSON) format uvicorn's records too
        )
        uvicorn.Server(config).run()
    except KeyboardInterrupt:
        pass  # Ctrl-C or SIGTERM: uvicorn has shut down gracefully; stop the database below
    finally:
        if server is not None:
            server.stop()


def _tune_gc() -> None:
    """Keep full garbage-collector passes off the signaling relay's latency.

    With thousands of sockets the heap holds hundreds of thousands of tracked objects and every full pass
    stops the event loop while it walks them (up to 256 ms measured at 1,000 rooms, docs/benchmarks.md).
    Freezing what start-up made (modules, the app) takes it out of every pass, and a larger first threshold
    makes passes rarer: in the same bench, no full pass ran and the longest pause was 83 ms.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 10)


def _migrate(settings: Settings) -> None:
    from frontdesk import local

    settings, server = local.prepare(settings)
    try:
        assert settings.database_url is not None
        applied = migrations.migrate(
            settings.database_url, settings.face_embedding_dim, settings.text_embedding_dim
        )
        migrations.check_dimensions(settings.database_url, settings.face_embedding_dim, settings.text_embedding_dim)
        print(f"applied {', '.join(applied)}" if applied else "schema is current")
    finally:
        if server is not None:
            server.stop()


def _token(settings: Settings) -> None:
    from frontdesk import local

    print(settings.api_tokens[0] if settings.api_tokens else local.load_or_create_token(settings.data_dir))


def _demo(settings: Settings) -> None:
    from frontdesk import demo

    demo.main(settings)


COMMANDS = {"serve": _serve, "migrate": _migrate, "demo": _demo, "token": _token}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="frontdesk", description=__doc__)
    parser.add_argument("command", choices=sorted(COMMANDS), help="what to do")
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        sys.exit(f"frontdesk: bad setting: {exc}")
    observability.configure_logging(settings.log_level, json_logs=settings.log_format == "json")
    try:
        COMMANDS[args.command](settings)
    except SettingsError as exc:
        sys.exit(f"frontdesk: bad setting: {exc}")
    except migrations.SchemaMismatch as exc:
        sys.exit(f"frontdesk: {exc}")


if __name__ == "__main__":
    main()
