"""Comparing two quality runs names the tuning pictures that moved, never the hidden held-out
ones: which held-out pictures a change moved is itself something to tune on."""

from __future__ import annotations

from typing import Any

import pytest
from benchmarks.bench_quality import HIDDEN, compare


def _run(label: str, cases: list[dict[str, Any]]) -> dict[str, Any]:
    means = {"mean_hit_rate": 0.5, "with_forbidden": 0}
    return {
        "label": label,
        "summary": {"tuning": means, "held-out": means, "all": means},
        "cases": cases,
    }


def _case(id: str, hit_rate: float, caption: str) -> dict[str, Any]:
    return {"id": id, "hit_rate": hit_rate, "caption": caption}


def test_hidden_held_out_pictures_are_counted_not_named(
    capsys: pytest.CaptureFixture[str],
) -> None:
    old = _run(
        "before",
        [
            _case("tuning-dog", 0.5, "A dog."),
            _case("secret-sunset", 0.0, "A lake."),
            _case("secret-bridge", 0.5, "A bridge."),
        ],
    )
    new = _run(
        "after",
        [
            _case("tuning-dog", 1.0, "A dog on the grass."),
            _case("secret-sunset", 1.0, HIDDEN),
            _case("secret-bridge", 0.5, HIDDEN),
            _case("secret-new", 0.3, HIDDEN),
        ],
    )
    compare(old, new)
    printed = capsys.readouterr().out
    assert "tuning-dog" in printed
    assert "A dog on the grass." in printed
    assert "secret" not in printed
    assert "held-out pictures, not shown: 1 better, 1 new, 1 same score" in printed
