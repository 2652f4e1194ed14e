"""Employees: the staff whose sessions these are."""

from __future__ import annotations

from typing import Any

from frontdesk.api import schemas as s
from frontdesk.api.endpoint import Call, Endpoint, found, page

CONFLICT = "external_id is taken by another employee"


async def create_employee(call: Call[s.EmployeeCreate, None]) -> Any:
    """Create an employee"""
    body = call.body
    return await call.db.fetch_one(
        "create_employee",
        {"external_id": body.external_id, "display_name": body.display_name, "notes": body.notes},
    )


async def list_employees(call: Call[None, s.EmployeeListQuery]) -> Any:
    """List employees

    In creation order; `?external_id=` finds one.
    """
    q = call.query
    rows = await call.db.fetch_all(
        "list_employees", {"external_id": q.external_id, "limit": q.limit + 1, "offset": q.offset}
    )
    return page(rows, q.limit, q.offset)


async def get_employee(call: Call[None, None]) -> Any:
    """Get an employee"""
    employee_id = call.ids["employee_id"]
    return found(
        await call.db.fetch_one("get_employee", {"id": employee_id}), "employee", "employee_id", employee_id
    )


async def update_employee(call: Call[s.EmployeeUpdate, None]) -> Any:
    """Update an employee

    Only the fields present change.
    """
    body, employee_id = call.body, call.ids["employee_id"]
    row = await call.db.fetch_one(
        "update_employee",
        {
            "id": employee_id,
            "external_id": s.given(body.external_id),
            "display_name": s.given(body.display_name),
            "set_notes": s.present(body.notes),
            "notes": s.given(body.notes),
        },
    )
    return found(row, "employee", "employee_id", employee_id)


ENDPOINTS = [
    Endpoint(
        "POST",
        "/employees",
        create_employee,
        s.Employee,
        "employees",
        body=s.EmployeeCreate,
        status=201,
        conflict=CONFLICT,
    ),
    Endpoint("GET", "/employees", list_employees, s.Page[s.Employee], "employees", query=s.EmployeeListQuery),
    Endpoint("GET", "/employees/{employee_id}", get_employee, s.Employee, "employees"),
    Endpoint(
        "PATCH",
        "/employees/{employee_id}",
        update_employee,
        s.Employee,
        "employees",
        body=s.EmployeeUpdate,
        conflict=CONFLICT,
    ),
]
