"""The re-erasure log: one structured log line per erasure, for replay after a backup restore.

A restore brings back people who were erased after the backup was taken. The record of those erasures must
therefore live *outside* the database: each erasure is logged on the `frontdesk.erasure` logger with the
customer id, the kind and what was erased — no other personal data. Ship these lines to a store whose
retention is at least the backups' and replay them after a restore (docs/deploy.md).
"""

from __future__ import annotations

import logging
import uuid
from typing import Literal

log = logging.getLogger("frontdesk.erasure")

Kind = Literal["opt_out", "delete", "consent_withdrawn"]


def record(kind: Kind, customer_id: uuid.UUID, erased: dict[str, int]) -> None:
    """Call after the erasing transaction committed."""
    log.info(
        "erasure %s of customer %s",
        kind,
        customer_id,
        extra={"event": "erasure", "kind": kind, "customer_id": str(customer_id), "erased": erased},
    )
