"""The README as a new user reads it: what comes first, and commands that work as written."""

from __future__ import annotations

import re
from pathlib import Path

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()

# What a new user meets, in this order: what it is, the two commands, a caption, the playground,
# the options, then models, deployment and figures.
ORDER = [
    "## Two commands",
    "## Your first caption",
    "## The playground",
    "## Options",
    "## Models",
    "## Deployment",
    "## Figures",
]


def section(heading: str) -> str:
    start = README.index(heading)
    following = README.find("\n## ", start + len(heading))
    return README[start : following if following > 0 else len(README)]


def shell_lines() -> list[str]:
    blocks = re.findall(r"```sh\n(.*?)```", README, flags=re.DOTALL)
    return [line.strip() for block in blocks for line in block.splitlines() if line.strip()]


def test_a_new_user_meets_the_sections_in_order() -> None:
    headings = [line for line in README.splitlines() if line.startswith("## ")]
    positions = [
        next(i for i, h in enumerate(headings) if h.startswith(wanted)) for wanted in ORDER
    ]
    assert positions == sorted(positions), headings
    assert positions[0] == 0, "nothing before the two commands but what it is"


def test_the_first_command_says_it_keeps_the_terminal() -> None:
    first = " ".join(section("## Two commands").split())
    assert "second terminal" in first.lower()
    assert "http://127.0.0.1:8000/" in first


def test_operator_commands_carry_their_venv_prefix() -> None:
    bare = [line for line in shell_lines() if line.startswith("imagecaption ")]
    assert not bare, bare


def test_the_seed_is_explained_where_it_is_first_used() -> None:
    """The code and docs say "the seed" for the hosted service; the opening says so."""
    opening = README[: README.index("## Two commands")]
    assert '"the seed"' in opening
    assert README.lower().index("seed") > opening.index("hosted")


def test_long_tables_live_in_the_docs() -> None:
    rows = [line for line in README.splitlines() if line.startswith("|")]
    assert "docs/performance.md" in README
    assert len(rows) < 60, f"{len(rows)} table rows in the README"
