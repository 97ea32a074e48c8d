"""Reasons for a tier, in words a sales manager reads, measured on the model itself.

Each feature group of :data:`tierline.segmentation.state.GROUPS` that carries evidence is
measured in one batched model run, in log-odds of the chosen tier (which, unlike the
probability, does not saturate near 1), twice: added last (the drop when only that group is
*occluded*, set to its value for a caller who said nothing and has an empty CRM record) and
added first (the gain of that group alone over such a caller). Its contribution is the mean
of the two, the two-ordering approximation of its Shapley value: a budget and a seat count
that each make a caller high both get credit, although neither is needed given the other.
The groups that support the tier most are phrased from the actual values ("budget
1,200,000 CNY", "existing customer, 3 complaints on record", "asked about customisation 3
times").
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from tierline.segmentation.features import CustomerProfile
from tierline.segmentation.state import FEATURE_NAMES, GROUPS, EvidenceState, crm_vector

MIN_CONTRIBUTION = 0.25
"""Log-odds a group must add to the chosen tier to be named. When none reaches it, the
strongest positive group is named anyway, with every group adding at least
:data:`WEAK_SHARE` of what it adds (weak evidence is still evidence, and one of two comparable
groups alone would misstate why)."""
WEAK_SHARE = 0.5
TOP = 3

_NEUTRAL = EvidenceState().vector(crm_vector(CustomerProfile()))
_GROUP_COLS = {g: np.array(c) for g, c in GROUPS.items()}
_SAID_COLS = {g: np.array([i for i in c if FEATURE_NAMES[i].startswith("count:")], int)
              for g, c in GROUPS.items()}
_OTHER_COLS = {g: np.array([i for i in c if ":" not in FEATURE_NAMES[i]], int)
               for g, c in GROUPS.items()}


def present_groups(x: np.ndarray) -> list[str]:
    """Groups holding evidence: an intent said in some turn (not just a trace of probability),
    or other features that differ from a silent caller with an empty CRM record."""
    return [g for g in GROUPS
            if (x[_SAID_COLS[g]] > 0).any()
            or not np.array_equal(x[_OTHER_COLS[g]], _NEUTRAL[_OTHER_COLS[g]])]


def occluded(x: np.ndarray, groups: list[str]) -> np.ndarray:
    """The model batch :func:`explain` reads: ``x``; one copy per group with that group set
    to neutral; one neutral vector per group with only that group kept; the neutral vector."""
    n = len(groups)
    batch = np.repeat(x[None, :], 2 * n + 2, axis=0)
    batch[n + 1:] = _NEUTRAL
    for i, g in enumerate(groups):
        c = _GROUP_COLS[g]
        batch[1 + i, c] = _NEUTRAL[c]
        batch[n + 1 + i, c] = x[c]
    return batch


def _interest_words(state: EvidenceState) -> str:
    asked = [w for k, w in (("price_inquiry", "prices"), ("product_question", "features"),
                            ("trial_request", "a trial")) if state.counts.get(k)]
    return "asked about " + " and ".join(asked) if asked else "shows interest"


def _routine_words(state: EvidenceState) -> str:
    parts = []
    if state.counts.get("payment_invoice"):
        parts.append("asked about payment or invoices")
    if state.counts.get("tech_support"):
        parts.append("needs technical support")
    return "; ".join(parts) or "routine question"


def _tone(state: EvidenceState) -> str:
    mean = state.sentiment_mean
    return "positive tone" if mean > 0.2 else "negative tone" if mean < -0.2 else "neutral tone"


def _engagement(f: dict[str, float]) -> str:
    if f["consult_count"] == 0 and f["browse_duration"] < 5 and f["click_times"] < 5:
        return f"little recorded engagement (answers after {f['response_speed']:.0f} h)"
    return (f"{_count(f['consult_count'], 'enquiry', 'enquiries')}, "
            f"{f['browse_duration']:.0f} min browsing, {f['click_times']:.0f} clicks")


def _count(n: float, noun: str, plural: str = "") -> str:
    return f"{n:.0f} " + (noun if n == 1 else plural or noun + "s")


def _times(n: int) -> str:
    return "once" if n == 1 else f"{n} times"


def _phrase(group: str, state: EvidenceState, customer: CustomerProfile) -> str:
    f = customer.features
    existing = customer.is_existing_customer
    n = state.counts.get
    words: dict[str, Callable[[], str]] = {
        "budget": lambda: f"budget {state.budget:,.0f} CNY",
        "seats": lambda: f"{state.seats:,} seats/users",
        "buying": lambda: "wants to buy" + (" in bulk" if n("bulk_purchase") else ""),
        "expansion": lambda: "wants more users, stores, modules or a higher edition",
        "renewing": lambda: "talked about renewing",
        "integration": lambda: "asked about system integration",
        "customization": lambda: f"asked about customisation {_times(n('customization', 1))}",
        "interest": lambda: _interest_words(state),
        "routine": lambda: _routine_words(state),
        "hesitation": lambda: "is hesitating",
        "refusal": lambda: "declined (no need / not interested)",
        "churn": lambda: "signals leaving" + (
            f" (mentions {state.competitor})" if state.competitor else ""),
        "complaints": lambda: (f"complained {_times(n('complaint', 1))} in this call"),
        "anger": lambda: ("caller is angry" if state.emotion_turns("angry") or state.anger >= 0.6
                          else "caller is calm"),
        "tone": lambda: _tone(state),
        "human": lambda: "asked for a human",
        "existing": lambda: (f"existing customer, contract {f['contract_value']:,.0f} CNY"
                             if existing else "not a customer yet"),
        "renewal": lambda: f"renewal rate {f['renewal_rate']:.0%}",
        "complaint_history": lambda: (
            f"{'existing customer, ' if existing else ''}"
            f"{_count(f['complaint_count'], 'complaint')} on record"),
        "engagement": lambda: _engagement(f),
        "referrals": lambda: f"referred {_count(f['referral_count'], 'customer')}",
        "rfm": lambda: (f"last purchase {f['recency_days']:.0f} days ago, "
                        f"{f['frequency']:.0f} purchases, {f['monetary']:,.0f} CNY spent"),
    }
    return words[group]()


def defaults_note(customer: CustomerProfile) -> str | None:
    """Says which CRM features were missing and defaulted, if any."""
    if not customer.defaulted:
        return None
    if len(customer.defaulted) == 8:
        return "no CRM record, features defaulted"
    return f"CRM features defaulted: {', '.join(customer.defaulted)}"


def _log_odds(log_probs: np.ndarray, k: int) -> np.ndarray:
    """log p(k) - log(1 - p(k)) per row, computed without saturating at p = 1."""
    others = np.delete(log_probs, k, axis=1)
    top = others.max(axis=1, keepdims=True)
    rest = top[:, 0] + np.log(np.exp(others - top).sum(axis=1))
    return log_probs[:, k] - rest


def explain(log_probs: np.ndarray, groups: list[str], label_index: int,
            state: EvidenceState, customer: CustomerProfile) -> tuple[str, ...]:
    """Reason sentences for the chosen tier.

    Args:
        log_probs: [2 + 2 * len(groups), 4] log-probabilities of the batch
            :func:`occluded` builds (row 0 is the full vector).
        groups: The occluded groups, in row order.
        label_index: Index of the chosen tier.
        state: The call's evidence (for the numbers in the sentences).
        customer: The caller's CRM record.
    """
    odds = _log_odds(log_probs, label_index)
    n = len(groups)
    added_last = odds[0] - odds[1:n + 1]
    added_first = odds[n + 1:2 * n + 1] - odds[2 * n + 1]
    gains = (added_last + added_first) / 2
    ranked = sorted(zip(gains, groups, strict=True), key=lambda g: -g[0])
    strong = [g for g in ranked if g[0] >= MIN_CONTRIBUTION]
    if not strong and ranked and ranked[0][0] > 0:
        strong = [g for g in ranked if g[0] >= WEAK_SHARE * ranked[0][0]]
    words = [_phrase(g, state, customer) for _, g in strong[:TOP]]
    if not words:
        words = ["no strong signal yet" if state.turns else "CRM record only"]
    note = defaults_note(customer)
    if note:
        words.append(note)
    return tuple(words)
