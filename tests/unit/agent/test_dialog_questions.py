"""Active question choice: entropy, expected gain, scorer copies that leave the call untouched."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import pytest
from helpers import paths

from tierline.agent.dialog.kb import Answer, Question, load_kb
from tierline.agent.dialog.questions import (
    ActiveQuestioner,
    FixedQuestioner,
    ScorerProbe,
    entropy,
)
from tierline.nlu.pipeline import Nlu
from tierline.segmentation.features import CustomerProfile
from tierline.segmentation.records import TIERS, TierUpdate, TurnEvidence
from tierline.segmentation.tier import TierScorer

KB = paths.KB_DIR / "yunfan.yaml"
EVEN = {t: 0.25 for t in TIERS}


def test_entropy_bounds() -> None:
    assert entropy(EVEN) == pytest.approx(2.0)
    assert entropy({"high": 1.0, "medium": 0.0, "low": 0.0, "churn_risk": 0.0}) == 0.0
    assert 0 < entropy({"high": 0.5, "medium": 0.5}) == pytest.approx(1.0)


@dataclass
class SeatsOnlyScorer:
    """Unit-test fake: only a seat count moves the tier (≥100 → high, else medium)."""

    scores: dict[str, float] = field(default_factory=lambda: {
        "high": 0.45, "medium": 0.45, "low": 0.05, "churn_risk": 0.05})
    updates: int = 0

    def update(self, ev: TurnEvidence) -> TierUpdate:
        self.updates += 1
        if ev.seats is not None:
            big = ev.seats >= 100
            self.scores = {"high": 0.94 if big else 0.02, "medium": 0.02 if big else 0.94,
                           "low": 0.02, "churn_risk": 0.02}
        label = max(self.scores, key=self.scores.__getitem__)
        return TierUpdate(label, dict(self.scores), ())


def _q(slot: str, *says: str) -> Question:
    n = len(says)
    return Question(slot, f"ask {slot}", tuple(Answer(s, {t: 1 / n for t in TIERS})
                                               for s in says))


def test_active_asks_the_separating_question_that_a_fixed_order_puts_last() -> None:
    questions = {"timeline": _q("timeline", "下个月就想用起来", "还没定"),
                 "seats": _q("seats", "我们大概十来个人用", "我们全公司三百多人都要用")}
    scorer = SeatsOnlyScorer()
    probe = ScorerProbe(scorer)
    active = ActiveQuestioner(questions, Nlu().analyze).choose(
        scorer.scores, ["timeline", "seats"], probe)
    assert active.slot == "seats"
    assert active.gains["seats"] > 0.5 and active.gains["timeline"] == pytest.approx(0.0)
    assert scorer.updates == 0  # only copies were updated
    fixed = FixedQuestioner(["timeline", "seats"]).choose(scorer.scores, ["timeline", "seats"])
    assert fixed.slot == "timeline"


def test_nothing_worth_asking_gives_no_question() -> None:
    questions = {"timeline": _q("timeline", "下个月就想用起来", "还没定")}
    choice = ActiveQuestioner(questions, Nlu().analyze, min_gain=0.01).choose(
        SeatsOnlyScorer().scores, ["timeline"], ScorerProbe(SeatsOnlyScorer()))
    assert choice.slot is None


def test_real_scorer_is_not_changed_by_simulation() -> None:
    kb = load_kb(KB)
    nlu = Nlu()
    scorer = TierScorer(CustomerProfile())
    scorer.initial()
    r = nlu.analyze("你们这个系统怎么收费？")
    ev = TurnEvidence(intent_scores=r.scores)
    before = scorer.update(ev)
    choice = ActiveQuestioner(kb.questions, nlu.analyze).choose(
        before.scores, list(kb.questions), ScorerProbe(scorer, [ev]))
    assert set(choice.gains) == set(kb.questions)
    best = max(choice.gains.values())
    if best >= 0.01:  # a scorer certain of its tier leaves nothing worth asking
        assert choice.slot in kb.questions and choice.gains[choice.slot] == best
    else:
        assert choice.slot is None
    again = scorer.update(TurnEvidence(intent_scores={"other": 1.0}))
    fresh = TierScorer(CustomerProfile())
    fresh.initial()
    fresh.update(ev)
    assert again.scores == fresh.update(TurnEvidence(intent_scores={"other": 1.0})).scores


@dataclass
class Unpicklable:
    lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass
class ScorerWithModel(SeatsOnlyScorer):
    """Holds a non-copyable object (like an inference session) and an LLM hook."""

    model: Unpicklable = field(default_factory=Unpicklable)
    llm: object | None = None


def test_copy_shares_what_cannot_be_copied_and_drops_the_llm() -> None:
    scorer = ScorerWithModel(llm=object())
    probe = ScorerProbe(scorer)
    copy = probe._fresh()
    assert copy is not scorer and copy.model is scorer.model and copy.llm is None
    assert scorer.llm is not None
    probe.simulate(TurnEvidence(seats=500))
    assert scorer.scores["high"] == 0.45


class NoCopy(SeatsOnlyScorer):
    def __deepcopy__(self, memo):
        raise TypeError("no copies")


def test_uncopyable_scorer_is_rebuilt_and_replayed() -> None:
    built: list[NoCopy] = []

    def factory() -> NoCopy:
        built.append(NoCopy())
        return built[-1]

    history = [TurnEvidence(seats=20)]
    probe = ScorerProbe(NoCopy(), history, factory)
    scores = probe.simulate(TurnEvidence(intent_scores={"other": 1.0}))
    assert scores["medium"] == 0.94  # the replayed 20 seats count
    assert built and built[0].updates == 2


def test_every_wording_of_an_answer_is_simulated_and_averaged() -> None:
    # One question whose first wording carries a seat count and whose other wordings do not:
    # the simulated posterior is the mean of the three, so the gain lies strictly between the
    # gain of the informative wording alone and zero.
    def seats_q(*also: str) -> Question:
        even = {t: 0.5 for t in TIERS}
        return Question("seats", "ask seats", (
            Answer("我们全公司三百多人都要用", even, also), Answer("还没定", even)))

    scores = SeatsOnlyScorer().scores
    nlu = Nlu()
    alone = ActiveQuestioner({"seats": seats_q()}, nlu.analyze).information_gain(
        "seats", scores, ScorerProbe(SeatsOnlyScorer()))
    mixed = ActiveQuestioner({"seats": seats_q("好的", "嗯")}, nlu.analyze).information_gain(
        "seats", scores, ScorerProbe(SeatsOnlyScorer()))
    assert alone > 0.2 and 0 < mixed < alone


def test_kb_answers_carry_their_other_wordings() -> None:
    kb = load_kb(KB)
    answer = kb.questions["decision_maker"].answers[0]
    assert answer.wordings[0] == answer.say and len(answer.wordings) > 1

def test_one_probe_simulates_each_answer_once() -> None:
    # The ask/skip test (gains) and the choice of the same turn share one probe: the second
    # pass reads the remembered scores and gives the same gains.
    built: list[NoCopy] = []

    def factory() -> NoCopy:
        built.append(NoCopy())
        return built[-1]

    questions = {"timeline": _q("timeline", "下个月就想用起来", "还没定"),
                 "seats": _q("seats", "我们大概十来个人用", "我们全公司三百多人都要用")}
    active = ActiveQuestioner(questions, Nlu().analyze)
    probe = ScorerProbe(NoCopy(), [], factory)
    scores = SeatsOnlyScorer().scores
    gains = active.gains(scores, ["timeline", "seats"], probe)
    assert len(built) == 4  # four distinct answers, one fresh scorer each
    choice = active.choose(scores, ["timeline", "seats"], probe)
    assert len(built) == 4 and choice.gains == gains and choice.slot == "seats"
    other = ScorerProbe(NoCopy(), [], factory)  # a new turn simulates afresh
    active.gains(scores, ["seats"], other)
    assert len(built) == 6
