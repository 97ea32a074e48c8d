"""RFM: the "traditional CRM" tiering of seed 000, per caller and across a customer base.

**Per caller** (:func:`rfm_scores`, :class:`RfmTierScorer`): Recency, Frequency and Monetary
scored 1..5 with fixed cut points, from the RFM columns when the CRM record has them, else
from proxies among the eight behaviour features (R ← response_speed, F ← consult_count,
M ← contract_value). The tier follows classic RFM segments and never looks at the call:

- churn_risk: a paying customer (M >= 2) who is slipping (R <= 2), complains (>= 2 on
  record) or renews less than half of the time ("at risk" / "can't lose them");
- high: recent and frequent (R >= 4 and F >= 4, "champions") or big spenders that are still
  active (M >= 4 and R >= 3);
- low: neither recent nor frequent (R <= 2 and F <= 1, "hibernating / lost");
- medium: everyone else.

**Across a base** (:func:`quintile_scores`): the usual quintile scores, ranks within the
base (R: fewer days is better).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from tierline.segmentation.features import CustomerProfile
from tierline.segmentation.records import TIERS, TierUpdate, TurnEvidence

_R_DAYS = (30, 90, 180, 365)
_R_HOURS = (2, 8, 24, 72)
_F = (1, 2, 4, 8)
_M = (1, 100_000, 500_000, 1_000_000)


@dataclass(frozen=True)
class Rfm:
    """RFM scores of one customer (1..5 each) and where R, F, M came from."""

    r: int
    f: int
    m: int
    proxies: tuple[str, ...]

    def __str__(self) -> str:
        return f"{self.r}-{self.f}-{self.m}"


def _up(value: float, cuts: tuple[float, ...]) -> int:
    """1 + number of cut points reached (bigger is better)."""
    return 1 + sum(value >= c for c in cuts)


def _down(value: float, cuts: tuple[float, ...]) -> int:
    """5 - number of cut points exceeded (smaller is better)."""
    return 5 - sum(value > c for c in cuts)


def rfm_scores(customer: CustomerProfile) -> Rfm:
    """Fixed-cut RFM scores of one CRM record (proxies when the RFM columns are missing)."""
    f = customer.features
    rfm_known = (f["recency_days"], f["frequency"], f["monetary"]) != (365.0, 0.0, 0.0)
    if rfm_known:
        return Rfm(_down(f["recency_days"], _R_DAYS), _up(f["frequency"], _F),
                   _up(f["monetary"], _M), ())
    return Rfm(_down(f["response_speed"], _R_HOURS), _up(f["consult_count"], _F),
               _up(f["contract_value"], _M),
               ("R from response_speed", "F from consult_count", "M from contract_value"))


def rfm_tier(customer: CustomerProfile) -> tuple[str, str]:
    """(tier, reason) of the RFM-rules baseline."""
    s = rfm_scores(customer)
    f = customer.features
    where = f"RFM {s}" + (" (proxies)" if s.proxies else "")
    if s.m >= 2 and (s.r <= 2 or f["complaint_count"] >= 2 or f["renewal_rate"] < 0.5):
        return "churn_risk", f"{where}: paying customer at risk"
    if (s.r >= 4 and s.f >= 4) or (s.m >= 4 and s.r >= 3):
        return "high", f"{where}: champion / big spender"
    if s.r <= 2 and s.f <= 1:
        return "low", f"{where}: hibernating"
    return "medium", f"{where}: ordinary customer"


@dataclass
class RfmTierScorer:
    """The RFM baseline behind the :class:`~tierline.segmentation.tier.TierScorer` API.

    The tier comes from the CRM record alone, so it is the same after every turn.
    """

    customer: CustomerProfile = field(default_factory=CustomerProfile)
    _turns: int = 0

    def _update(self) -> TierUpdate:
        label, reason = rfm_tier(self.customer)
        scores = {t: float(t == label) for t in TIERS}
        return TierUpdate(label, scores, (reason,), self._turns, False)

    def initial(self) -> TierUpdate:
        return self._update()

    def update(self, evidence: TurnEvidence) -> TierUpdate:
        self._turns += 1
        return self._update()


def _quintile(values: np.ndarray, higher_is_better: bool) -> np.ndarray:
    """Scores 1..5 by rank within the base (ties share the lower score)."""
    if len(values) == 1:
        return np.array([3])
    v = values if higher_is_better else -values
    ranks = np.searchsorted(np.sort(v), v, side="left")
    return 1 + np.floor(5 * ranks / len(v)).astype(int).clip(0, 4)


def quintile_scores(recency: np.ndarray, frequency: np.ndarray,
                    monetary: np.ndarray) -> np.ndarray:
    """[n, 3] R, F, M quintile scores across a customer base."""
    return np.stack([_quintile(np.asarray(recency, float), False),
                     _quintile(np.asarray(frequency, float), True),
                     _quintile(np.asarray(monetary, float), True)], axis=1)
