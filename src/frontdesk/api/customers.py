"""Customers: create, find, read, update (consent changes included)."""

from __future__ import annotations

import uuid
from typing import Any

from frontdesk.api import erasure_log
from frontdesk.api import schemas as s
from frontdesk.api.endpoint import Call, Endpoint, found, page
from frontdesk.db import Database

CONFLICT = "external_id is taken by another customer"


async def create_customer(call: Call[s.CustomerCreate, None]) -> Any:
    """Create a customer

    Consent given here is stamped with consent_updated_at.
    """
    body = call.body
    return await call.db.fetch_one(
        "create_customer",
        {
            "external_id": body.external_id,
            "display_name": body.display_name,
            "consent_for_biometrics": body.consent_for_biometrics,
            "notes": body.notes,
        },
    )


async def list_customers(call: Call[None, s.CustomerListQuery]) -> Any:
    """List customers

    In creation order; `?external_id=` finds the one customer with that id in your CRM (an empty page when
    there is none).
    """
    q = call.query
    rows = await call.db.fetch_all(
        "list_customers", {"external_id": q.external_id, "limit": q.limit + 1, "offset": q.offset}
    )
    return page(rows, q.limit, q.offset)


async def get_customer(call: Call[None, None]) -> Any:
    """Get a customer"""
    customer_id = call.ids["customer_id"]
    return found(
        await call.db.fetch_one("get_customer", {"id": customer_id}), "customer", "customer_id", customer_id
    )


async def update_customer(call: Call[s.CustomerUpdate, None]) -> Any:
    """Update a customer

    Only the fields present change. A consent change is stamped (consent_updated_at). Withdrawing consent
    (`consent_for_biometrics: false`) erases the customer's face embeddings in the same transaction: no
    biometrics are kept without consent. Giving consent (`true`) lifts an earlier opt-out.
    """
    body, customer_id = call.body, call.ids["customer_id"]
    consent = s.given(body.consent_for_biometrics)
    async with call.db.transaction() as tx:
        row = await tx.fetch_one(
            "update_customer",
            {
                "id": customer_id,
                "external_id": s.given(body.external_id),
                "display_name": s.given(body.display_name),
                "set_notes": s.present(body.notes),
                "notes": s.given(body.notes),
                "consent": consent,
            },
        )
        found(row, "customer", "customer_id", customer_id)
        if consent is False:
            faces = await tx.execute("delete_customer_faces", {"customer_id": customer_id})
    if consent is False:
        erasure_log.record("consent_withdrawn", customer_id, {"face_embeddings": faces})
    return row


async def customer_page(db: Database, query: str, customer_id: uuid.UUID, q: s.PageQuery) -> Any:
    """A page of one of a customer's lists (`query`); 404 when the customer does not exist."""
    async with db.transaction() as tx:
        found(
            await tx.fetch_one("customer_exists", {"id": customer_id}), "customer", "customer_id", customer_id
        )
        rows = await tx.fetch_all(
            query, {"customer_id": customer_id, "limit": q.limit + 1, "offset": q.offset}
        )
    return page(rows, q.limit, q.offset)


ENDPOINTS = [
    Endpoint(
        "POST",
        "/customers",
        create_customer,
        s.Customer,
        "customers",
        body=s.CustomerCreate,
        status=201,
        conflict=CONFLICT,
    ),
    Endpoint("GET", "/customers", list_customers, s.Page[s.Customer], "customers", query=s.CustomerListQuery),
    Endpoint("GET", "/customers/{customer_id}", get_customer, s.Customer, "customers"),
    Endpoint(
        "PATCH",
        "/customers/{customer_id}",
        update_customer,
        s.Customer,
        "customers",
        body=s.CustomerUpdate,
        conflict=CONFLICT,
    ),
]
