"""Words for credits: what a plan grants, where a period's allowance comes from, and what a plan
change did, so that "of 1,500" on a 1,000-a-month plan, or a balance after a plan change, is
never a puzzle."""

from __future__ import annotations

from imagecaption.accounts.store import KeyRecord, upgrade_credits
from imagecaption.settings import Plan


def plan_offer(name: str, plan: Plan) -> str:
    """A plan as the operator's menus list it: ``free: 1,000 credits/month + 500 at creation``."""
    offer = f"{name}: {plan.monthly_credits:,} credits/month"
    if plan.signup_bonus:
        offer += f" + {plan.signup_bonus:,} once, at creation"
    return offer


def allowance_note(record: KeyRecord, plan: Plan | None) -> str:
    """Where this period's credits come from.

    The store keeps one allowance per period, so the parts are worked out from the plan: its
    monthly credits, the sign-up bonus in a key's first period, and anything beyond those, which
    only an operator's top-up or credits kept from a bigger plan until the renewal can explain.
    """
    if plan is None:
        return ""
    monthly = f"{plan.monthly_credits:,} a month on the {record.plan} plan"
    extra = record.allowance - plan.monthly_credits
    first_period = record.period_start == record.created_at
    if extra == 0:
        return f"{monthly}."
    if first_period and extra == plan.signup_bonus:
        return f"{monthly}, plus the one-off sign-up bonus of {extra:,} in this first period."
    if extra > 0:
        reasons = ["credits added by the operator", "credits kept from a bigger plan"]
        if first_period:
            reasons.insert(0, "the one-off sign-up bonus")
        return f"{monthly}, plus {extra:,} for this period only ({', '.join(reasons)})."
    return f"{monthly}, from the next renewal."


def plan_change_note(before: KeyRecord, after: KeyRecord, old: Plan | None, new: Plan) -> str:
    """The operator's notice after a plan change: what happened to the credits, and when."""
    renewal = after.renews_at.strftime("%Y-%m-%d")
    head = f"Key {after.id} is now on the {after.plan} plan"
    if before.plan == after.plan:
        return f"Key {after.id} was already on the {after.plan} plan; nothing changed."
    added = upgrade_credits(old, new)
    if added:
        return (
            f"{head}, from now: {added:,} credits were added to this period (the difference in "
            f"monthly credits), {after.balance:,} left; from the renewal on {renewal} it gets "
            f"{new.monthly_credits:,} a month."
        )
    return (
        f"{head}: its price and rate limit apply now; this period's credits stay as they were "
        f"({after.balance:,} left), and from the renewal on {renewal} it gets "
        f"{new.monthly_credits:,} a month."
    )
