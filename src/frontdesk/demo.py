"""`python -m frontdesk demo`: the pipeline test as a command.

Serves the app on a loopback port (on the embedded database when DATABASE_URL is unset), then, through the
real HTTP API, creates deterministic data (fixed seed), runs face and memory search, shows consent gating,
consent withdrawal and opt-out, and prints what it did and found. Every step checks its outcome; the command
exits non-zero when one is not as expected. A rerun first erases what the previous run left.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any

import msgspec
import numpy as np
import numpy.typing as npt
import uvicorn

from frontdesk import local
from frontdesk.settings import Settings

SEED = 2026
PREFIX = "demo-"
PEOPLE = {  # external_id suffix: (display name, consents to biometrics)
    "ada": ("Ada Lovelace", True),
    "ben": ("Ben Okafor", True),
    "cleo": ("Cleo Martin", False),
    "dan": ("Dan Kowalski", True),
    "eve": ("Eve Tanaka", True),
}
MEMORIES = {
    "ada": [
        ("running", "Training for the Berlin marathon in September"),
        ("food", "Allergic to hazelnuts"),
        ("family", "Her daughter starts school in May"),
    ],
    "ben": [("coffee", "Takes his espresso without sugar"), ("travel", "Back from a month in Lagos")],
    "dan": [("running", "Walks his dog every morning"), ("coffee", "Likes a flat white with oat milk")],
}
TOPICS = ["running", "food", "family", "coffee", "travel"]


class DemoFailed(Exception):
    """A step's outcome was not what the demo expects."""


def check(condition: bool, what: str) -> None:
    if not condition:
        raise DemoFailed(what)


@dataclass
class Api:
    """A minimal JSON client (standard library only: the demo needs no test dependencies)."""

    base_url: str
    token: str
    calls: int = 0

    def _send(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.base_url + path,
            data=data,
            method=method,
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # loopback only
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())

    async def call(self, method: str, path: str, body: Any = None, expect: int = 200) -> Any:
        self.calls += 1
        status, payload = await asyncio.to_thread(self._send, method, path, body)
        check(status == expect, f"{method} {path}: expected {expect}, got {status}: {payload}")
        return payload


@dataclass
class Vectors:
    """Deterministic embeddings: one identity per person (faces are it plus noise), one per topic (texts)."""

    face_dim: int
    text_dim: int
    rng: np.random.Generator = field(default_factory=lambda: np.random.default_rng(SEED))

    def __post_init__(self) -> None:
        self.identities = {key: self._unit(self.face_dim) for key in PEOPLE}
        self.topics = {topic: self._unit(self.text_dim) for topic in TOPICS}

    def _unit(self, dim: int) -> npt.NDArray[np.float64]:
        v = self.rng.standard_normal(dim)
        return v / np.linalg.norm(v)

    def near(self, base: npt.NDArray[np.float64], noise: float) -> list[float]:
        v = base + noise * self.rng.standard_normal(base.size) / np.sqrt(base.size)
        return [round(float(x), 7) for x in v / np.linalg.norm(v)]

    def face(self, key: str) -> list[float]:
        return self.near(self.identities[key], 0.15)

    def text(self, topic: str) -> list[float]:
        return self.near(self.topics[topic], 0.3)


def say(line: str) -> None:
    print(line, flush=True)


async def forget_previous_run(api: Api) -> None:
    removed = 0
    for key in PEOPLE:
        page = await api.call("GET", f"/customers?external_id={PREFIX}{key}")
        for old in page["items"]:
            await api.call("DELETE", f"/customers/{old['id']}")
            removed += 1
    if removed:
        say(f"  erased {removed} customers left by an earlier demo run (DELETE /customers/{{id}})")


async def face_search(api: Api, probe: list[float]) -> list[dict[str, Any]]:
    result = await api.call("POST", "/search/face", {"embedding": probe, "limit": 3})
    return result["matches"]  # type: ignore[no-any-return]


def describe(matches: list[dict[str, Any]]) -> str:
    if not matches:
        return "no match"
    return ", ".join(f"{m['customer']['display_name']} (distance {m['distance']:.3f})" for m in matches)


async def run(api: Api, vectors: Vectors) -> None:
    await forget_previous_run(api)

    say("customers")
    people: dict[str, dict[str, Any]] = {}
    for key, (name, consent) in PEOPLE.items():
        people[key] = await api.call(
            "POST",
            "/customers",
            {"external_id": PREFIX + key, "display_name": name, "consent_for_biometrics": consent},
            expect=201,
        )
    say(
        "  created "
        + ", ".join(
            f"{PEOPLE[k][0]} ({'consents' if c['consent_for_biometrics'] else 'no biometric consent'})"
            for k, c in people.items()
        )
    )

    say("face embeddings (consent-gated)")
    batches = {
        key: {"items": [{"embedding": vectors.face(key), "model_name": "demo-face-v1"} for _ in range(3)]}
        for key in PEOPLE
    }
    created = 0
    for key in ("ada", "ben", "dan", "eve"):
        created += (await api.call("POST", f"/customers/{people[key]['id']}/faces", batches[key]))["created"]
    check(created == 12, f"expected 12 face embeddings created, got {created}")
    say(f"  stored 3 each for Ada, Ben, Dan and Eve: {created} created in 4 batches")
    retry = await api.call("POST", f"/customers/{people['ada']['id']}/faces", batches["ada"])
    check((retry["created"], retry["existing"]) == (0, 3), f"a retried batch created rows: {retry}")
    say(
        f"  re-sent Ada's batch: {retry['created']} created, {retry['existing']} already present (idempotent)"
    )
    refused = await api.call("POST", f"/customers/{people['cleo']['id']}/faces", batches["cleo"], expect=409)
    check(refused["error"]["code"] == "consent_required", f"Cleo's faces: {refused}")
    say(f"  Cleo's batch refused: 409 {refused['error']['code']}")
    await api.call("PATCH", f"/customers/{people['eve']['id']}", {"consent_for_biometrics": False})
    eve_faces = await api.call("GET", f"/customers/{people['eve']['id']}/faces")
    check(eve_faces["items"] == [], "Eve's faces survived her consent withdrawal")
    say("  Eve withdrew consent (PATCH consent_for_biometrics=false): her 3 face embeddings were erased")

    say("face search (POST /search/face)")
    for key, expected in (("ada", "ada"), ("ben", "ben"), ("cleo", None), ("eve", None)):
        matches = await face_search(api, vectors.face(key))
        best = matches[0]["customer"]["id"] if matches else None
        check(best == (people[expected]["id"] if expected else None), f"face search for {key}: {matches}")
        say(f"  a new photo of {PEOPLE[key][0]}: {describe(matches)}")

    say("memories and preferences")
    for key, items in MEMORIES.items():
        batch = [
            {"nugget": text, "embedding": vectors.text(topic), "model_name": "demo-text-v1"}
            for topic, text in items
        ]
        await api.call("POST", f"/customers/{people[key]['id']}/memories", {"items": batch})
    await api.call(
        "POST",
        f"/customers/{people['ada']['id']}/preferences",
        {
            "items": [
                {"kind": "drink", "value": "green tea", "category": "beverage"},
                {"kind": "seat", "value": "by the window"},
            ]
        },
    )
    await api.call(
        "POST",
        f"/customers/{people['dan']['id']}/preferences",
        {"items": [{"kind": "drink", "value": "oat flat white"}]},
    )
    say(f"  stored {sum(len(v) for v in MEMORIES.values())} memories for Ada, Ben and Dan; 3 preferences")
    everyone = await api.call("POST", "/search/memory", {"embedding": vectors.text("running"), "limit": 2})
    found = [(m["customer"]["display_name"], m["memory"]["nugget"]) for m in everyone["matches"]]
    check({name for name, _ in found} == {"Ada Lovelace", "Dan Kowalski"}, f"memory search: {found}")
    say("  'running' across everyone: " + "; ".join(f"{n}: {t!r}" for n, t in found))
    ada_only = await api.call(
        "POST",
        f"/search/memory?customer_id={people['ada']['id']}",
        {"embedding": vectors.text("food"), "limit": 1},
    )
    top = ada_only["matches"][0]["memory"]["nugget"]
    check(top == "Allergic to hazelnuts", f"Ada's memory search: {ada_only}")
    say(f"  'food' for Ada only: {top!r}")

    say("context (GET /customers/{id}/context)")
    staff = await employee(api)
    await visit_of(api, staff, people["ada"])
    context = await api.call("GET", f"/customers/{people['ada']['id']}/context")
    notes = sum(len(s["coaching_notes"]) for s in context["recent_sessions"])
    check(len(context["recent_memories"]) == 3 and len(context["preferences"]) == 2, "Ada's context")
    say(
        f"  Ada: {len(context['preferences'])} preferences, {len(context['recent_memories'])} memories, "
        f"{len(context['recent_sessions'])} session with {notes} coaching note, "
        f"{context['face_embeddings']} faces"
    )

    say("opt-out (POST /customers/{id}/opt-out)")
    out = await api.call("POST", f"/customers/{people['dan']['id']}/opt-out")
    erased = out["erased"]
    check(erased == {"face_embeddings": 3, "memories": 2, "preferences": 1}, f"Dan's opt-out erased {erased}")
    say(
        f"  Dan opted out: erased {erased['face_embeddings']} face embeddings, "
        f"{erased['memories']} memories, "
        f"{erased['preferences']} preference"
    )
    matches = await face_search(api, vectors.face("dan"))
    check(all(m["customer"]["id"] != people["dan"]["id"] for m in matches), "Dan still found by face")
    say(f"  a new photo of Dan: {describe(matches)}")
    refused = await api.call(
        "POST",
        f"/customers/{people['dan']['id']}/memories",
        {
            "items": [
                {
                    "nugget": "Asked about gift cards",
                    "embedding": vectors.text("coffee"),
                    "model_name": "demo-text-v1",
                }
            ]
        },
        expect=409,
    )
    say(f"  a new memory for Dan: 409 {refused['error']['code']}")


async def employee(api: Api) -> dict[str, Any]:
    page = await api.call("GET", f"/employees?external_id={PREFIX}staff")
    if page["items"]:
        return page["items"][0]  # type: ignore[no-any-return]
    return await api.call(  # type: ignore[no-any-return]
        "POST",
        "/employees",
        {"external_id": PREFIX + "staff", "display_name": "Sam (front desk)"},
        expect=201,
    )


async def visit_of(api: Api, staff: dict[str, Any], customer: dict[str, Any]) -> dict[str, Any]:
    """Ada's visit: a session with a transcript and a coaching note (reused by a rerun: keys are unique)."""
    sessions = (await api.call("GET", f"/sessions?employee_id={staff['id']}&limit=200"))["items"]
    visit = next((s for s in sessions if s["session_key"] == PREFIX + "visit-ada"), None)
    if visit is None:
        visit = await api.call(
            "POST",
            "/sessions",
            {"employee_id": staff["id"], "session_key": PREFIX + "visit-ada", "metadata": {"desk": 1}},
            expect=201,
        )
    await api.call("POST", f"/sessions/{visit['id']}/customer", {"customer_id": customer["id"]})
    await api.call(
        "POST",
        f"/sessions/{visit['id']}/transcript",
        {
            "chunks": [
                {"chunk_index": 0, "content": "Good morning! The usual green tea?"},
                {"chunk_index": 1, "content": "Yes please, and how was the long run?"},
            ]
        },
    )
    if not (await api.call("GET", f"/sessions/{visit['id']}/coaching-notes"))["items"]:
        await api.call(
            "POST",
            f"/sessions/{visit['id']}/coaching-notes",
            {"content": "Ask how the marathon training is going."},
            expect=201,
        )
    return await api.call("POST", f"/sessions/{visit['id']}/end")  # type: ignore[no-any-return]


async def serve_and_run(settings: Settings) -> None:
    from frontdesk.app import create_app

    config = uvicorn.Config(
        create_app(settings), host="127.0.0.1", port=0, log_level="warning", lifespan="on"
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    for _ in range(3000):  # bounded: at most ~60 s for migrations and the pool
        if server.started or task.done():
            break
        await asyncio.sleep(0.02)
    if not server.started:
        if task.done():
            task.result()  # raises the startup error
        raise DemoFailed("the app did not start")
    port = server.servers[0].sockets[0].getsockname()[1]
    api = Api(f"http://127.0.0.1:{port}", settings.api_tokens[0])
    try:
        vectors = Vectors(settings.face_embedding_dim, settings.text_embedding_dim)
        await run(api, vectors)
        say(f"ok: every step as expected ({api.calls} API calls on {api.base_url})")
    finally:
        server.should_exit = True
        await task


def main(settings: Settings) -> None:
    prepared, embedded = local.prepare(settings)
    if not prepared.api_tokens:  # an external database without API_TOKENS: a token for this process only
        prepared = msgspec.structs.replace(prepared, api_tokens=(secrets.token_urlsafe(32),))
    prepared = msgspec.structs.replace(prepared, tls="off", host="127.0.0.1", port=0)
    where = f"the embedded database in {prepared.data_dir / 'postgres'}" if embedded else "DATABASE_URL"
    say(
        f"frontdesk demo: seed {SEED}, {prepared.face_embedding_dim}-d faces, "
        f"{prepared.text_embedding_dim}-d texts, on {where}"
    )
    try:
        asyncio.run(serve_and_run(prepared))
    except DemoFailed as exc:
        sys.exit(f"demo failed: {exc}")
    finally:
        if embedded is not None:
            embedded.stop()
