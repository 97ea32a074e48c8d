"""Which amount a turn states when it says several: negation, correction, plan, bounds, scope.

The entity extractor finds every budget or seat mention of a turn (:class:`Mention`);
:func:`choose` decides which one the caller means, by these rules (docs/nlu.md has the table):

- negated: 我们没有三百个坐席，只有三十个 → 30; 预算不是一百万 → none (the amount is dropped);
- correction: 七十万？不可能，最多七万 → 70,000; 三百个坐席，哦不对，三十个 → 30 (the later);
- restriction: 三百多个员工但只有五个人用 → 5; 说是一百万，其实才二十万 → 200,000 (the later);
- plan: 先上三十个坐席，年底扩到三百个坐席 → 300 (the larger);
- bound: 预算三十万，最多五十万 → 300,000; 五十个账号，至少也要三十个 → 30 (the lower);
- range: 三到五万 → 30,000; 三五十个人 → 30 (one numeral, :mod:`tierline.nlu.numerals`; the
  lower);
- scope (seats): 员工三百多，用的就二十来个 → 20; 公司两千人，客服五十个 → 50 (the users);
- independent: 三个呼叫中心加起来六百个坐席 → 600; 预算五十万，报价八十万 → 500,000 (a strong
  mention first, then the larger).

Mentions are read left to right: each next mention is compared with the one kept so far
through the words between them. A correction or restriction word replaces (the last stated
value wins); plan words keep the larger (the caller's own plan is the size of the deal); a
bound (最多 / 至少 ...) and a range keep the lower, the amount the caller commits to, so a
threshold such as 500,000 CNY or 100 seats counts only when even the low end clears it. A
``strong`` mention (a budget said with a budget word; a seat count of users, not a headcount)
wins over a weak one when nothing else decides; for seats, users are counted before the rules
run (seats are the people who will use the system).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tierline.nlu.money import Money

__all__ = ["Mention", "choose", "corrects_earlier", "negated"]


@dataclass(frozen=True)
class Mention:
    """One amount said in a turn.

    Attributes:
        value: CNY for a budget, a count for seats.
        start: Offset of the numeral in the turn.
        end: Offset after the numeral (and its unit).
        strong: Budget: said with a budget word. Seats: a count of users (a seat, account or
            store unit, or a verb of use after it) rather than a headcount.
        money: The stated foreign amount and its rate, when converted to CNY.
    """

    value: float
    start: int
    end: int
    strong: bool = False
    money: Money | None = None


_NEGATED = re.compile(r"(?:(?<!是)不是|并非|没有|(?<![没])没|哪有|哪来的?|不可能是?)"
                      r"(?:大概|大约|差不多|那么|这么|足足|有)?\s*$")
_CORRECTION = re.compile(
    r"不对|不是|说错|错了|口误|更正|纠正|应该是|准确(?:地|的)?(?:说|讲)|其实|实际上?|真正|我是说"
    r"|哦不|不可能|哪有|哪里有|哪来|没那么多|没有那么多|没这么多|没有|只有|只是|只要|才")
_PLAN = re.compile(
    r"扩|增加|增长|增到|加到|上到|发展到|涨到|翻倍|翻一番|以后|之后|将来|未来|年底|年末|明年|后年"
    r"|后期|二期|三期|下一步|最终|最后|逐步|陆续|后面|到时候|再")
_BOUND = re.compile(r"(?:最多|顶多|最高|不超过|上限|封顶|撑死|至多|至少|起码|最少|不少于|不低于"
                    r"|少说)(?:也|能|是|就|有|要|得|到|只)*\s*$")


_RESTATE = re.compile(r"不对|说错|错了|口误|更正|纠正|应该是|准确(?:地|的)?(?:说|讲)|其实|实际上"
                      r"|我是说|哦不|改一下|修正|不是这个数")


def corrects_earlier(text: str) -> bool:
    """True when a turn corrects what the caller said before ("刚才说错了，预算是七万"): its
    amounts replace the earlier ones instead of adding to the call's largest."""
    return bool(text) and bool(_RESTATE.search(text))


def negated(text: str, start: int) -> bool:
    """True when a negation right before ``start`` denies the amount (没有三百个, 不是一百万),
    not when it bounds it (不到十万 and 不超过八万 are amounts)."""
    return bool(_NEGATED.search(text[max(0, start - 6):start]))


def choose(text: str, mentions: list[Mention], scope: bool = False) -> Mention | None:
    """The mention the caller means (rules in the module docstring).

    Args:
        text: The turn the mentions were found in.
        mentions: Mentions in text order.
        scope: Seats: keep the users' counts when the turn also states a headcount.

    Returns:
        The chosen mention, or None when every mention is negated or there is none.
    """
    kept = [m for m in mentions if not negated(text, m.start)]
    if scope and any(m.strong for m in kept):
        kept = [m for m in kept if m.strong]
    if not kept:
        return None
    current = kept[0]
    for nxt in kept[1:]:
        gap = text[current.end:nxt.start]
        if _CORRECTION.search(gap):
            current = nxt
        elif _BOUND.search(gap):
            current = min(current, nxt, key=lambda m: m.value)
        elif _PLAN.search(gap):
            current = max(current, nxt, key=lambda m: m.value)
        elif current.strong != nxt.strong:
            current = current if current.strong else nxt
        else:
            current = max(current, nxt, key=lambda m: m.value)
    return current
