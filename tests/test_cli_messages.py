"""What the operator commands say when a person gets something slightly wrong, and their help."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from imagecaption.cli import app

Run = Callable[..., Result]


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Run:
    """The command, in this process, on a fresh SQLite data folder."""
    monkeypatch.delenv("IMAGECAPTION_CONFIG", raising=False)
    runner = CliRunner()

    def invoke(*args: str, data: bool = True) -> Result:
        extra = ["--data-dir", str(tmp_path)] if data else []
        return runner.invoke(app, [*args, *extra], env={"COLUMNS": "100"})

    return invoke


def _new_key(run: Run) -> tuple[str, str]:
    created = run("keys", "create", "--plan", "pro")
    assert created.exit_code == 0, created.output
    secret = created.stdout.strip()
    return secret, secret.split("-")[1]


def test_a_whole_key_where_an_id_is_wanted_names_the_id(run: Run) -> None:
    secret, key_id = _new_key(run)
    for args in (
        ("credits", "add", secret, "100"),
        ("keys", "revoke", secret),
        ("keys", "set-plan", secret, "mega"),
    ):
        result = run(*args)
        assert result.exit_code == 1, args
        assert f"pass the key's id instead: {key_id}" in result.stderr, args
        assert secret.rsplit("-", 1)[1] not in result.output, "the secret is never echoed"
    assert "balance: " in run("credits", "add", key_id, "100").stdout


def test_revoking_a_revoked_key_says_it_already_was(run: Run) -> None:
    _, key_id = _new_key(run)
    assert run("keys", "revoke", key_id).stdout.strip() == f"revoked {key_id}"
    again = run("keys", "revoke", key_id)
    assert again.exit_code == 0
    assert again.stdout.strip() == f"{key_id} was already revoked; nothing changed"


def test_usage_counts_days_in_words(run: Run) -> None:
    assert "last 1 day\n" in run("usage", "--days", "1").stdout
    assert "last 7 days\n" in run("usage", "--days", "7").stdout


@pytest.mark.parametrize(
    "command", [(), ("serve",), ("usage",), ("keys", "list"), ("caption",), ("db", "current")]
)
def test_help_has_no_bool_placeholders(run: Run, command: tuple[str, ...]) -> None:
    result = run(*command, "--help", data=False)
    assert result.exit_code == 0
    assert "<bool>" not in result.output
    assert "--help" in result.output


def test_serve_help_shows_the_default_address(run: Run) -> None:
    text = " ".join(run("serve", "--help", data=False).output.split())
    assert re.search(r"--host <str> Address to listen on \[default: 127\.0\.0\.1", text)
    assert re.search(r"--port <int> Port to listen on \[default: 8000", text)
