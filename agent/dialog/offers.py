"""Which edition and module to recommend, and why (content rules + purchase co-occurrence).

Content rules: the edition whose seat range covers the caller's seats, the cheapest one unless
a need calls for more (API/integration → an edition that includes the open API, single sign-on,
private deployment or customisation → the top edition); a stated budget moves down to an
edition the budget covers. Co-occurrence: among the CRM sample's accounts on that edition
(``orders:`` CSV in the KB), the module bought most often that the caller's words do not
already point at is added with its purchase share as the reason.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tierline.agent.dialog.kb import Edition, KbError, KnowledgeBase, Module

_TOP_NEEDS = ("单点登录", "私有化", "本地部署", "定制", "专属")
_API_INTENTS = ("tech_integration",)
_TOP_INTENTS = ("customization",)


def cny(value: float) -> str:
    """Spoken CNY amount: 7200 → 7200元, 360000 → 36万元, 1250000 → 125万元."""
    if value >= 10_000:
        wan = value / 10_000
        return f"{wan:.0f}万元" if abs(wan - round(wan)) < 0.05 else f"{wan:.1f}万元"
    return f"{value:.0f}元"


@dataclass(frozen=True)
class Offer:
    """A recommendation.

    Attributes:
        edition: Edition name.
        module: Module name or None.
        reason: Why, in Chinese, from the rules and the co-occurrence numbers.
        yearly_cny: Estimated yearly price for the caller's seats, or None.
    """

    edition: str
    module: str | None
    reason: str
    yearly_cny: float | None = None

    @property
    def label(self) -> str:
        return f"{self.edition}+{self.module}" if self.module else self.edition


def load_cooccurrence(path: Path | None) -> tuple[dict[str, Counter[str]], Counter[str]]:
    """Module purchase counts per edition, and accounts per edition, from an orders CSV.

    Raises:
        KbError: unreadable file or missing ``edition``/``modules`` columns.
    """
    per: dict[str, Counter[str]] = {}
    accounts: Counter[str] = Counter()
    if path is None:
        return per, accounts
    try:
        with path.open(encoding="utf-8", newline="") as fh:
            reader = csv.DictReader(fh)
            missing = {"edition", "modules"} - set(reader.fieldnames or ())
            if missing:
                raise KbError(f"{path}:1: missing column(s) {', '.join(sorted(missing))}")
            for row in reader:
                edition = (row["edition"] or "").strip()
                accounts[edition] += 1
                for m in (row["modules"] or "").split(";"):
                    if m.strip():
                        per.setdefault(edition, Counter())[m.strip()] += 1
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise KbError(f"cannot read orders file {path}: {exc}") from None
    return per, accounts


class OfferEngine:
    """Chooses an :class:`Offer` from the slots, the caller's intents and words.

    Args:
        kb: Knowledge base (editions, modules, orders CSV).
    """

    def __init__(self, kb: KnowledgeBase) -> None:
        self.kb = kb
        self.bought, self.accounts = load_cooccurrence(kb.orders_path)

    def _edition(self, seats: int | None, budget: float | None, needs_api: bool,
                 needs_top: bool) -> tuple[Edition, list[str]]:
        eds = sorted(self.kb.editions, key=lambda e: e.price_cny_per_seat_year)
        why: list[str] = []
        fits = [e for e in eds if seats is None or e.min_seats <= seats <= e.max_seats] or eds
        choice = fits[0]
        if needs_top:
            choice = fits[-1]
            why.append("需要单点登录、私有化或定制")
        elif needs_api:
            api = [e for e in fits if "API" in e.highlights or "api" in e.highlights.lower()]
            if api:
                choice = api[0]
                why.append("需要系统对接")
        if budget and seats:
            affordable = [e for e in fits if e.price_cny_per_seat_year * seats <= budget]
            if affordable and choice not in affordable:
                choice = affordable[-1]
                why.append("在预算范围内")
            elif choice in affordable:
                why.append("在预算范围内")
            else:
                why.append(f"全员开通会超出{cny(budget)}的预算，可以先给部分人开通")
        elif budget and not seats:
            covered = [e for e in eds if budget / e.price_cny_per_seat_year >= e.min_seats]
            choice = covered[-1] if covered else eds[0]
            why.append(f"按{cny(budget)}的预算")
        return choice, why

    def _module(self, edition: str, words: str, exclude: Iterable[str]) -> tuple[Module | None,
                                                                                 str]:
        paid = [m for m in self.kb.modules if m.price_cny_per_year > 0 and m.name not in exclude]
        for m in paid:
            if any(k.lower() in words.lower() for k in m.keywords):
                return m, f"您提到的需求可以用{m.name}（{m.description}）解决"
        counts = self.bought.get(edition)
        n = self.accounts.get(edition, 0)
        if not counts or not n:
            return None, ""
        ranked = [m for m in paid if counts.get(m.name)]
        if not ranked:
            return None, ""
        best = max(ranked, key=lambda m: counts[m.name])
        share = counts[best.name] / n
        return best, f"用{edition}的客户里有{share:.0%}同时选了{best.name}"

    def choose(self, slots: Mapping[str, Any], intents: Iterable[str] = (), words: str = "",
               exclude_modules: Iterable[str] = ()) -> Offer | None:
        """The offer for the call so far, or None while neither seats nor budget is known.

        Args:
            slots: Slot values (``seats``, ``budget``...).
            intents: Intents the caller has shown in this call.
            words: The caller's words so far (module keywords, needs).
            exclude_modules: Modules already offered.
        """
        seats = slots.get("seats")
        budget = slots.get("budget") or None
        if seats is None and budget is None:
            return None
        intents = set(intents)
        needs_top = bool(intents & set(_TOP_INTENTS)) or any(n in words for n in _TOP_NEEDS)
        needs_api = bool(intents & set(_API_INTENTS))
        edition, why = self._edition(seats, budget, needs_api, needs_top)
        yearly = edition.price_cny_per_seat_year * seats if seats else None
        size = (f"{edition.min_seats}人以上" if edition.max_seats >= 10_000
                else f"{edition.min_seats}到{edition.max_seats}人")
        reason = "，".join([f"{edition.name}适合{size}的团队", *why])
        if yearly is not None:
            reason += f"，按{seats}人一年大约{cny(yearly)}"
        module, module_why = self._module(edition.name, words, exclude_modules)
        if module_why:
            reason += "；" + module_why
        return Offer(edition.name, module.name if module else None, reason, yearly)
