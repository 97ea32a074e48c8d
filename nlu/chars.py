"""Character units and the character vocabulary of the trained NLU models.

The models read characters, not words, so they need no segmenter and degrade gently when ASR
swaps one character. Before lookup, text is reduced to *units*:

- letters lower-cased, every punctuation mark and space dropped (ASR punctuation is
  arbitrary, and a typed and a heard utterance should look alike);
- every number expression found by :func:`tierline.nlu.numerals.find_numbers` becomes one
  magnitude token ``[N0]``..``[N9]`` (``[Nk]`` means 10^k <= value < 10^(k+1); below 1 is
  ``[N0]``), so ``两百个座席``, ``200个座席`` and ``二百个座席`` read the same and the model
  can learn that size matters without learning numerals;
- every other character is one unit.

Beside the unit ids a model may read hashed unit bigrams (:func:`bigram_ids`) and hashed
*sounds* (:func:`sound_ids`): the toneless, dialect-folded pinyin of each Chinese character,
so that ASR homophone swaps (买/卖, 负责人/负责任, 是/四 for a southern speaker) share an
embedding.

The same code runs in training and at run time; the vocabulary ships inside the ONNX file.
"""

from __future__ import annotations

import math
import unicodedata
import zlib
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from tierline.nlu.numerals import find_numbers

__all__ = ["CLS", "MASK", "NUM_TOKENS", "PAD", "SPECIALS", "UNK", "CharVocab", "bigram_ids",
           "clip_units", "sound", "sound_ids", "units"]

PAD, UNK, CLS, MASK = "[PAD]", "[UNK]", "[CLS]", "[MASK]"
NUM_TOKENS = tuple(f"[N{k}]" for k in range(10))
SPECIALS = (PAD, UNK, CLS, MASK, *NUM_TOKENS)


def _magnitude(value: float) -> str:
    k = 0 if value < 1 else min(9, int(math.log10(value) + 1e-9))
    return NUM_TOKENS[k]


def _keep(ch: str) -> bool:
    cat = unicodedata.category(ch)
    return not (cat.startswith("P") or cat.startswith("Z") or cat.startswith("C")
                or ch.isspace() or cat == "Sk")


def units(text: str) -> list[str]:
    """Split normalised text into model units (characters and number tokens).

    Args:
        text: One utterance, ideally already normalised by
            :func:`tierline.nlu.pipeline.normalize`.

    Returns:
        The units in order; empty for empty or punctuation-only text.
    """
    if not isinstance(text, str) or not text:
        return []
    text = text.lower()
    out: list[str] = []
    pos = 0
    for span in find_numbers(text):
        out.extend(c for c in text[pos:span.start] if _keep(c))
        out.append(_magnitude(span.value))
        pos = span.end
    out.extend(c for c in text[pos:] if _keep(c))
    return out


@dataclass(frozen=True)
class CharVocab:
    """Unit → id table; ids 0..len(SPECIALS)-1 are the special tokens.

    Attributes:
        tokens: All units in id order.
    """

    tokens: tuple[str, ...]

    def __post_init__(self) -> None:
        if self.tokens[: len(SPECIALS)] != SPECIALS:
            raise ValueError("vocabulary must start with the special tokens")
        object.__setattr__(self, "_index", {t: i for i, t in enumerate(self.tokens)})

    @classmethod
    def build(cls, texts: Iterable[str], min_count: int = 1,
              max_size: int | None = None) -> CharVocab:
        """Vocabulary of the units seen at least ``min_count`` times (most frequent first).

        Ties are broken by the unit itself so the result does not depend on input order.
        """
        counts: Counter[str] = Counter()
        for t in texts:
            counts.update(u for u in units(t) if u not in SPECIALS)
        ranked = sorted((u for u, c in counts.items() if c >= min_count),
                        key=lambda u: (-counts[u], u))
        if max_size is not None:
            ranked = ranked[: max(0, max_size - len(SPECIALS))]
        return cls((*SPECIALS, *ranked))

    def __len__(self) -> int:
        return len(self.tokens)

    def encode(self, text: str, max_len: int) -> list[int]:
        """Ids of ``[CLS]`` + the units of :func:`clip_units`; unknown units map to ``[UNK]``."""
        return self.ids(clip_units(text, max_len))

    def ids(self, seq: list[str]) -> list[int]:
        """Ids of ``[CLS]`` + ``seq``."""
        index: dict[str, int] = self._index  # type: ignore[attr-defined]
        unk = index[UNK]
        return [index[CLS], *(index.get(u, unk) for u in seq)]


def clip_units(text: str, max_len: int) -> list[str]:
    """The units of ``text`` that fit ``max_len`` model positions (one is ``[CLS]``).

    A longer turn keeps its first third and its last two thirds of the budget: run-on
    callers often state the point at the end (…想问一下怎么收费), and a 10,000-character
    paste must not cost more than a normal turn (only its ends are scanned).
    """
    budget = max_len - 1
    if len(text) > 4 * budget:
        text = text[: 2 * budget] + " " + text[-2 * budget:]
    seq = units(text)
    if len(seq) > budget:
        head = budget // 3
        seq = seq[:head] + seq[len(seq) - (budget - head):]
    return seq


def bigram_ids(seq: list[str], buckets: int) -> list[int]:
    """Hashed unit bigrams aligned with :meth:`CharVocab.ids` (0 for ``[CLS]``).

    Position ``i`` holds the pair (unit ``i``, unit ``i+1``), the last unit pairs with an
    end mark. Ids are ``crc32 % (buckets - 1) + 1`` so 0 stays free for padding; two-character
    words (价格, 续费, 试用) get their own embedding without a segmenter or a word list.
    """
    out = [0]
    for i, u in enumerate(seq):
        nxt = seq[i + 1] if i + 1 < len(seq) else "[END]"
        out.append(zlib.crc32(f"{u}\x1f{nxt}".encode()) % (buckets - 1) + 1)
    return out


_FOLDED_INITIALS = (("zh", "z"), ("ch", "c"), ("sh", "s"), ("l", "n"))
_FOLDED_FINALS = (("ang", "an"), ("eng", "en"), ("ing", "in"))


@lru_cache(maxsize=8192)
def toneless(unit: str) -> str:
    """pypinyin's most common toneless reading of one Chinese character; ``""`` for anything
    else (also the reader of the homophone augmentation)."""
    if len(unit) != 1 or not ("\u3400" <= unit <= "\u9fff"):
        return ""
    from pypinyin import Style, lazy_pinyin

    syl = lazy_pinyin(unit, style=Style.NORMAL, v_to_u=False, errors="ignore")
    return syl[0] if syl and syl[0].isascii() and syl[0].isalpha() else ""


@lru_cache(maxsize=8192)
def sound(unit: str) -> str:
    """The folded sound of one unit: toneless pinyin with the common southern mergers
    (zh/ch/sh → z/c/s, l → n, -ang/-eng/-ing → -an/-en/-in); ``""`` for anything that is not
    one Chinese character.

    The character's most common reading is used (no context): the point is that two
    characters that sound alike map alike, which holds for ASR output with or without context.
    """
    s = toneless(unit)
    if not s:
        return ""
    for full, folded in _FOLDED_INITIALS:
        if s.startswith(full):
            s = folded + s[len(full):]
            break
    for full, folded in _FOLDED_FINALS:
        if s.endswith(full):
            s = s[: -len(full)] + folded
            break
    return s


def sound_ids(seq: list[str], buckets: int) -> list[int]:
    """Hashed folded sounds aligned with :meth:`CharVocab.ids` (0 for ``[CLS]`` and for
    units without a sound: number tokens, letters, digits, emoji)."""
    out = [0]
    for u in seq:
        s = sound(u)
        out.append(zlib.crc32(f"\x1e{s}".encode()) % (buckets - 1) + 1 if s else 0)
    return out
