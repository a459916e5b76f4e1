"""What a key's plan and credits look like to a client: the vendor's ``x-api-*`` headers."""

from __future__ import annotations

from imagecaption.accounts.store import KeyRecord


def credit_headers(record: KeyRecord) -> dict[str, str]:
    """Credits used, granted and left in the current period, the plan, and the renewal date.

    The remaining figure is the balance, which already excludes credits reserved by calls still
    in flight, so concurrent clients never see more than they can spend.
    """
    return {
        "x-api-tokens-used": str(record.used),
        "x-api-max-tokens": str(record.allowance),
        "x-api-remaining-tokens": str(record.balance),
        "x-api-current-plan": record.plan,
        "x-api-renewal": record.renews_at.date().isoformat(),
    }
