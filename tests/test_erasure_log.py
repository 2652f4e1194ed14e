"""The re-erasure log: every erasure leaves one structured line (customer id, kind, counts) to replay after
a backup restore, and nothing personal beyond the customer's id."""

from __future__ import annotations

import logging

import httpx
import pytest

from api_support import FACE_DIM, add_faces, customer, ok, vector


def erasures(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "frontdesk.erasure"]


@pytest.mark.parametrize("kind", ["opt_out", "delete", "consent_withdrawn"])
async def test_each_kind_of_erasure_is_logged_once_with_its_counts(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture, kind: str
) -> None:
    person = await customer(client, consent=True, display_name="Zelda Quartermain")
    assert (await add_faces(client, person["id"], vector(FACE_DIM, 1))).status_code < 300
    caplog.set_level(logging.INFO, logger="frontdesk.erasure")
    if kind == "opt_out":
        ok(await client.post(f"/customers/{person['id']}/opt-out"))
    elif kind == "delete":
        ok(await client.delete(f"/customers/{person['id']}"))
    else:
        ok(await client.patch(f"/customers/{person['id']}", json={"consent_for_biometrics": False}))
    [record] = erasures(caplog)
    assert record.kind == kind  # type: ignore[attr-defined]
    assert record.customer_id == person["id"]  # type: ignore[attr-defined]
    assert record.erased["face_embeddings"] == 1  # type: ignore[attr-defined]
    assert "Zelda" not in record.getMessage() and "crm-" not in record.getMessage()


async def test_a_refused_erasure_logs_nothing(client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="frontdesk.erasure")
    response = await client.post("/customers/00000000-0000-4000-8000-000000000000/opt-out")
    assert response.status_code == 404
    assert erasures(caplog) == []
