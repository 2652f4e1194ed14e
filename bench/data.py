"""Synthetic but realistically shaped vectors, fixed seeds.

Face embeddings are clustered, as real ones are: `identities` people x `samples` noisy L2-normalised
512-d samples each, and the people themselves sit in a few dozen groups (looks that resemble each other),
so near neighbours are not trivially far apart. Uniform random vectors make every ANN index look broken
(all distances ~1) or perfect; this shape gives same-person cosine distance ~0.3 (under the product's 0.4
"match" threshold) and different-person distance ~0.7-1.0. Memory vectors (1536-d) cluster by topic.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[np.float32]

SAMPLE_NOISE = 0.65  # |noise| per sample: same-person cos ~ 1/(1+0.65^2) ~ 0.70
IDENTITY_SPREAD = 1.2  # |offset| from the group: same-group people cos ~ 1/(1+1.2^2) ~ 0.41
FACE_GROUPS = 64
MEMORY_TOPICS = 200
MEMORY_NOISE = 0.8


def unit(x: npt.NDArray[np.float64]) -> Array:
    return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)


def gaussian(rng: np.random.Generator, n: int, dim: int, norm: float) -> npt.NDArray[np.float64]:
    """n random directions of (about) length `norm`."""
    return rng.standard_normal((n, dim)) * (norm / np.sqrt(dim))


@dataclass
class Faces:
    customer_ids: list[uuid.UUID]  # one per identity
    consented: npt.NDArray[np.bool_]  # per identity
    owner: npt.NDArray[np.int64]  # identity of each stored face row
    vectors: Array  # (identities * samples, dim)
    centres: Array  # (identities, dim): the person, never stored

    def queries(self, count: int, seed: int) -> tuple[npt.NDArray[np.int64], Array]:
        """`count` new samples (a sixth photo) of random consented people: (identity, vector)."""
        rng = np.random.default_rng(seed)
        people = rng.choice(np.flatnonzero(self.consented), size=count, replace=count > self.consented.sum())
        vectors = unit(self.centres[people] + gaussian(rng, count, self.centres.shape[1], SAMPLE_NOISE))
        return people.astype(np.int64), vectors


def faces(identities: int, samples: int = 5, dim: int = 512, seed: int = 7, unconsented: float = 0.05) -> Faces:
    """`unconsented` of the people have no biometric consent: their faces are stored (as after a consent
    withdrawal... before erasure) only to show the consent filter costs nothing and lets nothing through."""
    rng = np.random.default_rng(seed)
    groups = unit(rng.standard_normal((FACE_GROUPS, dim)))
    group_of = rng.integers(0, FACE_GROUPS, identities)
    centres = unit(groups[group_of] + gaussian(rng, identities, dim, IDENTITY_SPREAD))
    owner = np.repeat(np.arange(identities), samples)
    vectors = np.empty((identities * samples, dim), dtype=np.float32)
    chunk = 20_000  # rows at a time: 1M x 512 float64 noise at once would be 4 GB
    for start in range(0, len(owner), chunk):
        rows = owner[start : start + chunk]
        vectors[start : start + chunk] = unit(centres[rows] + gaussian(rng, len(rows), dim, SAMPLE_NOISE))
    consented = rng.random(identities) >= unconsented
    ids = [uuid.UUID(int=int(x), version=4) for x in rng.integers(0, 2**63, identities, dtype=np.int64)]
    return Faces(ids, consented, owner.astype(np.int64), vectors, centres)


@dataclass
class Memories:
    customer_ids: list[uuid.UUID]
    owner: npt.NDArray[np.int64]  # customer index of each memory row
    vectors: Array
    topics: Array

    def queries(self, count: int, seed: int) -> tuple[npt.NDArray[np.int64], Array]:
        """`count` (customer to filter by, query vector near a random topic)."""
        rng = np.random.default_rng(seed)
        customers = rng.integers(0, len(self.customer_ids), count)
        topic = rng.integers(0, len(self.topics), count)
        vectors = unit(self.topics[topic] + gaussian(rng, count, self.topics.shape[1], MEMORY_NOISE))
        return customers.astype(np.int64), vectors


def memories(customers: int, per_customer: int, dim: int = 1536, seed: int = 11) -> Memories:
    rng = np.random.default_rng(seed)
    topics = unit(rng.standard_normal((MEMORY_TOPICS, dim)))
    owner = np.repeat(np.arange(customers), per_customer)
    vectors = np.empty((len(owner), dim), dtype=np.float32)
    chunk = 10_000
    for start in range(0, len(owner), chunk):
        n = min(chunk, len(owner) - start)
        topic = rng.integers(0, MEMORY_TOPICS, n)
        vectors[start : start + n] = unit(topics[topic] + gaussian(rng, n, dim, MEMORY_NOISE))
    ids = [uuid.UUID(int=int(x), version=4) for x in rng.integers(0, 2**63, customers, dtype=np.int64)]
    return Memories(ids, owner.astype(np.int64), vectors, topics)


def exact_top(vectors: Array, queries: Array, k: int) -> npt.NDArray[np.int64]:
    """Row indexes of the k nearest rows by cosine distance (rows and queries are unit vectors), per query."""
    out = np.empty((len(queries), k), dtype=np.int64)
    for start in range(0, len(queries), 64):
        sims = queries[start : start + 64] @ vectors.T
        part = np.argpartition(-sims, min(k, sims.shape[1] - 1), axis=1)[:, :k]
        order = np.take_along_axis(sims, part, axis=1).argsort(axis=1)[:, ::-1]
        out[start : start + 64] = np.take_along_axis(part, order, axis=1)
    return out


def json_floats(vector: Array) -> list[float]:
    """What a client sends: 8 decimals, as embedding APIs print them."""
    return [round(float(x), 8) for x in vector]
