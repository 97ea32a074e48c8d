"""Text normaliser for character error rate (CER), applied to reference and hypothesis alike.

Steps, in order (documented in the README):
1. Traditional → Simplified (OpenCC t2s), full-width ASCII → half-width, Latin lower-cased.
2. Arabic numbers are spelled out in Chinese the way they are read aloud:
   - decimals: ``1.5`` → 一点五; percentages: ``30%`` → 百分之三十;
   - a 4-digit number followed by 年 is a year, read digit by digit: ``2019年`` → 二零一九年;
   - numbers of 9+ digits or with a leading zero (phone numbers, codes) are read digit by digit;
   - anything else is a cardinal: ``29`` → 二十九, ``1200000`` → 一百二十万, ``120万`` → 一百二十万.
3. Variant numeral characters are unified: 两 → 二, 幺 → 一, 〇 → 零.
4. Everything that is not a CJK character, a Latin letter or a digit (punctuation, spaces)
   is removed.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

_DIGITS = "零一二三四五六七八九"
_SMALL_UNITS = ["", "十", "百", "千"]
_BIG_UNITS = ["", "万", "亿", "万亿"]
_NUMBER = re.compile(r"(\d+(?:\.\d+)?)(%|％)?(年)?")
_KEEP = re.compile(r"[^0-9a-z\u3400-\u4dbf\u4e00-\u9fff]")


@lru_cache(maxsize=1)
def _t2s():
    import opencc

    return opencc.OpenCC("t2s")


def _digits(s: str) -> str:
    return "".join(_DIGITS[int(c)] for c in s)


def _four(n: int) -> str:
    out, zero = [], False
    for pos in range(3, -1, -1):
        d = (n // 10**pos) % 10
        if d == 0:
            zero = bool(out)
            continue
        if zero:
            out.append("零")
            zero = False
        out.append(_DIGITS[d] + _SMALL_UNITS[pos])
    return "".join(out)


def cardinal(n: int) -> str:
    """Spell a non-negative integer as a Chinese cardinal: 1200000 → 一百二十万."""
    if n == 0:
        return "零"
    groups = []
    while n:
        groups.append(n % 10_000)
        n //= 10_000
    out, need_zero = [], False
    for idx in range(len(groups) - 1, -1, -1):
        g = groups[idx]
        if g == 0:
            need_zero = bool(out)
            continue
        if out and (need_zero or g < 1000):
            out.append("零")
        out.append(_four(g) + _BIG_UNITS[idx])
        need_zero = False
    text = "".join(out)
    return text[1:] if text.startswith("一十") else text


def _spell(match: re.Match[str]) -> str:
    number, percent, year = match.group(1), match.group(2), match.group(3)
    if "." in number:
        whole, frac = number.split(".", 1)
        spoken = cardinal(int(whole)) + "点" + _digits(frac)
    elif year and len(number) == 4:
        return _digits(number) + "年"
    elif len(number) >= 9 or (len(number) > 1 and number.startswith("0")):
        spoken = _digits(number)
    else:
        spoken = cardinal(int(number))
    if percent:
        spoken = "百分之" + spoken
    return spoken + (year or "")


def normalize_text(text: str) -> str:
    """Normalise one transcript for CER scoring (see the module docstring)."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = _t2s().convert(text)
    text = _NUMBER.sub(_spell, text)
    text = text.replace("两", "二").replace("幺", "一").replace("〇", "零")
    return _KEEP.sub("", text)


def edit_distance(ref: str, hyp: str) -> int:
    """Levenshtein distance between two character sequences."""
    if len(ref) < len(hyp):
        ref, hyp = hyp, ref
    prev = list(range(len(hyp) + 1))
    for i, a in enumerate(ref, 1):
        cur = [i]
        for j, b in enumerate(hyp, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a != b)))
        prev = cur
    return prev[-1]
