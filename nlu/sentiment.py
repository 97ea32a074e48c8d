"""Word sentiment and anger: lexicon rules with negation and intensifiers.

``sentiment`` is polarity in [-1, 1]; ``anger`` is the strength of strong negative affect in
[0, 1]: threats to complain or expose (我要投诉你们, 曝光, 12315), insults (骗子, 垃圾),
shouting words (气死了, 什么破系统). A mild complaint (系统有点慢) scores low on anger although
its sentiment is negative. :mod:`tierline.nlu.anger` reads the cues against the rest of the
turn before they count as an angry caller.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from tierline.nlu.reading import literal_spans

__all__ = ["AMBIGUOUS_ANGER", "AngerCue", "LexiconSentiment", "SentimentModel", "anger_cues",
           "anger_score"]

_POSITIVE: dict[str, float] = {
    "不错": 1.0, "满意": 1.0, "很好": 1.0, "挺好": 0.9, "好用": 1.0, "喜欢": 1.0, "感谢": 0.8,
    "谢谢": 0.5, "太好了": 1.2, "方便": 0.7, "专业": 0.7, "靠谱": 0.9, "期待": 0.7, "棒": 1.0,
    "赞": 0.9, "合适": 0.6, "划算": 0.8, "优秀": 1.0, "放心": 0.7, "认可": 0.7, "好的": 0.4,
    "可以": 0.3, "行": 0.2, "没问题": 0.5, "给力": 1.0, "实用": 0.7, "高效": 0.7, "开心": 1.0,
    "稳定": 0.5, "感兴趣": 0.6, "清楚": 0.4, "厉害": 0.8, "好": 0.5, "不贵": 0.5, "便宜": 0.4,
    "不差": 0.4, "不慢": 0.3, "不卡": 0.3, "挺快": 0.6, "及时": 0.6, "耐心": 0.6,
}
_NEGATIVE: dict[str, float] = {
    "不满意": 1.2, "不好": 0.8, "不行": 0.8, "不靠谱": 1.0, "不专业": 1.0, "不方便": 0.7,
    "不好用": 1.0, "没用": 0.8, "不稳定": 0.8, "不感兴趣": 0.5, "差": 1.0, "失望": 1.1,
    "糟糕": 1.1, "烂": 1.2, "垃圾": 1.4, "生气": 1.2, "投诉": 1.0, "崩": 0.9, "慢": 0.5,
    "卡": 0.5, "贵": 0.6, "麻烦": 0.5, "难用": 1.0, "问题": 0.3, "骗": 1.4, "坑": 1.1,
    "后悔": 1.0, "无语": 0.9, "受不了": 1.2, "受够了": 1.3, "气死": 1.5, "恶心": 1.3,
    "烦": 0.8, "退款": 0.6, "报错": 0.6, "打不开": 0.6, "登录不了": 0.6, "用不了": 0.7,
    "没人管": 1.0, "没人理": 1.0, "不理": 0.8, "敷衍": 1.0, "过分": 1.1, "愤怒": 1.5,
    "火大": 1.3, "郁闷": 0.8, "担心": 0.4, "折腾": 0.6, "故障": 0.6, "闪退": 0.7, "崩溃": 1.0,
    "态度差": 1.2, "不满": 1.0, "不爽": 1.0, "讨厌": 1.1, "破": 0.8, "丢": 0.5, "滚": 1.3,
}
_NEGATORS = ("不是很", "不太", "不怎么", "没那么", "并不", "不", "没有", "没", "别", "未", "无")
_INTENSIFIERS = ("非常", "特别", "十分", "极其", "超级", "太", "很", "真", "超", "好", "挺", "最",
                 "巨", "贼")

_ANGER: dict[str, float] = {
    "我要投诉": 0.85, "投诉你们": 0.85, "要投诉": 0.75, "去投诉": 0.75, "投诉": 0.55,
    "曝光": 0.85, "12315": 0.9, "消协": 0.85, "消费者协会": 0.85, "工商局": 0.8,
    "媒体": 0.5, "起诉": 0.85, "告你们": 0.9, "律师": 0.75, "法院": 0.75, "报警": 0.85,
    "骗子": 0.9, "骗人": 0.85, "骗钱": 0.9, "坑人": 0.8, "坑爹": 0.75, "黑心": 0.85,
    "垃圾": 0.75, "什么破": 0.8, "破系统": 0.8, "破玩意": 0.85, "破软件": 0.8,
    "什么玩意": 0.8, "搞什么": 0.6, "搞什么鬼": 0.8, "气死": 0.9, "气死了": 0.95,
    "非常生气": 0.85, "很生气": 0.8, "太生气": 0.85, "生气": 0.65, "愤怒": 0.85, "火大": 0.8,
    "恼火": 0.75, "受够了": 0.8, "忍无可忍": 0.9, "欺人太甚": 0.9, "岂有此理": 0.85,
    "太过分": 0.75, "过分": 0.5, "混蛋": 0.95, "王八蛋": 0.95, "傻逼": 0.95, "傻b": 0.95,
    "sb": 0.9, "他妈": 0.9, "tmd": 0.9, "妈的": 0.9, "去死": 0.95, "滚": 0.85, "废物": 0.85,
    "弱智": 0.9, "脑残": 0.9, "退钱": 0.6, "赔钱": 0.7, "赔偿": 0.55, "差评": 0.6,
    "无耻": 0.9, "流氓": 0.85, "不要脸": 0.9, "耍我": 0.8, "敷衍": 0.5, "什么态度": 0.7,
}
_ANGER_NEGATABLE = {"生气", "投诉", "要投诉", "去投诉", "过分", "太过分", "愤怒", "火大", "恼火",
                    "差评", "敷衍", "赔偿", "退钱"}
AMBIGUOUS_ANGER = frozenset({
    "垃圾", "滚", "律师", "法院", "媒体", "曝光", "报警", "工商局", "投诉", "要投诉", "去投诉",
    "差评", "赔偿", "赔钱", "退钱", "过分", "敷衍", "搞什么", "sb", "tmd", "他妈", "妈的",
    "废物", "流氓", "生气"})
"""Anger cues with an everyday sense besides the insult or threat (垃圾 is also waste, 律师 a
profession, 投诉 a feature, 滚 a roller): alone they need words outside them that say the
turn is a complaint (:func:`tierline.nlu.anger.read_anger`)."""


def _alternation(words: list[str]) -> re.Pattern[str]:
    return re.compile("|".join(re.escape(w) for w in sorted(words, key=len, reverse=True)),
                      re.IGNORECASE)


_LEXICON = {**_POSITIVE, **{k: -v for k, v in _NEGATIVE.items()}}
_LEX_RE = _alternation(list(_LEXICON))
_ANGER_RE = _alternation(list(_ANGER))
_ASCII_EDGE = re.compile(r"[a-z0-9]", re.IGNORECASE)
_FIXED_NEGATION = {"不错", "不满意", "不好", "不行", "不靠谱", "不专业", "不方便", "不好用",
                   "不稳定", "不感兴趣", "没问题", "不贵", "不差", "不慢", "不卡", "不满", "不爽",
                   "不理", "没用", "没人管", "没人理", "受不了", "不要脸", "用不了", "打不开",
                   "登录不了"}


def _negated(text: str, start: int) -> bool:
    """True when a negator sits right before ``start`` (within three characters)."""
    window = text[max(0, start - 3):start]
    window = re.sub(r"(.)[不没]\1", "", window)  # 是不是 / 有没有 are questions, not negation
    return any(n in window for n in _NEGATORS) and "不得不" not in window


def _intensity(text: str, start: int) -> float:
    window = text[max(0, start - 2):start]
    return 1.5 if any(window.endswith(w) for w in _INTENSIFIERS) else 1.0


class SentimentModel:
    """Base class of sentiment models: ``score`` validates text and calls ``_score_impl``.

    Attributes:
        trained: True for learned models; the lexicon version is rule based.
    """

    trained: bool = False

    def score(self, text: str) -> float:
        """Sentiment polarity of one utterance.

        Args:
            text: The utterance (any string; non-strings count as empty).

        Returns:
            A float in [-1, 1]: negative < 0 < positive, 0 for neutral or empty text.
        """
        if not isinstance(text, str) or not text.strip():
            return 0.0
        value = float(self._score_impl(text))
        if math.isnan(value):
            return 0.0
        return max(-1.0, min(1.0, value))

    def _score_impl(self, text: str) -> float:
        raise NotImplementedError


class LexiconSentiment(SentimentModel):
    """Lexicon sentiment with negation (不满意 −, 不错 +, 没问题 +) and intensifiers."""

    def _score_impl(self, text: str) -> float:
        total = 0.0
        for m in _LEX_RE.finditer(text):
            word = m.group(0)
            w = _LEXICON[word]
            if word not in _FIXED_NEGATION and _negated(text, m.start()):
                w = -w * (0.5 if w > 0 else 0.3)  # 不太满意 is negative, 不慢 weakly positive
            total += w * _intensity(text, m.start())
        return math.tanh(total * 0.7)


@dataclass(frozen=True)
class AngerCue:
    """One anger cue found in a turn.

    Attributes:
        word: The cue as listed (lower case).
        start: Offset in the turn.
        end: Offset after it.
        weight: Its strength in [0, 1].
    """

    word: str
    start: int
    end: int
    weight: float


def anger_cues(text: str) -> list[AngerCue]:
    """Anger cues in a turn: threats to complain or expose, insults, shouting words.

    Not counted: a negated cue (我不是要投诉), a cue in its everyday sense
    (:func:`tierline.nlu.reading.literal_spans`: 垃圾处理, 滚筒, 律师事务所), and a Latin or digit
    cue inside a longer word (sb of USB, 12315 inside a longer number).
    """
    if not isinstance(text, str) or not text:
        return []
    literal = literal_spans(text)
    cues = []
    for m in _ANGER_RE.finditer(text):
        word = m.group(0).lower()
        if word in _ANGER_NEGATABLE and _negated(text, m.start()):
            continue
        if any(a < m.end() and m.start() < b for a, b in literal):
            continue
        if word.isascii() and (
                (m.start() > 0 and _ASCII_EDGE.match(text[m.start() - 1]))
                or (m.end() < len(text) and _ASCII_EDGE.match(text[m.end()]))):
            continue
        cues.append(AngerCue(word, m.start(), m.end(), _ANGER[word]))
    return cues


def anger_score(text: str, cues: list[AngerCue] | None = None) -> float:
    """Strength of strong negative affect in the words, from the cues alone.

    Noisy-OR of :func:`anger_cues`, boosted by exclamation marks when a cue is present. This
    is the lexical reading; :func:`tierline.nlu.anger.read_anger` decides whether the rest of
    the turn backs it.

    Args:
        text: The utterance.
        cues: The cues already found in ``text`` (computed when omitted).

    Returns:
        A float in [0, 1]; 0 when no cue is present.
    """
    if not isinstance(text, str) or not text:
        return 0.0
    cues = anger_cues(text) if cues is None else cues
    if not cues:
        return 0.0
    keep = 1.0
    for cue in cues:
        keep *= 1.0 - cue.weight
    score = 1.0 - keep
    bangs = text.count("!") + text.count("！")
    if bangs:
        score += 0.1 * min(bangs, 3) * (1.0 - score)
    return round(max(0.0, min(1.0, score)), 4)
