"""Currencies a caller names with an amount, and their conversion to CNY.

``八万美元`` is 80,000 US dollars, not 80,000 CNY: the budget entity converts it at a rate
from :func:`fx_rates` and says which rate it used (:class:`Money`). Rates come from the
environment variable ``TIERLINE_FX`` (``"USD=7.1,HKD=0.91,TWD=0.22"``: CNY per unit, codes
from :data:`CURRENCIES`; codes not named keep their default) or, unset, from
:data:`DEFAULT_RATES`, approximate reference rates that a deployment should set.

A currency word after the number (八万美元, 5000刀, 一百万台币, 三十万港币) or a sign or code
before it ($80,000, US$5万, HK$30万, NT$100万, 美金八万) names the currency; 人民币, 元, 块
and ¥ are CNY.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import lru_cache

from tierline.nlu.errors import NluError

__all__ = ["CURRENCIES", "DEFAULT_RATES", "FX_ENV", "Money", "currency_after",
           "currency_before", "fx_rates"]

FX_ENV = "TIERLINE_FX"
DEFAULT_RATES: dict[str, float] = {"USD": 7.1, "HKD": 0.91, "TWD": 0.22, "EUR": 7.7,
                                   "GBP": 9.0, "JPY": 0.047}
"""CNY per unit, approximate reference rates (set ``TIERLINE_FX`` for the day's rates)."""

_AFTER_WORDS: dict[str, tuple[str, ...]] = {
    "USD": ("美元", "美金", "美刀", "刀", "usd", "dollars", "dollar"),
    "HKD": ("港币", "港元", "港纸", "hkd"),
    "TWD": ("新台币", "新臺幣", "台币", "臺幣", "台幣", "twd"),
    "EUR": ("欧元", "eur", "euro", "euros"),
    "GBP": ("英镑", "gbp"),
    "JPY": ("日元", "日币", "jpy"),
}
_BEFORE_WORDS: dict[str, tuple[str, ...]] = {
    "USD": ("us$", "usd", "$", "美金", "美元"),
    "HKD": ("hk$", "hkd", "港币", "港元"),
    "TWD": ("nt$", "twd", "新台币", "台币"),
    "EUR": ("€", "eur", "欧元"),
    "GBP": ("£", "gbp", "英镑"),
    "JPY": ("jpy", "日元"),
}
CURRENCIES: tuple[str, ...] = tuple(_AFTER_WORDS)
"""Foreign currencies recognised, ISO 4217 codes."""


def _alternation(table: dict[str, tuple[str, ...]]) -> list[tuple[str, str]]:
    pairs = [(w, code) for code, words in table.items() for w in words]
    return sorted(pairs, key=lambda p: -len(p[0]))


_AFTER = _alternation(_AFTER_WORDS)
_BEFORE = _alternation(_BEFORE_WORDS)
_APPROX_GAP = re.compile(r"\s*(?:来|多|余|左右|上下|出头)?\s*(?:块|元)?\s*")
_ASCII_WORD = re.compile(r"[a-z]")


@dataclass(frozen=True)
class Money:
    """A stated amount in a foreign currency and the rate it was converted at.

    Attributes:
        amount: The amount as stated, in ``currency``.
        currency: ISO 4217 code (``USD``, ``HKD``, ``TWD`` ...).
        rate: CNY per unit used for the conversion.
    """

    amount: float
    currency: str
    rate: float

    @property
    def cny(self) -> float:
        """The amount in CNY."""
        return round(self.amount * self.rate, 2)

    def to_dict(self) -> dict[str, float | str]:
        amount = int(self.amount) if float(self.amount).is_integer() else self.amount
        return {"amount": amount, "currency": self.currency, "rate": self.rate}


def currency_after(text: str, end: int) -> tuple[str, int] | None:
    """The foreign currency named right after an amount ending at ``end``.

    Returns:
        ``(code, offset after the currency word)`` or None (no currency word, or CNY).
    """
    gap = _APPROX_GAP.match(text, end)
    pos = gap.end() if gap else end
    low = text[pos:pos + 8].lower()
    for word, code in _AFTER:
        if low.startswith(word):
            stop = pos + len(word)
            if _ASCII_WORD.match(word) and stop < len(text) and _ASCII_WORD.match(
                    text[stop].lower()):
                continue  # "usdt", "dollarshop": not the currency word
            return code, stop
    return None


def currency_before(text: str, start: int) -> str | None:
    """The foreign currency sign or code right before an amount starting at ``start``."""
    low = text[max(0, start - 4):start].lower().rstrip()
    for word, code in _BEFORE:
        if low.endswith(word):
            return code
    return None


def fx_rates() -> dict[str, float]:
    """CNY per unit of each currency: :data:`DEFAULT_RATES` updated from ``TIERLINE_FX``.

    Raises:
        NluError: ``TIERLINE_FX`` is malformed (``CODE=rate`` pairs separated by commas,
            known codes, positive rates).
    """
    return dict(_parse_rates(os.environ.get(FX_ENV, "")))


@lru_cache(maxsize=8)
def _parse_rates(spec: str) -> tuple[tuple[str, float], ...]:
    rates = dict(DEFAULT_RATES)
    for item in filter(None, (s.strip() for s in spec.split(","))):
        code, sep, value = item.partition("=")
        code = code.strip().upper()
        try:
            rate = float(value) if sep else float("nan")
        except ValueError:
            rate = float("nan")
        if code not in rates or not rate > 0:
            raise NluError(f"{FX_ENV}: bad entry {item!r} (want CODE=CNY-per-unit, codes "
                           f"{', '.join(CURRENCIES)}, e.g. USD=7.1,HKD=0.91)")
        rates[code] = rate
    return tuple(rates.items())
