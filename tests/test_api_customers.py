"""Customers and employees through the API: create, find, read, update, page; ids and conflicts."""

from __future__ import annotations

import uuid

import httpx

from api_support import add_faces, count, customer, error, ok, vector


async def test_a_customer_is_created_read_and_found_by_external_id(client: httpx.AsyncClient) -> None:
    made = await customer(client, consent=False, notes="prefers mornings")
    assert made["consent_for_biometrics"] is False and made["consent_updated_at"] is None
    assert made["opted_out_at"] is None and made["notes"] == "prefers mornings"
    assert ok(await client.get(f"/customers/{made['id']}")) == made
    found = ok(await client.get("/customers", params={"external_id": made["external_id"]}))
    assert found["items"] == [made] and found["next_offset"] is None
    assert ok(await client.get("/customers", params={"external_id": "nobody"}))["items"] == []


async def test_consent_given_at_creation_is_stamped(client: httpx.AsyncClient) -> None:
    made = await customer(client, consent=True)
    assert made["consent_for_biometrics"] is True and made["consent_updated_at"] is not None


async def test_a_taken_external_id_is_a_409_naming_the_field(client: httpx.AsyncClient) -> None:
    made = await customer(client)
    again = await client.post(
        "/customers", json={"external_id": made["external_id"], "display_name": "Other"}
    )
    err = error(again, 409, "conflict")
    assert err["detail"]["field"] == "external_id" and "external_id" in err["message"]


async def test_lists_page_with_limit_and_offset_in_creation_order(client: httpx.AsyncClient) -> None:
    made = [await customer(client) for _ in range(5)]
    first = ok(await client.get("/customers", params={"limit": 2}))
    assert [c["id"] for c in first["items"]] == [c["id"] for c in made[:2]]
    assert (first["limit"], first["offset"], first["next_offset"]) == (2, 0, 2)
    seen, offset = [], 0
    while offset is not None:
        page = ok(await client.get("/customers", params={"limit": 2, "offset": offset}))
        seen += [c["id"] for c in page["items"]]
        offset = page["next_offset"]
    assert seen == [c["id"] for c in made]


async def test_a_malformed_id_is_422_naming_the_parameter_and_an_unknown_one_404(
    client: httpx.AsyncClient,
) -> None:
    err = error(await client.get("/customers/not-a-uuid"), 422, "validation_error")
    assert err["detail"] == {"in": "path", "parameter": "customer_id"} and "customer_id" in err["message"]
    unknown = uuid.uuid4()
    err = error(await client.get(f"/customers/{unknown}"), 404, "not_found")
    assert err["detail"]["parameter"] == "customer_id" and str(unknown) in err["message"]
    error(await client.patch(f"/customers/{unknown}", json={"display_name": "X"}), 404, "not_found")
    error(await client.get(f"/employees/{unknown}"), 404, "not_found")
    error(await client.get("/employees/123"), 422, "validation_error")


async def test_an_update_changes_only_the_fields_present(client: httpx.AsyncClient) -> None:
    made = await customer(client, notes="keep me")
    updated = ok(await client.patch(f"/customers/{made['id']}", json={"display_name": "Renamed"}))
    assert updated["display_name"] == "Renamed" and updated["notes"] == "keep me"
    assert updated["consent_updated_at"] == made["consent_updated_at"]
    cleared = ok(await client.patch(f"/customers/{made['id']}", json={"notes": None}))
    assert cleared["notes"] is None and cleared["display_name"] == "Renamed"


async def test_withdrawing_consent_by_update_stamps_it_and_erases_the_faces(
    client: httpx.AsyncClient, database_url: str
) -> None:
    made = await customer(client, consent=True)
    ok(await add_faces(client, made["id"], vector(512, 1), vector(512, 2)))
    assert await count(database_url, "customer_face_embeddings", made["id"]) == 2
    withdrawn = ok(await client.patch(f"/customers/{made['id']}", json={"consent_for_biometrics": False}))
    assert withdrawn["consent_for_biometrics"] is False
    assert withdrawn["consent_updated_at"] > made["consent_updated_at"]
    assert await count(database_url, "customer_face_embeddings", made["id"]) == 0
    error(await add_faces(client, made["id"], vector(512, 3)), 409, "consent_required")


async def test_unknown_fields_are_refused_with_their_path(client: httpx.AsyncClient) -> None:
    err = error(
        await client.post("/customers", json={"external_id": "x", "display_name": "y", "consent": True}),
        422,
        "validation_error",
    )
    assert "consent" in err["message"] and err["detail"]["path"] == "$"
    made = await customer(client)
    error(
        await client.patch(f"/customers/{made['id']}", json={"opted_out_at": None}), 422, "validation_error"
    )


async def test_text_fields_are_checked_at_the_edge(client: httpx.AsyncClient) -> None:
    err = error(await client.post("/customers", json={"external_id": "", "display_name": "y"}), 422)
    assert err["detail"]["path"] == "$.external_id"
    err = error(await client.post("/customers", json={"external_id": "x", "display_name": "a\u0000b"}), 422)
    assert err["detail"]["path"] == "$.display_name"
    err = error(await client.post("/customers", json={"external_id": "x" * 257, "display_name": "y"}), 422)
    assert err["detail"]["path"] == "$.external_id"


async def test_employees_are_created_found_updated_and_paged(client: httpx.AsyncClient) -> None:
    made = ok(await client.post("/employees", json={"external_id": "emp-a", "display_name": "Ana"}), 201)
    assert ok(await client.get(f"/employees/{made['id']}")) == made
    assert ok(await client.get("/employees", params={"external_id": "emp-a"}))["items"] == [made]
    updated = ok(await client.patch(f"/employees/{made['id']}", json={"notes": "team lead"}))
    assert updated["notes"] == "team lead" and updated["display_name"] == "Ana"
    error(
        await client.post("/employees", json={"external_id": "emp-a", "display_name": "B"}), 409, "conflict"
    )
    ok(await client.post("/employees", json={"external_id": "emp-b", "display_name": "Bo"}), 201)
    page = ok(await client.get("/employees", params={"limit": 1}))
    assert len(page["items"]) == 1 and page["next_offset"] == 1
