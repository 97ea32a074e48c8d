"""Which qualification question to ask next: active (information gain) or a fixed order.

Active choice: for every slot not yet filled or asked, each plausible answer from the
knowledge base (``questions.<slot>.answers``, every wording in ``say`` and ``also``, averaged)
is run through the NLU and a *copy* of the call's tier scorer; the answer's probability is
``sum_t P(t) * P(answer | t)`` with ``P(t)`` the current tier scores. A question's value is
the mutual information between its answer and the tier,
``H(sum_a P(a) post_a) - sum_a P(a) H(post_a)``: large when plausible answers lead to different
tiers. (The expected drop of the *current* tier's entropy is the wrong measure for a scorer
that tiers the caller as they stand: a caller who has said nothing telling is confidently
medium, yet one answer can make them high or low.) Ties keep the ``SLOTS`` order. Only the
public NLU/TierScorer APIs are used, so a trained scorer plugs in.
"""

from __future__ import annotations

import copy
import logging
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from tierline.agent.dialog.kb import Question
from tierline.nlu.records import NluResult
from tierline.segmentation.records import TIERS, TierUpdate, TurnEvidence

log = logging.getLogger(__name__)
_SHARED: dict[type, list[str]] = {}
"""Per scorer class, the attributes a copy shares instead of copying."""


class Scorer(Protocol):
    """The TierScorer API the selector relies on."""

    def update(self, evidence: TurnEvidence) -> TierUpdate: ...


def entropy(scores: Mapping[str, float]) -> float:
    """Shannon entropy of a tier distribution, in bits (0 = certain, 2 = uniform over 4)."""
    total = sum(max(0.0, scores.get(t, 0.0)) for t in TIERS) or 1.0
    h = 0.0
    for t in TIERS:
        p = max(0.0, scores.get(t, 0.0)) / total
        if p > 0:
            h -= p * math.log2(p)
    return h


def evidence_from_nlu(result: NluResult) -> TurnEvidence:
    """Tier evidence of a hypothetical answer (neutral voice: no prosody evidence)."""
    return TurnEvidence(
        intent_scores=dict(result.scores), budget_cny=result.entities.budget_cny,
        seats=result.entities.seats, sentiment=result.sentiment, anger=result.anger,
        competitor=result.entities.competitor, text=result.text)


class ScorerProbe:
    """Runs hypothetical turns through a copy of the call's scorer, leaving it untouched.

    The scorer is deep-copied; a scorer that cannot be copied (e.g. one holding a native
    inference session) is rebuilt with ``factory`` and fed the call's evidence so far.
    A probe lives for one bot turn and remembers what it simulated: the ask/skip test and
    the question choice of that turn ask about the same answers, and a simulation is
    deterministic (a fresh copy each time, no LLM).

    Args:
        scorer: The call's live scorer.
        history: Evidence of the call's turns so far (for the rebuild path).
        factory: Builds a fresh scorer for the same customer.
    """

    def __init__(self, scorer: Scorer, history: Sequence[TurnEvidence] = (),
                 factory: Callable[[], Any] | None = None) -> None:
        self.scorer = scorer
        self.history = tuple(history)
        self.factory = factory
        self._copyable = True
        self._simulated: dict[int, tuple[TurnEvidence, dict[str, float]]] = {}

    def _copy(self) -> Scorer:
        """Deep copy of the scorer's state; attributes that cannot be copied (a loaded model,
        an inference session) are shared, and an attached LLM is dropped so that simulated
        turns never reach the network."""
        shared = _SHARED.get(type(self.scorer))
        if shared is None:
            shared = []
            for name, value in vars(self.scorer).items():
                try:
                    copy.deepcopy(value)
                except Exception:  # noqa: BLE001 - cannot be copied: share it
                    shared.append(name)
            _SHARED[type(self.scorer)] = shared
        memo: dict[int, Any] = {}
        for name in shared:
            value = getattr(self.scorer, name)
            memo[id(value)] = value
        fresh = copy.deepcopy(self.scorer, memo)
        if getattr(fresh, "llm", None) is not None:
            fresh.llm = None
        return fresh

    def _fresh(self) -> Scorer:
        if self._copyable:
            try:
                return self._copy()
            except Exception as exc:  # noqa: BLE001 - any copy failure means "rebuild"
                log.info("tier scorer cannot be copied (%s); replaying history", exc)
                self._copyable = False
        if self.factory is None:
            raise RuntimeError("scorer is not copyable and no factory was given")
        fresh = self.factory()
        if hasattr(fresh, "initial"):
            fresh.initial()
        for ev in self.history:
            fresh.update(ev)
        return fresh

    def simulate(self, evidence: TurnEvidence) -> dict[str, float]:
        """Tier scores if the caller's next turn were ``evidence``."""
        known = self._simulated.get(id(evidence))
        if known is None or known[0] is not evidence:
            # the evidence object is kept with its scores, so its id cannot be reused
            known = (evidence, dict(self._fresh().update(evidence).scores))
            self._simulated[id(evidence)] = known
        return dict(known[1])


@dataclass(frozen=True)
class QuestionChoice:
    """The selector's decision.

    Attributes:
        slot: Slot to ask about, or None (nothing worth asking).
        entropy: Tier entropy now, bits.
        gains: Information gain per candidate slot, bits.
    """

    slot: str | None
    entropy: float
    gains: dict[str, float]


class ActiveQuestioner:
    """Picks the question whose answer is most informative about the tier.

    Args:
        questions: Slot → question with plausible answers (from the KB).
        analyze: Text → NluResult (the call's NLU); results are cached per answer text.
        min_gain: Below this information gain (bits) no question is asked.
    """

    name = "active"

    def __init__(self, questions: Mapping[str, Question], analyze: Callable[[str], NluResult],
                 min_gain: float = 0.01) -> None:
        self.questions = dict(questions)
        self.analyze = analyze
        self.min_gain = min_gain
        self._evidence: dict[str, TurnEvidence] = {}

    def _answer(self, say: str) -> TurnEvidence:
        if say not in self._evidence:
            self._evidence[say] = evidence_from_nlu(self.analyze(say))
        return self._evidence[say]

    def _posterior(self, wordings: Sequence[str], probe: ScorerProbe) -> dict[str, float]:
        """Tier scores after an answer: the mean over its wordings of the simulated scores."""
        sims = [probe.simulate(self._answer(say)) for say in wordings]
        return {t: sum(s.get(t, 0.0) for s in sims) / len(sims) for t in TIERS}

    def information_gain(self, slot: str, scores: Mapping[str, float],
                         probe: ScorerProbe) -> float:
        """Mutual information (bits) between the answer about ``slot`` and the tier after it."""
        q = self.questions[slot]
        weights = [sum(scores.get(t, 0.0) * a.given_tier[t] for t in TIERS) for a in q.answers]
        total = sum(weights) or 1.0
        posts = [self._posterior(a.wordings, probe) for a in q.answers]
        mixture = {t: sum(w / total * post.get(t, 0.0) for w, post in zip(weights, posts,
                                                                          strict=True))
                   for t in TIERS}
        return entropy(mixture) - sum(w / total * entropy(post)
                                      for w, post in zip(weights, posts, strict=True))

    def gains(self, scores: Mapping[str, float], candidates: Sequence[str],
              probe: ScorerProbe) -> dict[str, float]:
        """Information gain of every usable candidate slot."""
        return {s: self.information_gain(s, scores, probe) for s in candidates
                if s in self.questions}

    def choose(self, scores: Mapping[str, float], candidates: Sequence[str],
               probe: ScorerProbe | None) -> QuestionChoice:
        h = entropy(scores)
        usable = [s for s in candidates if s in self.questions]
        if probe is None:
            return QuestionChoice(usable[0] if usable else None, h, {})
        gains = self.gains(scores, usable, probe)
        best = max(usable, key=lambda s: (gains[s], -usable.index(s)), default=None)
        if best is None or gains[best] < self.min_gain:
            return QuestionChoice(None, h, gains)
        return QuestionChoice(best, h, gains)


class FixedQuestioner:
    """Asks the slots in a fixed order (the baseline the active choice is measured against)."""

    name = "fixed"

    def __init__(self, order: Sequence[str]) -> None:
        self.order = tuple(order)

    def choose(self, scores: Mapping[str, float], candidates: Sequence[str],
               probe: ScorerProbe | None = None) -> QuestionChoice:
        slot = next((s for s in self.order if s in candidates), None)
        return QuestionChoice(slot, entropy(scores), {})
