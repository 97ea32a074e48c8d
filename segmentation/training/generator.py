"""Labelled multi-turn dialogs for training and evaluating the tier model.

A dialog is drawn from a *story* (a big deal, customisation asks, an existing customer's
routine question, a churning customer, a refusal, ...) that fixes the caller kind and a
sequence of acts; each act becomes words from :mod:`tierline.segmentation.training.templates` with
numbers spoken in Chinese or digits. The tier after every turn comes from the rules in
:mod:`tierline.segmentation.labels` applied to the acts and the CRM record, so labels never
depend on the NLU. The words then go through the real :class:`~tierline.nlu.pipeline.Nlu`
exactly as a call session does, so the model learns from realistic intent distributions and
entity extraction mistakes.

CRM features are drawn per caller kind (cold / engaged / hot prospect, existing happy / big /
unhappy customer), with overlap between kinds, some features missing (defaulted) and RFM
columns present for about half of the callers. Voice evidence is simulated for half of the
dialogs (an imperfect emotion label and arousal per act, as a prosody model would give); the
other half uses the word-based emotion that a session falls back to. The intent distributions
of each dialog are sharpened or flattened at random (power e^U(-0.7, 0.7)), so the tier model
survives a change of NLU calibration (the keyword rules today, a trained classifier next).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace

from tierline.audio.emotion import emotion_from_words
from tierline.nlu.pipeline import Nlu
from tierline.segmentation.features import CRM_FEATURES, CustomerProfile, parse_customer
from tierline.segmentation.labels import Act, label_of
from tierline.segmentation.records import TurnEvidence
from tierline.segmentation.training.templates import COMPETITORS, SPLITS, UNITS, split_templates

_DIGITS = "零一二三四五六七八九"


def chinese_number(n: int, rng: random.Random | None = None) -> str:
    """Spoken Chinese for 0 <= n < 100,000,000 (两 before 百/千/万 at random)."""
    if n == 0:
        return "零"
    if n >= 10_000:
        high, low = divmod(n, 10_000)
        text = chinese_number(high, rng) + "万"
        if low:
            text += ("零" if low < 1000 else "") + chinese_number(low, rng)
        return text
    out, zero = [], False
    for value, unit in ((1000, "千"), (100, "百"), (10, "十"), (1, "")):
        d, n = divmod(n, value)
        if d:
            if zero:
                out.append("零")
            word = _DIGITS[d]
            if d == 2 and unit in ("千", "百") and rng is not None and rng.random() < 0.5:
                word = "两"
            if not (d == 1 and unit == "十" and not out):
                out.append(word)
            out.append(unit)
            zero = False
        elif out:
            zero = True
    return "".join(out)


_BUDGETS_WAN = (2, 3, 5, 8, 10, 15, 20, 25, 30, 40, 45, 48, 50, 55, 60, 80, 100, 120, 150,
                200, 300, 500, 800, 1000, 3000, 15000)
_SEATS = (1, 2, 3, 4, 5, 8, 10, 15, 20, 30, 40, 50, 60, 80, 90, 99, 100, 120, 150, 200, 300, 500,
          800, 1000, 2000, 5000)


def say_budget(wan: int, rng: random.Random) -> str:
    """A budget of ``wan`` × 10,000 CNY as a caller would say it."""
    if wan >= 10_000:
        yi = wan / 10_000
        if yi.is_integer():
            return rng.choice([f"{int(yi)}个亿", f"{chinese_number(int(yi), rng)}个亿"])
        return rng.choice([f"{yi:g}个亿", f"{yi:g}亿"])
    forms = [f"{chinese_number(wan, rng)}万", f"{wan}万", f"{wan}万元",
             f"{chinese_number(wan, rng)}万块"]
    if wan < 100:  # seven-digit amounts read like phone numbers; callers say 万 anyway
        forms.append(f"{wan * 10_000}元")
    return rng.choice(forms)


def say_count(n: int, rng: random.Random) -> str:
    """A count of people/stores as a caller would say it (2 is 两 before a measure word)."""
    return rng.choice([str(n), "两" if n == 2 else chinese_number(n, rng)])


@dataclass(frozen=True)
class GeneratedDialog:
    """One generated call.

    Attributes:
        id: Dialog id.
        story: Name of the story it was drawn from.
        customer: CRM record.
        acts: What the caller meant, per turn.
        evidence: What the NLU (and voice stage) made of each turn.
        labels: Tier after 0..n turns (``labels[0]`` from the CRM record alone).
    """

    id: str
    story: str
    customer: CustomerProfile
    acts: tuple[Act, ...]
    evidence: tuple[TurnEvidence, ...]
    labels: tuple[str, ...]

    @property
    def utterances(self) -> tuple[str, ...]:
        return tuple(a.text for a in self.acts)

    @property
    def label(self) -> str:
        return self.labels[-1]


# -- CRM records per caller kind --------------------------------------------------------------

def _customer(kind: str, rng: random.Random) -> dict[str, float]:
    u, lg = rng.uniform, rng.lognormvariate
    existing = kind.startswith("existing")
    f: dict[str, float] = {
        "browse_duration": round(lg(1.0, 1.0)), "click_times": round(lg(1.5, 1.0)),
        "consult_count": rng.randint(0, 1), "contract_value": 0, "renewal_rate": 0,
        "response_speed": round(u(12, 96)), "complaint_count": 0, "referral_count": 0,
    }
    if kind in ("engaged", "hot"):
        hot = kind == "hot"
        f.update(browse_duration=round(lg(3.8 if hot else 3.0, 0.7)),
                 click_times=round(lg(4.5 if hot else 3.5, 0.7)),
                 consult_count=rng.randint(2 if hot else 1, 8 if hot else 4),
                 response_speed=round(u(1, 10 if hot else 24)),
                 referral_count=rng.choice([0, 0, 1]) if hot else 0)
    if existing:
        contract = {"existing_big": lg(14.0, 0.6), "existing_happy": lg(11.5, 0.8),
                    "existing_unhappy": lg(12.0, 1.0)}[kind]
        unhappy = kind == "existing_unhappy"
        f.update(contract_value=round(min(contract, 5e7), -3) or 5000,
                 renewal_rate=round(u(0.0, 0.7) if unhappy else u(0.5, 1.0), 2),
                 complaint_count=rng.choice([1, 2, 2, 3, 4, 6]) if unhappy
                 else rng.choice([0, 0, 0, 1, 2]),
                 consult_count=rng.randint(1, 12), browse_duration=round(lg(2.0, 1.0)),
                 click_times=round(lg(2.5, 1.0)),
                 response_speed=round(u(12, 120) if unhappy else u(1, 36)),
                 referral_count=0 if unhappy else rng.choice([0, 0, 1, 2, 3]))
    if rng.random() < 0.5:  # RFM columns known
        if existing:
            f.update(recency_days=round(u(100, 700) if kind == "existing_unhappy"
                                        else u(5, 300)),
                     frequency=rng.randint(1, 8),
                     monetary=round(f["contract_value"] * u(0.5, 2.0), -3))
        else:
            f.update(recency_days=365, frequency=0, monetary=0)
    if rng.random() < 0.12:  # an incomplete CRM record
        for name in rng.sample(CRM_FEATURES, rng.randint(1, 8)):
            if name != "contract_value" or not existing:
                f.pop(name, None)
    return f


# -- stories ----------------------------------------------------------------------------------

class _Script:
    """Builds the acts of one story."""

    def __init__(self, rng: random.Random, split: str) -> None:
        self.rng, self.split, self.acts = rng, split, []
        self.competitor = rng.choice(COMPETITORS)

    def say(self, kind: str, budget_wan: int | None = None, seats: int | None = None) -> None:
        text = self.rng.choice(split_templates(kind, self.split))
        budget = None
        if "{budget}" in text:
            budget_wan = budget_wan or self.rng.choice(_BUDGETS_WAN)
            budget = budget_wan * 10_000.0
            text = text.replace("{budget}", say_budget(budget_wan, self.rng))
        if "{seats}" in text:
            seats = seats or self.rng.choice(_SEATS)
            text = text.replace("{seats}", say_count(seats, self.rng))
            text = text.replace("{unit}", self.rng.choice(UNITS))
        text = text.replace("{competitor}", self.competitor)
        buying = kind == "customization" and "签" in text
        self.acts.append(Act(kind, text, budget, seats, buying))

    def maybe(self, p: float, kind: str, **kw) -> None:
        if self.rng.random() < p:
            self.say(kind, **kw)

    def some(self, kinds: tuple[str, ...], lo: int, hi: int) -> None:
        for _ in range(self.rng.randint(lo, hi)):
            self.say(self.rng.choice(kinds))


_INTEREST = ("ask_price", "ask_feature", "ask_trial", "integration_q")


def _big_deal(s: _Script) -> str:
    s.maybe(0.4, "greet")
    s.maybe(0.6, s.rng.choice(("purchase", "ask_price", "ask_feature")))
    which = s.rng.random()
    if which < 0.5:
        s.say("budget")
    if which >= 0.35:
        s.say("seats")
    s.maybe(0.3, s.rng.choice(("hesitation", "ask_trial", "filler", "request_human")))
    return s.rng.choice(("hot", "engaged", "engaged", "cold"))


def _customisation(s: _Script) -> str:
    s.maybe(0.3, "greet")
    n = s.rng.choice((2, 3, 3, 3, 4))
    for i in range(n):
        s.say("customization")
        if i < n - 1:
            s.maybe(0.25, s.rng.choice(("filler", "ask_price", "ask_feature")))
    s.maybe(0.3, s.rng.choice(("purchase", "hesitation")))
    return s.rng.choice(("hot", "engaged", "cold"))


def _integration(s: _Script) -> str:
    s.maybe(0.3, "greet")
    if s.rng.random() < 0.5:
        s.say("integration_buy")
    else:
        first, second = s.rng.sample(["integration_q", "purchase"], 2)
        s.say(first)
        s.maybe(0.3, "ask_feature")
        s.maybe(0.75, second)
    s.maybe(0.3, s.rng.choice(("seats", "hesitation", "ask_price")))
    return s.rng.choice(("hot", "engaged"))


def _expand(s: _Script) -> str:
    s.maybe(0.3, "greet")
    s.maybe(0.3, s.rng.choice(("ask_invoice", "renew")))
    s.say("expand")
    s.maybe(0.4, s.rng.choice(("seats", "ask_price", "purchase", "hesitation")))
    return s.rng.choice(("existing_happy", "existing_big"))


def _renew(s: _Script) -> str:
    """An existing customer renewing on the same terms: routine business, medium."""
    s.maybe(0.3, "greet")
    s.maybe(0.25, s.rng.choice(("ask_invoice", "ask_price")))
    s.say("renew")
    s.maybe(0.4, s.rng.choice(("ask_price", "ask_invoice", "ask_feature", "filler", "hesitation")))
    return s.rng.choice(("existing_happy", "existing_happy", "existing_big"))


def _interest(s: _Script) -> str:
    s.maybe(0.4, "greet")
    s.some(_INTEREST + ("budget", "seats", "customization", "purchase", "filler"), 1, 4)
    s.maybe(0.35, "hesitation")
    s.maybe(0.1, "request_human")
    return s.rng.choice(("engaged", "engaged", "hot", "cold"))


def _routine(s: _Script) -> str:
    s.maybe(0.4, "greet")
    s.some(("ask_invoice", "tech_problem", "ask_feature", "ask_price", "filler"), 1, 3)
    s.maybe(0.3, "complaint")
    s.maybe(0.25, "request_human")
    return s.rng.choice(("existing_happy", "existing_happy", "existing_big", "existing_unhappy"))


def _refusal(s: _Script) -> str:
    s.maybe(0.3, "greet")
    if s.rng.random() < 0.4:
        s.some(("ask_price", "ask_feature", "budget", "seats", "filler"), 1, 2)
    s.say(s.rng.choice(("refusal", "refusal", "wrong_number", "personal", "too_expensive")))
    s.maybe(0.35, s.rng.choice(("refusal", "filler", "too_expensive")))
    if s.rng.random() < 0.1:  # changes their mind
        s.say(s.rng.choice(("ask_price", "ask_trial")))
    kind = s.rng.choice(("cold", "cold", "engaged", "existing_happy"))
    return kind


def _churn(s: _Script) -> str:
    s.maybe(0.3, "greet")
    path = s.rng.random()
    if path < 0.4:
        s.maybe(0.6, "complaint")
        s.maybe(0.3, "filler")
        s.say("churn")
        s.maybe(0.2, "refusal")
    elif path < 0.65:
        s.maybe(0.5, s.rng.choice(("complaint", "tech_problem")))
        s.say("angry")
    elif path < 0.85:
        s.say("complaint")
        s.maybe(0.3, "filler")
        s.say("complaint")
    else:
        s.say(s.rng.choice(("complaint", "tech_problem", "ask_invoice")))
    s.maybe(0.25, "request_human")
    return s.rng.choice(("existing_unhappy", "existing_unhappy", "existing_happy"))


def _angry_prospect(s: _Script) -> str:
    s.say(s.rng.choice(("angry", "complaint")))
    s.maybe(0.7, s.rng.choice(("refusal", "ask_trial", "tech_problem")))
    return s.rng.choice(("cold", "engaged"))


STORIES: dict[str, tuple[float, Callable[[_Script], str]]] = {
    "big_deal": (0.16, _big_deal),
    "customisation": (0.07, _customisation),
    "integration": (0.06, _integration),
    "expand": (0.06, _expand),
    "renew": (0.05, _renew),
    "interest": (0.17, _interest),
    "routine": (0.12, _routine),
    "refusal": (0.17, _refusal),
    "churn": (0.16, _churn),
    "angry_prospect": (0.03, _angry_prospect),
}


def _voice(act: Act, rng: random.Random) -> tuple[str, float]:
    """Simulated voice-stage emotion for an act: right most of the time, never certain."""
    true = {"angry": "angry", "hesitation": "hesitant", "purchase": "positive",
            "integration_buy": "positive", "expand": "positive"}.get(act.kind, "neutral")
    if act.kind == "complaint" and rng.random() < 0.2:
        true = "angry"
    p_right = {"angry": 0.8, "hesitant": 0.6, "positive": 0.5}.get(true, 0.85)
    label = true if rng.random() < p_right else rng.choice(
        [e for e in ("neutral", "angry", "hesitant", "positive") if e != true])
    arousal = rng.uniform(0.55, 1.0) if label == "angry" else rng.uniform(0.0, 0.55)
    return label, round(arousal, 3)


def _sharpen(ev: TurnEvidence, power: float) -> TurnEvidence:
    """Intent distribution raised to ``power`` and renormalised: another NLU's calibration
    (a sharper trained classifier or a flatter one), so the tier model does not depend on
    the exact confidence level of today's NLU."""
    if abs(power - 1) < 1e-6:
        return ev
    raised = {k: v**power for k, v in ev.intent_scores.items()}
    total = sum(raised.values()) or 1.0
    return replace(ev, intent_scores={k: v / total for k, v in raised.items()})


class DialogGenerator:
    """Draws labelled dialogs.

    Args:
        nlu: NLU used to turn words into evidence (default: ``Nlu()``).
        split: template pool: ``train``, ``test``, ``fit``/``calib`` (halves of train), ``all``.
    """

    def __init__(self, nlu: Nlu | None = None, split: str = "train") -> None:
        if split not in (*SPLITS, "all"):
            raise ValueError(f"split must be one of {', '.join(SPLITS)} or all, not {split!r}")
        self.nlu = nlu or Nlu()
        self.split = split
        self._cache: dict[str, TurnEvidence] = {}

    def evidence(self, text: str, voice: tuple[str, float] | None = None) -> TurnEvidence:
        """What a call session derives from one utterance (plus simulated voice)."""
        ev = self._cache.get(text)
        if ev is None:
            r = self.nlu.analyze(text)
            emo = emotion_from_words(r.sentiment, r.anger, r.scores.get("hesitation", 0.0))
            ev = TurnEvidence(
                intent_scores=r.scores, budget_cny=r.entities.budget_cny, seats=r.entities.seats,
                sentiment=r.sentiment, anger=r.anger, emotion=emo.label, arousal=emo.arousal,
                competitor=r.entities.competitor, text=text)
            self._cache[text] = ev
        if voice is None:
            return ev
        return TurnEvidence(
            intent_scores=ev.intent_scores, budget_cny=ev.budget_cny, seats=ev.seats,
            sentiment=ev.sentiment, anger=ev.anger, emotion=voice[0], arousal=voice[1],
            competitor=ev.competitor, text=text)

    def generate(self, n: int, seed: int = 0, prefix: str = "g") -> list[GeneratedDialog]:
        """``n`` dialogs, reproducible from ``seed``."""
        return list(self.iter(n, seed, prefix))

    def iter(self, n: int, seed: int = 0, prefix: str = "g") -> Iterator[GeneratedDialog]:
        rng = random.Random(seed)
        names = list(STORIES)
        weights = [STORIES[k][0] for k in names]
        for i in range(n):
            story = rng.choices(names, weights)[0]
            script = _Script(rng, self.split)
            kind = STORIES[story][1](script)
            if not script.acts or rng.random() < 0.3:  # an interjection anywhere
                script.say("filler")
                script.acts.insert(rng.randrange(len(script.acts)), script.acts.pop())
            customer = parse_customer({"id": f"{prefix}{i}", **_customer(kind, rng)})
            voice = rng.random() < 0.5
            sharpness = math.exp(rng.uniform(-0.7, 0.7))
            evidence = tuple(_sharpen(self.evidence(a.text, _voice(a, rng) if voice else None),
                                      sharpness) for a in script.acts)
            f = customer.features
            labels = tuple(
                label_of(script.acts[:t], f["contract_value"] > 0, f["complaint_count"])
                for t in range(len(script.acts) + 1))
            yield GeneratedDialog(f"{prefix}{i}", story, customer, tuple(script.acts),
                                  evidence, labels)
