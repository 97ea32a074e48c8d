"""Call acts: a caller opting out of calls, or busy and asking to be called later.

A small character n-gram logistic regression (``nlu/models/call_acts.json``, trained by
``python -m tierline.nlu.training.call_acts``) reads a turn as one of :data:`ACTS`:

- ``opt_out``: stop calling / contacting me, remove my number, further calls are unwanted
  (以后别再打过来了, 把我号码删了, 天天打烦不烦). Honouring it is a legal obligation, so the
  model's threshold is set for recall (:attr:`CallActModel.thresholds`) and the dialog keeps
  the knowledge base's phrase list as a floor;
- ``callback``: the caller cannot talk now and asks for, or accepts, a call later
  (现在在开会，没空; 你明天下午三点再打过来); besides the model, a floor of busy words
  (:data:`BUSY`: 在开会, 走不开, 抽不开身, 不方便说话 ...) counts when the turn neither lets
  the bot go on (:data:`GO_ON`: 你说吧, 长话短说, 稍等) nor refuses (:data:`REFUSE`);
- ``other``: everything else, refusals of the product included.

Features are the turn's characters after :func:`tierline.nlu.pipeline.normalize`, lower
case, without punctuation or spaces, digits folded to ``0``, framed by ``^`` and ``$``: every
1-, 2- and 3-gram; and four tags from the definition of an opt-out, which character n-grams
cannot combine by themselves: the turn names contact (:data:`CONTACT`), asks for something to
stop (:data:`STOP`), both, or asks to be called (:data:`ASK`). Scoring is a dictionary lookup
per n-gram and a softmax (plain Python).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from tierline.nlu.errors import NluError

__all__ = ["ACTS", "ASK", "BUSY", "CALL_ACTS_MODEL", "CONTACT", "FORMAT", "GO_ON", "REFUSE",
           "STOP", "CallAct", "CallActModel", "busy", "features", "load_call_acts"]

ACTS = ("opt_out", "callback", "other")
FORMAT = "tierline-call-acts-v1"
CALL_ACTS_MODEL = Path(__file__).resolve().parent / "models" / "call_acts.json"
_DROP = re.compile(r"[\W_]+")
CONTACT = re.compile(
    r"打(?![折款印卡包开字算听工车球])|电话|来电|致电|拨|call|联系|找我|打扰|骚扰|烦|号码|号"
    r"|名单|拉黑|删|短信|信息|消息|微信|推销|营销|广告|放过|有完没完", re.IGNORECASE)
"""Words of contact or its nuisance (打 as in calling, not 打折 or 打印)."""
STOP = re.compile(r"别|不要|不用|甭|勿|莫|唔好|覅|停止|拒绝|不想|不希望|不再|删|拉黑|够了|放过"
                  r"|有完没完|烦|还打|又打|老打|天天打|一直打")
"""Words that ask for something to stop or say it is unwanted."""
ASK = re.compile(r"(?:打给|打|联系|回电话给|通知)我|给我(?:打|回|来)|回(?:个)?电话|联系一下")
"""Words that ask for a call (让销售联系我): the opposite of an opt-out."""
BUSY = re.compile(
    r"(?:在|要|去|正|马上)开会|开会呢|开着会|会议室|(?:现在|这会儿?|这边|手头|手上|正|在)"
    r"(?:有点|太|很|特别|比较)?忙|忙着呢|没空|没时间|没工夫|(?:现在|这会儿?|说话|接电话)不方便"
    r"|不方便(?:说话|接|讲|聊|通话)|走不开|抽不开身|脱不开身|腾不出|顾不上|手[上头]有事|有急事"
    r"|(?:我|现在|正|这会儿?)(?:在|正在)?(?:开车|开着车|外面|外地|路上|高速|地铁|上课|吃饭|出差"
    r"|见客户|办事|带孩子|排队|医院|工地|飞机)")
"""Words of a caller who cannot talk now."""
GO_ON = re.compile(r"你说|你讲|说吧|讲吧|快点说|长话短说|简单说|听着|稍等|等一下|等我一下|你等")
"""Words that let the bot go on in spite of being busy (我在开车，你说吧)."""
REFUSE = re.compile(r"不需要|不用了|没兴趣|不感兴趣|不考虑|不买|用不上|用不着|挂了|不要")
"""Refusals: a busy refusal (没空，不需要) is a refusal, not a request for a callback."""
_DIGIT = re.compile(r"\d")


def features(text: str) -> list[str]:
    """The character 1-3-grams the model reads (see the module docstring)."""
    from tierline.nlu.pipeline import normalize

    core = _DIGIT.sub("0", _DROP.sub("", normalize(text).lower()))
    if not core:
        return []
    framed = f"^{core}$"
    grams = list(core)
    for n in (2, 3):
        grams += [framed[i:i + n] for i in range(len(framed) - n + 1)]
    contact, stop = bool(CONTACT.search(core)), bool(STOP.search(core))
    grams += [tag for tag, on in (("<contact>", contact), ("<stop>", stop),
                                  ("<stop+contact>", contact and stop),
                                  ("<ask>", bool(ASK.search(core)))) if on]
    return grams


def busy(text: str) -> bool:
    """The busy floor: busy words, and neither go-on words nor a refusal."""
    from tierline.nlu.pipeline import normalize

    t = normalize(text) if isinstance(text, str) else ""
    return bool(BUSY.search(t)) and not GO_ON.search(t) and not REFUSE.search(t)


@dataclass(frozen=True)
class CallAct:
    """The act a turn performs.

    Attributes:
        label: One of :data:`ACTS`.
        probabilities: Probability per act.
    """

    label: str
    probabilities: dict[str, float] = field(default_factory=dict)

    @property
    def score(self) -> float:
        return self.probabilities.get(self.label, 0.0)


@dataclass(frozen=True)
class CallActModel:
    """A trained call-act model.

    Attributes:
        labels: Output classes, in weight order.
        bias: One bias per class.
        weights: n-gram → one weight per class.
        thresholds: ``opt_out`` / ``callback`` → the probability at which the act is
            taken (``opt_out`` is checked first).
        info: How it was trained and what it scored.
    """

    labels: tuple[str, ...]
    bias: tuple[float, ...]
    weights: dict[str, tuple[float, ...]]
    thresholds: dict[str, float]
    info: dict

    def probabilities(self, text: str) -> dict[str, float]:
        """Probability of each act for one turn (any string)."""
        z = list(self.bias)
        for gram in features(text) if isinstance(text, str) else []:
            w = self.weights.get(gram)
            if w is not None:
                z = [a + b for a, b in zip(z, w, strict=True)]
        top = max(z)
        e = [math.exp(v - top) for v in z]
        total = sum(e)
        return {label: v / total for label, v in zip(self.labels, e, strict=True)}

    def read(self, text: str) -> CallAct:
        """The act of one turn: ``opt_out`` at its threshold, then ``callback`` at its
        threshold or by the busy floor (:func:`busy`), else ``other``."""
        p = self.probabilities(text)
        if p.get("opt_out", 0.0) >= self.thresholds.get("opt_out", 0.5):
            return CallAct("opt_out", p)
        if p.get("callback", 0.0) >= self.thresholds.get("callback", 0.5) or busy(text):
            return CallAct("callback", p)
        return CallAct("other", p)

    def to_json(self) -> dict:
        return {"format": FORMAT, "labels": list(self.labels), "bias": list(self.bias),
                "thresholds": self.thresholds, "info": self.info,
                "weights": {g: list(w) for g, w in sorted(self.weights.items())}}


@lru_cache(maxsize=4)
def _load(path: str) -> CallActModel:
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise NluError(f"call-act model not found: {p} "
                       "(run `python -m tierline.nlu.training.call_acts`)") from None
    except (OSError, ValueError) as exc:
        raise NluError(f"cannot read call-act model {p}: {exc}") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise NluError(f"{p} is not a Tierline call-act model")
    try:
        labels = tuple(data["labels"])
        n = len(labels)
        weights = {str(g): tuple(float(x) for x in w) for g, w in data["weights"].items()}
        bias = tuple(float(x) for x in data["bias"])
        thresholds = {str(k): float(v) for k, v in data["thresholds"].items()}
    except (KeyError, TypeError, ValueError) as exc:
        raise NluError(f"{p}: bad call-act model ({exc})") from None
    if set(labels) != set(ACTS) or len(bias) != n or any(len(w) != n for w in weights.values()):
        raise NluError(f"{p}: labels or weight shapes do not match {ACTS}")
    return CallActModel(labels, bias, weights, thresholds, dict(data.get("info", {})))


def load_call_acts(path: str | Path | None = None) -> CallActModel:
    """Load (once per process) the shipped call-act model or ``path``.

    Raises:
        NluError: missing or malformed file.
    """
    return _load(str(Path(path or CALL_ACTS_MODEL).resolve()))
