"""`python -m frontdesk demo` runs the whole pipeline through the API and checks each step; a rerun works."""

from __future__ import annotations

import pytest

from frontdesk import demo
from frontdesk.settings import Settings


def test_the_demo_runs_its_pipeline_twice_on_the_same_database(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    demo.main(settings)
    first = capsys.readouterr().out
    assert "a new photo of Ada Lovelace: Ada Lovelace (distance" in first
    assert "Cleo's batch refused: 409 consent_required" in first
    assert "a new photo of Eve Tanaka: no match" in first
    assert "Dan opted out: erased 3 face embeddings, 2 memories, 1 preference" in first
    assert "a new photo of Dan: no match" in first
    assert first.rstrip().splitlines()[-1].startswith("ok: every step as expected")
    demo.main(settings)
    second = capsys.readouterr().out
    assert "erased 5 customers left by an earlier demo run" in second
    assert second.rstrip().splitlines()[-1].startswith("ok: every step as expected")
