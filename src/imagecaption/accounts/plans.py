"""What a key's plan and credits look like to a client: the vendor's ``x-api-*`` headers."""

from __future__ import annotations

from imagecaption.accounts.store import KeyRecord
from imagecaption.errors import InsufficientCredits


def credit_headers(record: KeyRecord) -> dict[str, str]:
    """Credits used, granted and left in the current period, the plan, and the renewal date.

    The remaining figure is the balance, which already excludes credits reserved by calls still
    in flight, so concurrent clients never see more than they can spend; the used figure counts
    those reserved credits too, so that used and remaining always add up to the maximum.
    """
    return {
        "x-api-tokens-used": str(record.allowance - record.balance),
        "x-api-max-tokens": str(record.allowance),
        "x-api-remaining-tokens": str(record.balance),
        "x-api-current-plan": record.plan,
        "x-api-renewal": record.renews_at.date().isoformat(),
    }


def insufficient_credits(record: KeyRecord, cost: int) -> InsufficientCredits:
    """The 403 for a key that cannot pay ``cost``, its message and its headers from one record,
    so that the answer never says "0 left" beside a header that says otherwise."""
    return InsufficientCredits(
        f"Insufficient credits: this call costs {cost} credits "
        f"and the key has {record.balance} left.",
        headers=credit_headers(record),
    )
