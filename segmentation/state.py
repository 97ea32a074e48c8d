"""Evidence accumulated over a call, as the fixed-length feature vector the tier model reads.

One :class:`EvidenceState` per call folds every :class:`TurnEvidence` in (O(1) per turn) and
renders, together with the caller's CRM record, a vector laid out as :data:`FEATURE_NAMES`:

- text evidence: the latest turn's intent distribution, an exponentially decayed sum of the
  intent distributions (``DECAY`` per turn, so recent turns weigh most), and per intent the
  number of turns where it was said (probability >= ``SAID``); the largest budget and seat
  count heard so far (log scale, the ARCHITECTURE.md thresholds 500,000 CNY / 100 seats, and
  whether the count is trivial use: at most :data:`TRIVIAL_SEATS` users), whether the caller
  asked for more than they have or talked about renewing (:mod:`tierline.segmentation.cues`),
  whether a competitor was named, word sentiment and anger;
- voice evidence: emotion label counts and arousal (from the voice stage when present);
- CRM: the eight behaviour features (log scale for counts and money), an existing-customer
  flag, the optional RFM columns and how many features were defaulted.

Amounts and counts persist at their maximum, so a budget said in turn 1 still counts in
turn 3, unless a later turn corrects them ("刚才说错了，预算是七万": the last stated value wins,
:func:`tierline.nlu.amounts.corrects_earlier`). :data:`GROUPS` names the slices a reason
sentence is built from; :data:`TEXT_BLIND` are the columns a model without the words may use.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from tierline.nlu.amounts import corrects_earlier
from tierline.nlu.vocab import INTENTS
from tierline.segmentation.cues import says_expansion, says_renewal
from tierline.segmentation.features import CRM_FEATURES, CustomerProfile
from tierline.segmentation.records import TurnEvidence

DECAY = 0.5
SAID = 0.35
"""An intent counts as said in a turn when its probability is at least this."""
HIGH_BUDGET_CNY = 500_000
HIGH_SEATS = 100
TRIVIAL_SEATS = 2
"""A stated team of at most this many users is personal/trivial use (ARCHITECTURE.md: low)."""
COUNT_CAP = 5
RECENT_TURNS = 10
"""How many recent turns an intent-borne large-value signal must fall within (integration
with buying, three customisation asks): over a long call, chance readings of these intents
must not add up to a high tier."""
BUYING_INTENTS = ("purchase_intent", "bulk_purchase")
PAIR_TURNS = 2
"""An integration ask and purchase intent count together at most this many turns apart."""
INTEGRATION_INTENTS = ("tech_integration", "customization")
BUYING_SAID = 0.25
"""Purchase intent beside an integration or private-deployment ask counts from this
probability ("我们准备采购，需要跟内部系统做对接" reads as tech_integration 0.53 +
purchase_intent 0.36: one turn, both signals)."""

_TEXT = (
    [f"last:{i}" for i in INTENTS]
    + [f"decayed:{i}" for i in INTENTS]
    + [f"count:{i}" for i in INTENTS]
    + ["has_budget", "log_budget", "budget_high", "has_seats", "log_seats", "seats_high",
       "seats_trivial", "expansion_said", "renewal_said", "competitor", "sentiment_last",
       "sentiment_min", "sentiment_mean", "anger_max", "anger_last", "turns"]
)
_VOICE = ["angry_turns", "hesitant_turns", "positive_turns", "arousal_max", "arousal_last",
          "angry_last"]
_CRM = ["log_browse_duration", "log_click_times", "log_consult_count", "log_contract_value",
        "renewal_rate", "log_response_speed", "log_complaint_count", "log_referral_count",
        "existing_customer", "large_contract", "log_recency_days", "log_frequency",
        "log_monetary", "rfm_known", "defaulted_share"]
FEATURE_NAMES: tuple[str, ...] = tuple(_TEXT + _VOICE + _CRM)
INDEX = {name: i for i, name in enumerate(FEATURE_NAMES)}
_I = {name: i for i, name in enumerate(INTENTS)}
TEXT_BLIND: tuple[int, ...] = tuple(INDEX[n] for n in _VOICE + _CRM)
"""Columns of a model that hears the voice and knows the CRM record but not the words."""


def _cols(*prefixes: str, intents: tuple[str, ...] = ()) -> tuple[int, ...]:
    names = [f"{p}:{i}" for p in ("last", "decayed", "count") for i in intents]
    names += list(prefixes)
    return tuple(INDEX[n] for n in names)


GROUPS: dict[str, tuple[int, ...]] = {
    "budget": _cols("has_budget", "log_budget", "budget_high"),
    "seats": _cols("has_seats", "log_seats", "seats_high", "seats_trivial"),
    "buying": _cols(intents=("purchase_intent", "bulk_purchase")),
    "expansion": _cols("expansion_said"),
    "renewing": _cols("renewal_said"),
    "integration": _cols(intents=("tech_integration",)),
    "customization": _cols(intents=("customization",)),
    "interest": _cols(intents=("price_inquiry", "product_question", "trial_request")),
    "routine": _cols(intents=("payment_invoice", "tech_support")),
    "hesitation": _cols("hesitant_turns", intents=("hesitation",)),
    "refusal": _cols(intents=("refusal",)),
    "churn": _cols("competitor", intents=("churn_signal",)),
    "complaints": _cols(intents=("complaint",)),
    "anger": _cols("anger_max", "anger_last", "angry_turns", "angry_last", "arousal_max",
                   "arousal_last"),
    "tone": _cols("sentiment_last", "sentiment_min", "sentiment_mean", "positive_turns"),
    "human": _cols(intents=("request_human",)),
    "existing": _cols("log_contract_value", "existing_customer", "large_contract"),
    "renewal": _cols("renewal_rate"),
    "complaint_history": _cols("log_complaint_count"),
    "engagement": _cols("log_browse_duration", "log_click_times", "log_consult_count",
                        "log_response_speed"),
    "referrals": _cols("log_referral_count"),
    "rfm": _cols("log_recency_days", "log_frequency", "log_monetary", "rfm_known"),
}
"""Feature slices that a reason sentence stands for (see :mod:`tierline.segmentation.reasons`)."""


def crm_vector(customer: CustomerProfile) -> np.ndarray:
    """The CRM columns of the feature vector (see :data:`FEATURE_NAMES`)."""
    f = customer.features
    rfm_known = any(f[k] != d for k, d in (("recency_days", 365.0), ("frequency", 0.0),
                                            ("monetary", 0.0)))
    return np.array([
        math.log1p(f["browse_duration"]), math.log1p(f["click_times"]),
        math.log1p(f["consult_count"]), math.log10(1 + f["contract_value"]),
        f["renewal_rate"], math.log1p(f["response_speed"]), math.log1p(f["complaint_count"]),
        math.log1p(f["referral_count"]), float(f["contract_value"] > 0),
        float(f["contract_value"] >= HIGH_BUDGET_CNY), math.log1p(f["recency_days"]),
        math.log1p(f["frequency"]), math.log10(1 + f["monetary"]), float(rfm_known),
        len(customer.defaulted) / len(CRM_FEATURES),
    ], dtype=np.float32)


@dataclass
class EvidenceState:
    """Running summary of one call's caller turns.

    Attributes:
        turns: Caller turns folded in.
        budget: Largest budget heard, CNY.
        seats: Largest seat/user/store count heard.
        competitor: Last competitor named.
        expansion: The caller asked for more users, stores, modules or a higher edition.
        renewing: The caller talked about renewing.
        counts: Turns per intent where it was said.
    """

    turns: int = 0
    budget: float | None = None
    seats: int | None = None
    competitor: str | None = None
    expansion: bool = False
    renewing: bool = False
    counts: dict[str, int] = field(default_factory=dict)
    _last: np.ndarray = field(default_factory=lambda: np.zeros(len(INTENTS), np.float32))
    _decayed: np.ndarray = field(default_factory=lambda: np.zeros(len(INTENTS), np.float32))
    _sent_last: float = 0.0
    _sent_min: float = 0.0
    _sent_sum: float = 0.0
    _anger_max: float = 0.0
    _anger_last: float = 0.0
    _emotions: dict[str, int] = field(default_factory=dict)
    _arousal_max: float = 0.0
    _arousal_last: float = 0.0
    _angry_last: float = 0.0
    _recent: deque = field(default_factory=lambda: deque(maxlen=RECENT_TURNS))

    def add(self, ev: TurnEvidence) -> None:
        """Fold one caller turn in."""
        probs = np.array([float(ev.intent_scores.get(i, 0.0)) for i in INTENTS], np.float32)
        self.turns += 1
        self._last = probs
        self._decayed = self._decayed * DECAY + probs
        said = frozenset(name for name, p in zip(INTENTS, probs, strict=True)
                         if p >= SAID and name != "other")
        for name in said:
            self.counts[name] = self.counts.get(name, 0) + 1
        self._recent.append(probs)
        if corrects_earlier(ev.text):  # "刚才说错了，是六万": the last stated value wins
            self.budget = float(ev.budget_cny) if ev.budget_cny else self.budget
            self.seats = int(ev.seats) if ev.seats else self.seats
        else:
            if ev.budget_cny:
                self.budget = max(self.budget or 0.0, float(ev.budget_cny))
            if ev.seats:
                self.seats = max(self.seats or 0, int(ev.seats))
        if ev.competitor:
            self.competitor = ev.competitor
        self.expansion = self.expansion or says_expansion(ev.text)
        self.renewing = self.renewing or says_renewal(ev.text)
        self._sent_last = ev.sentiment
        self._sent_min = min(self._sent_min, ev.sentiment) if self.turns > 1 else ev.sentiment
        self._sent_sum += ev.sentiment
        self._anger_max = max(self._anger_max, ev.anger)
        self._anger_last = ev.anger
        self._emotions[ev.emotion] = self._emotions.get(ev.emotion, 0) + 1
        self._arousal_max = max(self._arousal_max, ev.arousal)
        self._arousal_last = ev.arousal
        self._angry_last = float(ev.emotion == "angry")

    def large_value(self, existing: bool) -> tuple[str, ...]:
        """The large-value signals heard, by the tier's own rules
        (:mod:`tierline.segmentation.labels`): a budget of at least 500,000 CNY, at least 100
        seats, an integration or private-deployment ask with purchase intent, or three
        customisation asks, within the last :data:`RECENT_TURNS` turns; an existing customer
        expanding. Empty:
        nothing that makes a caller high.

        Args:
            existing: The caller is an existing customer (contract_value > 0).
        """
        signals = []
        if (self.budget or 0) >= HIGH_BUDGET_CNY:
            signals.append("budget")
        if (self.seats or 0) >= HIGH_SEATS:
            signals.append("seats")
        if self._recent:
            recent = np.stack(list(self._recent))
            buying = recent[:, [_I[i] for i in BUYING_INTENTS]].sum(axis=1) >= BUYING_SAID
            asks = recent[:, _I["tech_integration"]] >= SAID
            # an integration ask and purchase intent in one turn or two adjacent ones; a
            # private-deployment (customisation) ask only in the turn that says buying
            same = (recent[:, [_I[i] for i in INTEGRATION_INTENTS]].sum(axis=1) >= SAID) & buying
            idx_ask, idx_buy = np.flatnonzero(asks), np.flatnonzero(buying)
            near = any(abs(a - b) <= PAIR_TURNS for a in idx_ask for b in idx_buy)
            if same.any() or near:
                signals.append("integration")
            if int((recent[:, _I["customization"]] >= SAID).sum()) >= 3:
                signals.append("customization")
        if existing and self.expansion:
            signals.append("expansion")
        return tuple(signals)

    def emotion_turns(self, label: str) -> int:
        return self._emotions.get(label, 0)

    @property
    def anger(self) -> float:
        return self._anger_max

    @property
    def sentiment_mean(self) -> float:
        return self._sent_sum / self.turns if self.turns else 0.0

    def text_vector(self) -> np.ndarray:
        """Text and voice columns (everything before the CRM columns)."""
        budget, seats = self.budget or 0.0, self.seats or 0
        counts = np.array([min(self.counts.get(i, 0), COUNT_CAP) for i in INTENTS], np.float32)
        n = max(self.turns, 1)
        head = [
            float(budget > 0), math.log10(1 + budget), float(budget >= HIGH_BUDGET_CNY),
            float(seats > 0), math.log10(1 + seats), float(seats >= HIGH_SEATS),
            float(0 < seats <= TRIVIAL_SEATS), float(self.expansion), float(self.renewing),
            float(self.competitor is not None), self._sent_last, self._sent_min,
            self._sent_sum / n, self._anger_max, self._anger_last, min(self.turns, 10) / 10,
        ]
        voice = [min(self.emotion_turns("angry"), 3), min(self.emotion_turns("hesitant"), 3),
                 min(self.emotion_turns("positive"), 3), self._arousal_max,
                 self._arousal_last, self._angry_last]
        return np.concatenate([self._last, self._decayed, counts,
                               np.array(head + voice, np.float32)])

    def vector(self, crm: np.ndarray) -> np.ndarray:
        """The whole feature vector, given :func:`crm_vector` of the caller."""
        return np.concatenate([self.text_vector(), crm]).astype(np.float32)
