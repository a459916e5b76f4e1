"""What the pages say about credits and plans, and the sealed hand-over of a new key."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from imagecaption.accounts.store import KeyRecord
from imagecaption.settings import Plan
from imagecaption.web.allowance import allowance_note, plan_change_note, plan_offer
from imagecaption.web.handover import seal, unseal
from imagecaption.web.sessions import SessionStore

FREE = Plan(monthly_credits=1_000, signup_bonus=500, requests_per_minute=30)
PRO = Plan(monthly_credits=1_000_000)
CREATED = datetime(2026, 3, 10, 12, tzinfo=UTC)


def key(plan: str = "free", allowance: int = 1_500, *, first_period: bool = True) -> KeyRecord:
    start = CREATED if first_period else CREATED + timedelta(days=31)
    return KeyRecord(
        id="AbCd1234",
        name=None,
        plan=plan,
        balance=allowance,
        allowance=allowance,
        used=0,
        period_start=start,
        renews_at=start + timedelta(days=30),
        revoked=False,
        created_at=CREATED,
    )


def test_plan_offers_name_the_bonus() -> None:
    assert plan_offer("free", FREE) == "free: 1,000 credits/month + 500 once, at creation"
    assert plan_offer("pro", PRO) == "pro: 1,000,000 credits/month"


@pytest.mark.parametrize(
    ("record", "plan", "note"),
    [
        (
            key(),
            FREE,
            "1,000 a month on the free plan, plus the one-off sign-up bonus of 500 in this "
            "first period.",
        ),
        (key(allowance=1_000, first_period=False), FREE, "1,000 a month on the free plan."),
        (
            key(allowance=1_250, first_period=False),
            FREE,
            "1,000 a month on the free plan, plus 250 for this period only (credits added by "
            "the operator, credits kept from a bigger plan).",
        ),
        (
            key(allowance=1_750),
            FREE,
            "1,000 a month on the free plan, plus 750 for this period only (the one-off sign-up "
            "bonus, credits added by the operator, credits kept from a bigger plan).",
        ),
        (key(allowance=800), FREE, "1,000 a month on the free plan, from the next renewal."),
        (key(), None, ""),
    ],
)
def test_where_a_periods_credits_come_from(record: KeyRecord, plan: Plan | None, note: str) -> None:
    assert allowance_note(record, plan) == note


def test_plan_change_notes_say_what_happened_to_the_credits() -> None:
    before = key()
    upgraded = replace(before, plan="pro", balance=1_000_500, allowance=1_000_500)
    assert plan_change_note(before, upgraded, FREE, PRO) == (
        "Key AbCd1234 is now on the pro plan, from now: 999,000 credits were added to this "
        "period (the difference in monthly credits), 1,000,500 left; from the renewal on "
        "2026-04-09 it gets 1,000,000 a month."
    )
    downgraded = replace(upgraded, plan="free")
    assert plan_change_note(upgraded, downgraded, PRO, FREE) == (
        "Key AbCd1234 is now on the free plan: its price and rate limit apply now; this "
        "period's credits stay as they were (1,000,500 left), and from the renewal on "
        "2026-04-09 it gets 1,000 a month."
    )
    assert "nothing changed" in plan_change_note(before, before, FREE, FREE)


def test_a_sealed_key_opens_only_with_its_session_token() -> None:
    secret = "ick-AbCd1234-" + "x" * 40
    sealed = seal("token-1", secret)
    assert secret not in sealed
    assert seal("token-1", secret) != sealed, "a fresh nonce every time"
    assert unseal("token-1", sealed) == secret
    assert unseal("token-2", sealed) != secret
    assert unseal("token-1", "%%% not base64") is None


def test_a_handed_over_key_is_taken_once_and_not_readable_from_the_file(tmp_path: Path) -> None:
    sessions = SessionStore(tmp_path / "sessions.sqlite3")
    token = sessions.create("admin", "operator", 60)
    session = sessions.get(token, "admin")
    assert session is not None
    secret = "ick-AbCd1234-" + "y" * 40
    sessions.hand_over(session, secret)
    stored = b"".join(path.read_bytes() for path in tmp_path.iterdir())  # the WAL file too
    assert b"yyyyyyyy" not in stored
    assert sessions.take_over(session) == secret
    assert sessions.take_over(session) is None
