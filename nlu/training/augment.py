"""Training-time text augmentation: spoken fillers, run-on lead-ins and ASR-like character noise.

Used only by the trainer (pure Python, seeded). Each transform keeps the label:

- ``fillers``: a spoken opener (喂/嗯/那个/就是说...) and/or a sentence-final particle
  (啊/吧/嘛/哈...), as callers pad their turns;
- ``lead_in``: an out-of-domain clause of small talk or context before the utterance
  (``喂你好，我是他们公司行政，`` + ...), so a run-on turn is labelled by its point;
- ``homophones``: characters swapped for another character with the same toneless pinyin
  (感兴趣 → 赶兴趣), the commonest error of Whisper on phone audio;
- ``drop``: a character deleted, as a clipped word;
- ``endings``: a clause-final particle swapped for another Whisper confuses it with
  (了/的/啦/咯: "不想用了" is often heard as "不想用的") or dropped, as phone audio clips it;
- ``synonyms``: a domain word swapped for a same-meaning word (价格/价钱/费用,
  系统/软件/平台, 我们/咱们/俺们, 怎么/咋, 领导/老板, ...), so a cue learnt in one wording
  carries to the others.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable, Sequence

from tierline.nlu.chars import toneless

__all__ = ["Augmenter", "homophone_table"]

OPENERS = ("喂", "喂你好", "你好", "嗯", "嗯嗯", "那个", "就是", "就是说", "哎", "哎你好", "呃",
           "这个", "我跟你说", "是这样", "对", "好", "喂喂")
PARTICLES = ("啊", "吧", "呢", "哈", "嘛", "呀", "哦", "的", "啦", "噢", "咯")
SYNONYMS: tuple[tuple[str, ...], ...] = (
    ("价格", "价钱", "费用", "报价"),
    ("多少钱", "什么价", "啥价钱", "几多钱"),
    ("系统", "软件", "平台", "产品"),
    ("我们", "咱们", "俺们", "我们这边"),
    ("公司", "单位", "企业"),
    ("老板", "领导", "经理"),
    ("打算", "准备", "计划"),
    ("能不能", "可不可以", "能否"),
    ("怎么", "咋", "怎样", "如何"),
    ("什么", "啥", "啥子"),
    ("账号", "帐号", "账户"),
    ("坐席", "座席", "席位"),
    ("不需要", "不用", "用不着"),
    ("谢谢", "多谢", "感谢"),
    ("马上", "立刻", "尽快"),
    ("你们", "您们", "你们家", "贵公司"),
    ("一下", "一哈", "下"),
    ("很", "非常", "特别", "挺"),
    ("员工", "职员", "同事"),
)
ENDING_SWAPS = ("了", "的", "啦", "咯")
"""Clause-final particles Whisper hears interchangeably on phone audio (le/de/la/lo)."""
_ENDING_RE = re.compile(r"([了的啦咯啊吧呢哈嘛呀哦噢])(?=[，。！？,.!?]*$|[，,])")
_SYN_INDEX = {w: g for g in SYNONYMS for w in g}
_SYN_RE = re.compile("|".join(sorted(map(re.escape, _SYN_INDEX), key=len, reverse=True)))


def homophone_table(chars: Iterable[str]) -> dict[str, tuple[str, ...]]:
    """For each CJK character, the other characters of ``chars`` with the same toneless pinyin.

    Args:
        chars: Candidate characters (the training vocabulary), most frequent first.

    Returns:
        Mapping character → homophones (empty tuples omitted).
    """
    groups: dict[str, list[str]] = {}
    cjk = [c for c in dict.fromkeys(chars) if len(c) == 1 and "\u4e00" <= c <= "\u9fff"]
    for c in cjk:
        if reading := toneless(c):
            groups.setdefault(reading, []).append(c)
    table: dict[str, tuple[str, ...]] = {}
    for members in groups.values():
        for c in members:
            others = tuple(m for m in members if m != c)
            if others:
                table[c] = others
    return table


class Augmenter:
    """Label-preserving variants of one utterance.

    Args:
        homophones: Table from :func:`homophone_table`.
        lead_ins: Out-of-domain clauses usable as run-on openers.
        seed: Seed of the private random generator.
    """

    def __init__(self, homophones: dict[str, tuple[str, ...]], lead_ins: Sequence[str],
                 seed: int = 0) -> None:
        self.homophones = homophones
        self.lead_ins = [t.rstrip("。！？!?.，,") for t in lead_ins if 2 <= len(t) <= 20]
        self.rng = random.Random(seed)

    def fillers(self, text: str) -> str:
        r = self.rng
        if r.random() < 0.7:
            text = r.choice(OPENERS) + r.choice(("，", " ", "")) + text
        if r.random() < 0.5:
            text = text.rstrip("。！？!?.") + r.choice(PARTICLES)
        return text

    def lead_in(self, text: str) -> str:
        if not self.lead_ins:
            return text
        return self.rng.choice(self.lead_ins) + "，" + text

    def noise(self, text: str, rate: float = 0.12) -> str:
        """Swap about ``rate`` of the characters for homophones and drop a few."""
        r = self.rng
        out = []
        for ch in text:
            u = r.random()
            if u < rate and ch in self.homophones:
                out.append(r.choice(self.homophones[ch]))
            elif u < rate + 0.03 and len(text) > 4:
                continue
            else:
                out.append(ch)
        return "".join(out) or text

    def endings(self, text: str) -> str:
        """Swap (了/的/啦/咯 among themselves) or drop clause-final particles."""
        r = self.rng

        def swap(m: re.Match[str]) -> str:
            ch = m.group(1)
            if r.random() < 0.35:
                return ""
            if ch in ENDING_SWAPS and r.random() < 0.8:
                return r.choice([w for w in ENDING_SWAPS if w != ch])
            return ch

        return _ENDING_RE.sub(swap, text) or text

    def synonyms(self, text: str, rate: float = 0.5) -> str:
        """Swap each listed domain word for another of its group with probability ``rate``."""
        r = self.rng

        def swap(m: re.Match[str]) -> str:
            word = m.group(0)
            if r.random() >= rate:
                return word
            return r.choice([w for w in _SYN_INDEX[word] if w != word])

        return _SYN_RE.sub(swap, text)

    def variant(self, text: str) -> str:
        """One random combination of the transforms (may return the text unchanged)."""
        r = self.rng
        if r.random() < 0.5:
            text = self.synonyms(text)
        if r.random() < 0.2:
            text = self.lead_in(text)
        if r.random() < 0.5:
            text = self.fillers(text)
        if r.random() < 0.3:
            text = self.endings(text)
        if r.random() < 0.5:
            text = self.noise(text)
        return text
