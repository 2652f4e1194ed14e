"""Every request and response body of the data API, as msgspec Structs.

Request bodies (`Body` subclasses) refuse unknown fields, so a typo is a 422 rather than a silently ignored
value. Query strings are Structs too (`Query`), decoded leniently from strings but just as strict about names:
a misspelt `?customerid=` must not turn a filtered search into an unfiltered one. Vector fields are
`FaceVector` / `TextVector` (see `vectors.py`), sized from the settings. The same Structs generate the
OpenAPI document, so the contract and the validation cannot drift apart.
"""

from __future__ import annotations

import datetime
import uuid
from typing import Annotated, Any, Generic, TypeVar

from msgspec import UNSET, Meta, Struct, UnsetType

from frontdesk.api.vectors import FaceVector, TextVector

T = TypeVar("T")

# Postgres text cannot hold NUL characters; refusing them here keeps that a 422 naming the field.
_NO_NUL = r"^[^\x00]*$"
Key = Annotated[str, Meta(min_length=1, max_length=256, pattern=_NO_NUL)]
Name = Annotated[str, Meta(min_length=1, max_length=256, pattern=_NO_NUL)]
Notes = Annotated[str, Meta(max_length=10_000, pattern=_NO_NUL)]
Nugget = Annotated[str, Meta(min_length=1, max_length=10_000, pattern=_NO_NUL)]
Chunk = Annotated[str, Meta(max_length=100_000, pattern=_NO_NUL)]
IdempotencyHash = Annotated[
    str,
    Meta(
        min_length=1,
        max_length=256,
        pattern=_NO_NUL,
        description="Re-sending an item with the same hash for the same customer creates no second copy. "
        "Omitted: derived from the item's content (sha256).",
    ),
]
Timestamp = Annotated[datetime.datetime, Meta(tz=True, description="RFC 3339 with a UTC offset")]
ChunkIndex = Annotated[int, Meta(ge=0, le=2**31 - 1)]
Distance = Annotated[float, Meta(ge=0.0, le=2.0, description="cosine distance, 0 (same direction) .. 2")]
SearchLimit = Annotated[int, Meta(ge=1, le=100)]
MAX_BATCH = 1000


def given(value: T | UnsetType) -> T | None:
    """An update field's value, or None when it was left out."""
    return None if isinstance(value, UnsetType) else value


def present(value: object) -> bool:
    return not isinstance(value, UnsetType)


class Body(Struct, forbid_unknown_fields=True):
    """A request body: unknown fields are an error."""


class Query(Struct, forbid_unknown_fields=True):
    """A query string: unknown parameters are an error."""


# ---- errors ---------------------------------------------------------------------------------------------


class ErrorInfo(Struct):
    code: str
    message: str
    detail: Any = None


class Error(Struct):
    """The one error shape: `detail.path` is the JSON path of a bad body field; `detail.parameter` and
    `detail.in` name a bad path or query parameter."""

    error: ErrorInfo


# ---- paging ---------------------------------------------------------------------------------------------


class PageQuery(Query):
    limit: Annotated[int, Meta(ge=1, le=200)] = 50
    offset: Annotated[int, Meta(ge=0, le=1_000_000_000)] = 0


class Page(Struct, Generic[T]):
    """A page of a list in a stable order; `next_offset` is null on the last page."""

    items: list[T]
    limit: int
    offset: int
    next_offset: int | None


# ---- customers ------------------------------------------------------------------------------------------


class CustomerCreate(Body):
    external_id: Key
    display_name: Name
    consent_for_biometrics: bool = False
    notes: Notes | None = None


class CustomerUpdate(Body):
    """Only the fields present change. `consent_for_biometrics: false` also erases the customer's face
    embeddings; `true` lifts an earlier opt-out."""

    external_id: Key | UnsetType = UNSET
    display_name: Name | UnsetType = UNSET
    consent_for_biometrics: bool | UnsetType = UNSET
    notes: Notes | None | UnsetType = UNSET


class CustomerListQuery(PageQuery):
    external_id: Key | None = None


class Customer(Struct):
    id: uuid.UUID
    external_id: str
    display_name: str
    consent_for_biometrics: bool
    notes: str | None
    consent_updated_at: Timestamp | None
    opted_out_at: Timestamp | None
    created_at: Timestamp


class CustomerSummary(Struct):
    id: uuid.UUID
    external_id: str
    display_name: str


class Erased(Struct):
    face_embeddings: int
    memories: int
    preferences: int


class OptOutResult(Struct):
    customer: Customer
    erased: Erased


class ErasureResult(Struct):
    customer_id: uuid.UUID
    face_embeddings: int
    memories: int
    preferences: int
    transcript_chunks: int
    sessions_detached: int


# ---- employees ------------------------------------------------------------------------------------------


class EmployeeCreate(Body):
    external_id: Key
    display_name: Name
    notes: Notes | None = None


class EmployeeUpdate(Body):
    external_id: Key | UnsetType = UNSET
    display_name: Name | UnsetType = UNSET
    notes: Notes | None | UnsetType = UNSET


class EmployeeListQuery(PageQuery):
    external_id: Key | None = None


class Employee(Struct):
    id: uuid.UUID
    external_id: str
    display_name: str
    notes: str | None
    created_at: Timestamp


# ---- sessions, transcripts, coaching notes --------------------------------------------------------------


class SessionCreate(Body):
    employee_id: uuid.UUID
    session_key: Key
    customer_id: uuid.UUID | None = None
    metadata: dict[str, Any] = {}
    started_at: Timestamp | None = None


class SessionListQuery(PageQuery):
    employee_id: uuid.UUID | None = None
    customer_id: uuid.UUID | None = None


class SessionAttach(Body):
    """The customer this session is with; null detaches."""

    customer_id: uuid.UUID | None


class SessionEnd(Body):
    """Ending an ended session keeps its first end time."""

    ended_at: Timestamp | None = None


class Session(Struct):
    id: uuid.UUID
    employee_id: uuid.UUID
    session_key: str
    customer_id: uuid.UUID | None
    metadata: dict[str, Any]
    started_at: Timestamp
    ended_at: Timestamp | None
    created_at: Timestamp


class TranscriptChunkIn(Body):
    chunk_index: ChunkIndex
    content: Chunk


class TranscriptBatch(Body):
    """Appended all-or-nothing; a chunk_index already stored with the same content counts as present,
    with different content it is a 409 for the whole batch."""

    chunks: Annotated[list[TranscriptChunkIn], Meta(min_length=1, max_length=MAX_BATCH)]


class TranscriptQuery(Query):
    after_index: Annotated[int, Meta(ge=-1, le=2**31 - 1)] = -1
    limit: Annotated[int, Meta(ge=1, le=1000)] = 200


class TranscriptChunk(Struct):
    id: int
    session_id: uuid.UUID
    chunk_index: int
    content: str
    created_at: Timestamp


class TranscriptPage(Struct):
    """Chunks in chunk_index order; pass `next_after_index` as `after_index` for the next page."""

    items: list[TranscriptChunk]
    next_after_index: int | None


class TranscriptItemResult(Struct):
    index: int
    chunk_index: int
    id: int
    created: bool


class TranscriptBatchResult(Struct):
    created: int
    existing: int
    items: list[TranscriptItemResult]


class CoachingNoteCreate(Body):
    content: Nugget


class CoachingNote(Struct):
    id: int
    session_id: uuid.UUID
    content: str
    created_at: Timestamp


# ---- biometrics, memories, preferences ------------------------------------------------------------------


class FaceEmbeddingIn(Body):
    embedding: FaceVector
    model_name: Key
    source_session_id: uuid.UUID | None = None
    idempotency_hash: IdempotencyHash | None = None


class FaceBatch(Body):
    items: Annotated[list[FaceEmbeddingIn], Meta(min_length=1, max_length=MAX_BATCH)]


class FaceEmbedding(Struct):
    """A stored face embedding's record; the vector itself is never sent back out."""

    id: int
    customer_id: uuid.UUID
    model_name: str
    source_session_id: uuid.UUID | None
    idempotency_hash: str | None
    created_at: Timestamp


class MemoryIn(Body):
    nugget: Nugget
    embedding: TextVector
    model_name: Key
    source_session_id: uuid.UUID | None = None
    idempotency_hash: IdempotencyHash | None = None


class MemoryBatch(Body):
    items: Annotated[list[MemoryIn], Meta(min_length=1, max_length=MAX_BATCH)]


class Memory(Struct):
    id: int
    customer_id: uuid.UUID
    nugget: str
    model_name: str
    source_session_id: uuid.UUID | None
    idempotency_hash: str | None
    created_at: Timestamp


class PreferenceIn(Body):
    kind: Key
    value: Notes
    category: Key | None = None
    source_session_id: uuid.UUID | None = None
    idempotency_hash: IdempotencyHash | None = None


class PreferenceBatch(Body):
    items: Annotated[list[PreferenceIn], Meta(min_length=1, max_length=MAX_BATCH)]


class Preference(Struct):
    id: int
    customer_id: uuid.UUID
    kind: str
    value: str
    category: str | None
    source_session_id: uuid.UUID | None
    idempotency_hash: str | None
    created_at: Timestamp


class BatchItemResult(Struct):
    """`index` is the item's position in the request; `created` is false when it was already stored."""

    index: int
    id: int
    idempotency_hash: str
    created: bool


class BatchResult(Struct):
    created: int
    existing: int
    items: list[BatchItemResult]


# ---- search ---------------------------------------------------------------------------------------------


class FaceSearch(Body):
    """`max_distance` defaults to the server's FACE_MATCH_MAX_DISTANCE; farther faces are "no match"."""

    embedding: FaceVector
    limit: SearchLimit = 5
    max_distance: Distance | None = None


class FaceMatch(Struct):
    distance: float
    face_embedding_id: int
    customer: CustomerSummary


class FaceSearchResult(Struct):
    """The nearest consented customers, best first, one entry per customer; empty means no match."""

    max_distance: float
    matches: list[FaceMatch]


class MemorySearch(Body):
    embedding: TextVector
    limit: SearchLimit = 10
    max_distance: Distance | None = None


class MemorySearchQuery(Query):
    customer_id: uuid.UUID | None = None


class MemoryMatch(Struct):
    distance: float
    memory: Memory
    customer: CustomerSummary


class MemorySearchResult(Struct):
    matches: list[MemoryMatch]


# ---- context --------------------------------------------------------------------------------------------


class ContextQuery(Query):
    memories: Annotated[int, Meta(ge=0, le=100)] = 10
    sessions: Annotated[int, Meta(ge=0, le=50)] = 5


class ContextRequest(Body):
    """As the GET, plus `embedding` (e.g. of what the customer just said) to add the most relevant
    memories."""

    embedding: TextVector | None = None
    memories: Annotated[int, Meta(ge=0, le=100)] = 10
    sessions: Annotated[int, Meta(ge=0, le=50)] = 5


class ConsentState(Struct):
    consent_for_biometrics: bool
    consent_updated_at: Timestamp | None
    opted_out_at: Timestamp | None
    biometric_writes_allowed: bool
    memory_writes_allowed: bool


class SessionWithNotes(Struct):
    session: Session
    coaching_notes: list[CoachingNote]


class CustomerContext(Struct):
    customer: Customer
    consent: ConsentState
    face_embeddings: int
    preferences: list[Preference]
    recent_memories: list[Memory]
    relevant_memories: list[MemoryMatch] | None
    recent_sessions: list[SessionWithNotes]
