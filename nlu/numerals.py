"""Chinese and Arabic numerals: parse one expression, or find number expressions in a sentence.

Handles spoken and written forms and their mixes: ``一百二十万`` (1,200,000), ``1.5个亿`` and
``一点五亿`` (150,000,000), ``两百``, ``十五``, elided tails (``一万二`` = 12,000, ``三千五`` =
3,500), ``一千零五`` (1,005), financial numerals (``壹佰``), ``〇``/``零``, ``廿`` (20), ``卅``
(30), phone-style ``幺`` (1), ``k``/``w`` suffixes (``五十k`` = ``50k`` = 50,000, ``5w`` = 50,000)
and thousands separators (``12,000``).

Approximate ranges are spoken as adjacent digits: ``三五万`` is 30,000-50,000, ``二三十`` is
20-30, ``十五六`` is 15-16, ``几百`` is 200-900 and ``十几`` is 11-19; ``三到五万`` and ``3-5万``
are explicit ranges. **A range is valued at its lower bound**; :class:`NumberSpan` keeps both
ends in ``range``. Approximation words (来/多/余/左右/上下/出头/大概/大约/将近/差不多/接近)
set ``approx`` and do not change the value (``十来万`` = 100,000, ``一百多万`` = 1,000,000).

Digit strings of 7 or more digits without a unit are phone numbers (or IDs), never amounts:
:func:`find_numbers` skips them. A money unit right after the digits (``1200000元``,
``1200000块``) makes them an amount.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

__all__ = ["NumberSpan", "find_numbers", "parse_number", "parse_range"]

_DIGIT: dict[str, int] = {
    "零": 0, "〇": 0, "○": 0, "洞": 0,
    "一": 1, "壹": 1, "幺": 1, "么": 1,
    "二": 2, "贰": 2, "貳": 2, "两": 2, "兩": 2, "俩": 2, "倆": 2,
    "三": 3, "叁": 3, "參": 3, "仨": 3,
    "四": 4, "肆": 4,
    "五": 5, "伍": 5,
    "六": 6, "陆": 6, "陸": 6,
    "七": 7, "柒": 7,
    "八": 8, "捌": 8,
    "九": 9, "玖": 9,
}
_SMALL: dict[str, int] = {"十": 10, "拾": 10, "百": 100, "佰": 100, "千": 1000, "仟": 1000}
_BIG: dict[str, int] = {"万": 10_000, "萬": 10_000, "w": 10_000, "亿": 100_000_000,
                        "億": 100_000_000}
_COMPOUND: dict[str, str] = {"廿": "二十", "卅": "三十"}
_APPROX_INNER = "来多余"
_RANGE_PAIRS = {(1, 2), (2, 3), (3, 4), (4, 5), (5, 6), (6, 7), (7, 8), (8, 9), (3, 5)}
# Characters that may start a numeral (幺/么/洞/仨/俩 only when part of a longer numeral).
_CN_DIGITS = "零〇○一壹幺二贰貳两兩俩倆三叁參四肆五伍六陆陸七柒八捌九玖"
_START = set(_CN_DIGITS) | set(_SMALL) | set(_COMPOUND) | {"几"}
_BODY = _START | set(_BIG) | {"洞", "么", "仨"}
_CLASSIFIERS = set("个位名人家台套年月天周次元块万千百张份号岁倍间所条部款")
_BEFORE_APPROX = ("差不多", "大概", "大约", "将近", "接近", "估计", "预计", "约", "近", "上")
_AFTER_APPROX = ("左右", "上下", "出头", "来", "多", "余")
_CONNECTORS = ("到", "至", "-", "~", "～", "—", "－")
_PHONE_RE = re.compile(r"(?<!\d)(?:\+?86[- ]?)?\d{3,4}[- ]\d{3,4}[- ]?\d{3,4}(?!\d)")
_MONEY_UNIT_AFTER = re.compile(r"\s*(?:多|余|来)?\s*(?:元|块|圆|万|亿|rmb|RMB|人民币)")
"""A money unit right after a long digit string makes it an amount, not a phone number."""
_AFFIX_LEAD = re.compile(r"^(?:差不多|大概|大约|将近|接近|约|近|上|¥|￥)+")
_AFFIX_TAIL = re.compile(r"(?:左右|上下|出头|块钱|元|块|rmb|人民币)+$")


@dataclass(frozen=True)
class NumberSpan:
    """A number expression found in a sentence.

    Attributes:
        value: The number; for a range, its lower bound.
        start: Offset of the first character in the scanned text.
        end: Offset after the last character (``text == sentence[start:end]``).
        text: The numeral as written.
        approx: True when an approximation word or a range surrounds the number.
        range: ``(low, high)`` for ranges (``三五万``, ``二三十``, ``三到五万``), else ``None``.
    """

    value: float
    start: int
    end: int
    text: str
    approx: bool = False
    range: tuple[float, float] | None = None


# -- parsing one expression -------------------------------------------------------------------

def _tokenize(s: str) -> list[tuple[str, float, float]] | None:
    """Split a numeral into tokens ``(kind, lo, hi)``.

    Kinds: ``n`` Arabic number, ``d`` Chinese digit, ``u`` small unit (10/100/1000), ``b`` big
    unit (1e4/1e8), ``k`` thousands multiplier, ``a`` approximation word.
    """
    tokens: list[tuple[str, float, float]] = []
    i, n = 0, len(s)
    while i < n:
        c = s[i]
        if c.isdigit():
            m = re.match(r"\d+(?:,\d{3})*(?:\.\d+)?", s[i:])
            assert m is not None
            v = float(m.group(0).replace(",", ""))
            tokens.append(("n", v, v))
            i += m.end()
            continue
        if c in _DIGIT:
            # Chinese decimal: 一点五 / 零点五
            if i + 2 < n and s[i + 1] == "点" and s[i + 2] in _DIGIT:
                j = i + 2
                frac = ""
                while j < n and s[j] in _DIGIT:
                    frac += str(_DIGIT[s[j]])
                    j += 1
                v = float(f"{_DIGIT[c]}.{frac}")
                tokens.append(("n", v, v))
                i = j
                continue
            tokens.append(("d", _DIGIT[c], _DIGIT[c]))
        elif c == "几":
            after_unit = bool(tokens) and tokens[-1][0] == "u"
            tokens.append(("d", 1 if after_unit else 2, 9))
        elif c in _SMALL:
            tokens.append(("u", _SMALL[c], _SMALL[c]))
        elif c in _BIG:
            tokens.append(("b", _BIG[c], _BIG[c]))
        elif c == "k":
            tokens.append(("k", 1000, 1000))
        elif c == "个" and i + 1 < n and s[i + 1] in _BIG:
            pass
        elif c in _APPROX_INNER and tokens:
            tokens.append(("a", 0, 0))
        else:
            return None
        i += 1
    return tokens


def _evaluate(tokens: list[tuple[str, float]]) -> float | None:
    """Value of a token list with scalar digits (no ranges left)."""
    yi = wan = section = 0.0
    number: float | None = None
    last_unit: float | None = None
    prev_kind = ""
    zero_seen = False
    mult = 1.0
    number_is_single = False
    for kind, v in tokens:
        if kind == "a":
            continue
        if kind in ("n", "d"):
            if number is not None:
                return None
            if kind == "d" and v == 0:
                zero_seen = True
                prev_kind = "z"
                continue
            number = v
            number_is_single = kind == "d" or (v < 10 and float(v).is_integer())
        elif kind == "u":
            if number is None:
                if v == 10 and prev_kind in ("", "z", "b"):
                    number = 1.0
                else:
                    return None
            section += number * v
            number = None
            last_unit = v
            zero_seen = False
        elif kind == "b":
            val = section + (number or 0.0)
            if val == 0 and not (v == 1e8 and wan):
                return None
            if v == 10_000:
                wan = val * v
            else:
                yi = (yi + wan + val) * v
                wan = 0.0
            section = 0.0
            number = None
            last_unit = v
            zero_seen = False
        elif kind == "k":
            mult *= v
        prev_kind = kind
    if number is not None and last_unit is not None and not zero_seen and number_is_single:
        number *= last_unit / 10  # elided tail: 一万二 = 12000, 三千五 = 3500
    total = yi + wan + section + (number or 0.0)
    return total * mult


def _digit_string(tokens: list[tuple[str, float, float]]) -> float | None:
    return float("".join(str(int(t[1])) for t in tokens))


def _parse(s: str) -> tuple[float, float, bool] | None:
    """Parse a bare numeral into ``(low, high, approx)``; ``None`` if it is not one."""
    s = unicodedata.normalize("NFKC", s).strip().lower().replace(" ", "")
    for k, v in _COMPOUND.items():
        s = s.replace(k, v)
    if not s:
        return None
    tokens = _tokenize(s)
    if not tokens or all(t[0] == "a" for t in tokens):
        return None
    approx = any(t[0] == "a" for t in tokens)
    core = [t for t in tokens if t[0] != "a"]
    has_units = any(t[0] in ("u", "b", "k") for t in core)
    if not has_units:
        if all(t[0] == "d" for t in core) and len(core) >= 2:
            pair = (int(core[0][1]), int(core[1][1]))
            if len(core) == 2 and pair in _RANGE_PAIRS and "幺" not in s and "么" not in s:
                return float(pair[0]), float(pair[1]), True
            if any(t[1] != t[2] for t in core):
                return None
            v = _digit_string(core)
            return (v, v, approx) if v is not None else None
        if len(core) == 1 and core[0][0] in ("n", "d"):
            lo, hi = core[0][1], core[0][2]
            if lo != hi:  # a bare 几
                return None
            return float(lo), float(hi), approx
        return None
    # Merge adjacent digits into a range token (三五万, 二三十, 十五六).
    merged: list[tuple[str, float, float]] = []
    for t in core:
        if t[0] == "d" and merged and merged[-1][0] == "d" and merged[-1][1] != 0:
            prev = merged[-1]
            if prev[1] != prev[2] or t[1] != t[2]:
                return None
            if (int(prev[1]), int(t[1])) not in _RANGE_PAIRS:
                return None
            merged[-1] = ("d", prev[1], t[1])
            approx = True
        else:
            merged.append(t)
    lo = _evaluate([(k, a) for k, a, _ in merged])
    hi = _evaluate([(k, b) for k, _, b in merged])
    if lo is None or hi is None:
        return None
    if lo != hi:
        approx = True
    return lo, hi, approx


def parse_number(s: str) -> float | None:
    """Parse one numeral expression (Chinese, Arabic or mixed).

    Surrounding approximation words and currency words are tolerated (``大概五十万左右``,
    ``两千块``). A range (``三五万``, ``二三十``, ``几百``) is valued at its **lower bound**;
    use :func:`parse_range` for both ends.

    Args:
        s: The expression, e.g. ``一百二十万``, ``1.5个亿``, ``50k``, ``一千零五``.

    Returns:
        The value as float, or ``None`` when ``s`` is not a numeral.
    """
    r = parse_range(s)
    return None if r is None else r[0]


def parse_range(s: str) -> tuple[float, float] | None:
    """Parse a numeral expression into ``(low, high)``; both equal for a plain number.

    Args:
        s: The expression, e.g. ``三五万`` → ``(30000.0, 50000.0)``.

    Returns:
        ``(low, high)`` or ``None`` when ``s`` is not a numeral.
    """
    if not isinstance(s, str):
        return None
    t = unicodedata.normalize("NFKC", s).strip().lower().replace(" ", "")
    t = _AFFIX_LEAD.sub("", t)
    t = _AFFIX_TAIL.sub("", t)
    m = re.fullmatch(r"(.+?)(?:到|至|-|~|～|—)(.+)", t)
    if m:
        a, b = _parse(m.group(1)), _parse(m.group(2))
        if a and b:
            lo = _scale_like(m.group(1), a[0], m.group(2))
            return lo, b[1]
    r = _parse(t)
    return None if r is None else (r[0], r[1])


def _scale_like(a_text: str, a_value: float, b_text: str) -> float:
    """Give a bare lower end the units that end the upper end.

    ``三到五万`` → 30,000 and ``一到两百万`` → 1,000,000 (a bare digit takes the whole unit
    tail, 百万); ``十到二十万`` → 100,000 and ``三百到五百万`` → 3,000,000 (a lower end with
    its own small unit only takes the big unit, 万).
    """
    a = a_text.lower()
    if any(u in a for u in ("万", "亿", "w", "k", "萬", "億")):
        return a_value
    bare = not any(c in _SMALL for c in a)
    scale = 1.0
    for c in reversed(b_text.lower()):
        if c == "个":
            continue
        if c in _BIG:
            scale *= _BIG[c]
        elif c == "k":
            scale *= 1000
        elif bare and c in _SMALL:
            scale *= _SMALL[c]
        else:
            break
    return a_value * scale


# -- scanning a sentence ----------------------------------------------------------------------

def _is_start(text: str, i: int) -> bool:
    c = text[i]
    return c.isdigit() or c in _START


def _scan_end(text: str, i: int) -> int:
    """End offset of the numeral starting at ``i`` (maximal munch with context rules)."""
    n = len(text)
    j = i
    while j < n:
        c = text[j]
        prev = text[j - 1] if j > i else ""
        nxt = text[j + 1] if j + 1 < n else ""
        if c.isdigit():
            j += 1
        elif c in ".," and prev.isdigit() and nxt.isdigit():
            if c == "," and not re.match(r",\d{3}(?!\d)", text[j:]):
                break
            j += 1
        elif _continues_numeral(c, prev, nxt, j > i, text[j:]):
            j += 1
        else:
            break
    # Do not end on a dangling separator.
    while j > i and text[j - 1] in ".,，":
        j -= 1
    return j


def _continues_numeral(c: str, prev: str, nxt: str, inside: bool, rest: str) -> bool:
    """Whether character ``c`` (between ``prev`` and ``nxt``) extends the numeral being scanned.

    ``inside`` is true when at least one character of the numeral precedes ``c``; ``rest`` is
    the text from ``c`` on.
    """
    if c == "，":  # full-width thousands separator: 12，000
        return prev.isdigit() and re.match(r"，\d{3}(?!\d)", rest) is not None
    if c in _BODY:
        return True
    if c == "点":  # Chinese decimal point: 一点五
        return prev in _DIGIT and nxt in _DIGIT
    if c == "个":  # 1.5个亿
        return inside and nxt in ("亿", "万")
    if c in _APPROX_INNER:  # 十来万, 一百多, 20余
        return inside and (prev in _SMALL or prev in _BIG or prev.isdigit()) and nxt != "少"
    if c in "kKwW":  # 50k, 5w, 五十k
        return (inside and (prev.isdigit() or prev in _DIGIT or prev in _SMALL)
                and not (nxt.isascii() and nxt.isalpha()))
    return False


def _approx_around(text: str, start: int, end: int) -> bool:
    before = text[max(0, start - 3):start]
    after = text[end:end + 2]
    return any(before.endswith(w) for w in _BEFORE_APPROX) or any(
        after.startswith(w) for w in _AFTER_APPROX)


def find_numbers(text: str) -> list[NumberSpan]:
    """Find number expressions in a sentence.

    Ranges (``三五万``, ``二三十``, ``三到五万``, ``3-5万``, ``五十万到一百万``) become one span
    whose ``value`` is the **lower bound**, with ``range`` = ``(low, high)``. Nearby
    approximation words (来/多/余/左右/上下/出头/大概/大约/将近/差不多/接近/上/近) set
    ``approx``. Not returned: phone numbers and IDs (7+ digits without a unit, also
    ``138-1234-5678``), unit-only words (``千万别``, ``万一``), and a lone Chinese digit not
    followed by a classifier (``一下``, ``一直``).

    Args:
        text: One utterance (offsets refer to this exact string).

    Returns:
        Spans in text order.
    """
    if not isinstance(text, str) or not text:
        return []
    blocked = [False] * len(text)
    for m in _PHONE_RE.finditer(text):
        for k in range(m.start(), m.end()):
            blocked[k] = True
    spans: list[NumberSpan] = []
    i, n = 0, len(text)
    while i < n:
        if blocked[i] or not _is_start(text, i):
            # 上百 / 近千 / 上万: the prefix stands for "one".
            if (text[i] in "上近" and i + 1 < n and text[i + 1] in "百千万亿"
                    and (i + 2 >= n or text[i + 2] not in _DIGIT)):
                end = _scan_end(text, i + 1)
                r = _parse("一" + text[i + 1:end])
                if r is not None:
                    spans.append(NumberSpan(r[0], i, end, text[i:end], True, None))
                    i = end
                    continue
            i += 1
            continue
        end = _scan_end(text, i)
        if end <= i:
            i += 1
            continue
        raw = text[i:end]
        span = _make_span(text, i, end, raw)
        if span is not None:
            spans.append(span)
        i = end
    return _merge_ranges(text, spans)


def _make_span(text: str, start: int, end: int, raw: str) -> NumberSpan | None:
    if raw[0] in _SMALL and raw[0] != "十" and raw[0] != "拾":
        return None  # 百分之..., 千万别...
    if raw[0] in _BIG:
        return None
    after = text[end:end + 1]
    digits = re.sub(r"\D", "", raw)
    has_unit = any(c in _SMALL or c in _BIG or c in "kKwW" for c in raw)
    if raw.isdigit() and len(raw) >= 7 and not _MONEY_UNIT_AFTER.match(text, end):
        return None  # phone number / ID (but 1200000元 / 1200000万 is an amount)
    if not has_unit and len(raw) >= 7 and all(c in _DIGIT for c in raw):
        return None  # spoken phone number (幺三八...)
    if len(raw) == 1 and raw in _DIGIT and after not in _CLASSIFIERS and not (
            after in _CONNECTORS and end + 1 < len(text) and _is_start(text, end + 1)):
        return None  # 一下, 一直, 三思 (but 三到五万 is a range)
    if (len(digits) >= 7 and not has_unit and "." not in raw
            and not _MONEY_UNIT_AFTER.match(text, end)):
        return None
    r = _parse(raw)
    if r is None:
        # Try the longest parseable prefix (e.g. a numeral glued to a stray digit).
        for k in range(len(raw) - 1, 0, -1):
            r = _parse(raw[:k])
            if r is not None:
                end = start + k
                raw = raw[:k]
                break
        if r is None:
            return None
    lo, hi, approx = r
    approx = approx or _approx_around(text, start, end)
    return NumberSpan(lo, start, end, raw, approx, (lo, hi) if lo != hi else None)


def _merge_ranges(text: str, spans: list[NumberSpan]) -> list[NumberSpan]:
    out: list[NumberSpan] = []
    k = 0
    while k < len(spans):
        a = spans[k]
        if k + 1 < len(spans):
            b = spans[k + 1]
            gap = text[a.end:b.start]
            if gap in _CONNECTORS:
                lo = _scale_like(a.text, a.value, b.text)
                hi = b.range[1] if b.range else b.value
                if lo <= hi:
                    out.append(NumberSpan(lo, a.start, b.end, text[a.start:b.end], True,
                                          (lo, hi)))
                    k += 2
                    continue
        out.append(a)
        k += 1
    return out
