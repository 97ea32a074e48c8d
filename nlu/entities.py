"""Entity extraction: budget (CNY), seat count, timeline, product edition, competitor.

Rules over :func:`tierline.nlu.numerals.find_numbers`; the text is expected to be normalised
(Simplified, NFKC) by the caller, but raw text works for the common cases.

Budget: a number counts as money when it carries a money unit (元/块/rmb/人民币, the big
units 万/亿/k/w, or a foreign currency: 美元/港币/台币 ..., converted to CNY at the rate of
:func:`tierline.nlu.money.fx_rates` and kept in ``Entities.budget_source``) or follows a budget
word (预算/投入/花/出/报价/价位/费用/资金/...) in the same clause, and is not followed by a seat
or time unit. Numbers in a clause that names a competitor or another vendor (``钉钉报价才三万``),
the vendor's own price (``你们报价七十万太高了``), discounts (``便宜两万``), percentages, phone
numbers and years are not budgets.

Seats: a number followed by a seat/account/store/user/agent unit, or by a people unit (人, 名,
位, 员工); people are users when a verb of use follows (五个人用), and people who are not users
(两名路人, 五百名客户) do not count; a number with no unit is no seat count. Without one, a
caller who says they are on their own ("就我自己", "我自己用用", "只有我一个") counts 1 and
"就我和一个助理" counts 2 (only when no other number above one is said, so "就我和三个同事"
stays unknown); "就我自己定" and "我自己决定" speak of who decides, not of users, and count
nothing.

A turn that states several budgets or counts gets one value by :func:`tierline.nlu.amounts.choose`:
negated amounts are dropped, a correction replaces, a plan keeps the larger, a bound or a range
keeps the lower, users beat a headcount.
"""

from __future__ import annotations

import re

from tierline.nlu.amounts import Mention, choose
from tierline.nlu.money import Money, currency_after, currency_before, fx_rates
from tierline.nlu.numerals import NumberSpan, find_numbers
from tierline.nlu.records import Entities

__all__ = ["budget_mentions", "extract_budget", "extract_competitor", "extract_entities",
           "extract_product", "extract_seats", "extract_timeline", "seat_mentions"]

_BUDGET_WORDS = ("预算", "投入", "花", "出", "报价", "价位", "费用", "资金", "经费", "成本",
                 "价格", "打算拿", "准备拿", "拨了", "批了", "控制在", "不超过")
_BUDGET_WORD_RE = re.compile("|".join(_BUDGET_WORDS))
_MONEY_AFTER = re.compile(r"^\s*(?:块钱|块|元|圆|rmb|RMB|人民币|万元|万块)")
_MONEY_BEFORE = re.compile(r"(?:人民币|¥|￥|rmb|RMB)\s*$")
_SEAT_UNITS = (
    "个坐席", "个座席", "个席位", "个账号", "个帐号", "个门店", "个员工", "个用户", "个终端",
    "个客服", "个销售", "个工位", "个子账号", "个分店", "个人", "个店",
    "家门店", "家分店", "家分公司", "家店", "家连锁", "号人", "号员工",
    "坐席", "座席", "席位", "账号", "帐号", "门店", "员工", "用户", "终端", "客服", "销售",
    "台电脑", "台终端", "台座机", "台话机", "台坐席", "台工位",
    "人", "名", "位",
)
_PEOPLE_UNITS = frozenset({"个员工", "个人", "号人", "号员工", "员工", "人", "名", "位"})
"""Units that count people, who are users only when a verb of use follows (五个人用)."""
_SEAT_AFTER = re.compile(
    r"\s*(?:来|多|余|左右|上下)?\s*(?P<unit>" + "|".join(map(re.escape, _SEAT_UNITS)) + ")")
_SEAT_EXCLUDE_AFTER = re.compile(r"^\s*(?:来|多|余)?\s*(?:人民币|位数|名额|台湾|台币|名次|人次)")
_USING = re.compile(r"\s*(?:左右|上下)?\s*"
                    r"(?:都|全|全部|也|还|就|要|会|需要|得|在|来|可以|能|同时|一起)*"
                    r"\s*(?:用|使用|开通|登录|登陆|上系统|装|接入|开账号|上线|操作)")
_NOT_USING = re.compile(r"\s*(?:都|也|还|就|全)?\s*(?:不|没|用不)(?:用|需要|使用|会用|着)")
_NOT_USERS = re.compile(
    r"(?:路人|行人|客户|顾客|客人|游客|乘客|旅客|学生|学员|孩子|小孩|家人|亲戚|朋友|老人|病人|患者"
    r"|访客|粉丝|会员|居民|村民|业主|观众|读者|网友|同学|家长|嘉宾|候选人|应聘者|求职者|消费者|选手"
    r"|股东|投资人)")
"""People counted after a people unit who are not users of the system (两名路人, 五百名客户)."""
_SEAT_PREFIX = re.compile(
    r"(?P<noun>人数|员工数?|用户数|坐席数|座席数|账号数|门店数|团队|编制"
    r"|(?P<use>(?:在|要|会|需要)?(?:用|使用)(?:这套|这个)?(?:系统|软件|crm|CRM)?的人?)"
    r"|客服|坐席|座席|销售|业务员|账号|门店|人(?=的话|这块|这边|方面)"
    r"|(?:坐席|座席|席位|账号|团队|人员|员工|用户)规模)"
    r"(?:的话|这块|这边|方面|有|是|大概|大约|约|在|差不多|就|也就|只有|才|一共|总共|其实|实际)*"
    r"\s*$")
_USER_PREFIXES = frozenset({"用户数", "坐席数", "座席数", "账号数", "门店数", "坐席规模",
                            "座席规模", "席位规模", "账号规模", "用户规模", "客服", "坐席", "座席",
                            "销售", "业务员", "账号", "门店"})
"""Nouns before a bare count that name users (the people who use it: 用系统的, 在用的, too)."""
_DECIDES = re.compile(r"\s*(?:就|能|就能|来|也)?\s*"
                      r"(?:说了算|说了不算|说的算|定|决定|拍板|做主|做不了主|拿主意|签字|审批)")
_BARE_COUNT = re.compile(r"\s*(?:来|多|余)?\s*(?P<cls>个|位|名|家)?"
                         r"\s*(?:左右|上下|吧|啊|呢|呀|的样子)?\s*(?=$|[，,。.！!？?；;])")
"""A count with nothing after it but a classifier, a particle and the end of the clause."""
_SOLO = re.compile(r"(?:就|只有|只|光)我(?:自己|一个人?|一人)|我?自己(?:一个人)?用(?![过了户])"
                   r"|个人用(?![过了户])")
_PAIR = re.compile(r"(?:就|只有|只)我(?:和|跟|加|带着?)(?!你|您)(?:一个|一位|个)?"
                   r"[^\d，,。！!？?]{1,4}")
_DECIDES_AFTER = re.compile(
    r"^\s*(?:来|能|就能|就|说)?\s*(?:定|决定|说了算|拍板|批|做主|负责|签|管|找)")
_NOT_AMOUNT_AFTER = re.compile(
    r"^\s*(?:来|多|余)?\s*(?:年|个月|月|天|日|号|周|星期|礼拜|小时|分钟|秒|岁|%|％|倍|折|次|点|楼"
    r"|层|期|级|g|G|m|M|公里|米|斤|个点)")
_DISCOUNT_BEFORE = re.compile(r"(?:便宜|优惠|降|少|差|省|贵|多花|多出|涨|打)\s*了?\s*$")
_OTHER_VENDOR = re.compile(r"别家|人家|其他家|他们家|竞品|对手|友商|别的厂|同行")
_OUR_PRICE = re.compile(r"(?:你们|您们|你家|贵公司|贵司)的?"
                        r"(?:报价|价格|要价|开价|报的|报了|卖|收|标价)")
"""The vendor's own price named by the caller (你们报价七十万太高了) is not the caller's budget."""
_CLAUSE_SPLIT = re.compile(r"[，,。.！!？?；;\n]")

_TIMELINE = (
    "下个季度", "下季度", "本季度", "这个季度", "季度末", "季度底",
    "下个月", "下月", "这个月", "本月", "月底", "月初", "月中", "下半月",
    "下个星期", "下星期", "下礼拜", "下周", "这周", "本周", "周末",
    "年底", "年初", "年前", "年后", "年内", "年中", "明年", "今年", "后年", "下半年", "上半年",
    "尽快", "马上", "立刻", "立即", "越快越好", "近期", "这两天", "明天", "后天", "今天",
    "春节前", "春节后", "国庆前", "国庆后", "节后", "节前",
)
_CN_NUM = "一二两三四五六七八九十半几0-9"
_TIMELINE_RE = re.compile(
    rf"(?:[{_CN_NUM}]+个?(?:月|周|星期|礼拜|天|工作日|季度)(?:以内|之内|内))"
    r"|(?<![A-Za-z])[Qq][1-4](?![0-9])"
    r"|第[一二三四1-4]季度"
    rf"|(?:[{_CN_NUM}]{{1,3}}月(?:份)?(?:底|初|中|前|之前)?)(?!元|块)"
    r"|" + "|".join(sorted(map(re.escape, _TIMELINE), key=len, reverse=True))
)
_PRODUCT_RE = re.compile(r"基础版|标准版|专业版|旗舰版|企业版|私有化部署|私有部署|本地化部署")
_PRODUCT_CANON = {"私有部署": "私有化部署", "本地化部署": "私有化部署"}
_COMPETITOR_RE = re.compile(
    r"钉钉|企业微信|企微|飞书|salesforce|纷享销客|分享销客|销售易|用友|金蝶|华为云|阿里云|腾讯",
    re.IGNORECASE)
_COMPETITOR_CANON = {"企微": "企业微信", "分享销客": "纷享销客", "salesforce": "Salesforce"}


def _clause_bounds(text: str, start: int, end: int) -> tuple[int, int]:
    left = 0
    for m in _CLAUSE_SPLIT.finditer(text, 0, start):
        # a thousands separator or decimal point inside a number is not a clause break
        if m.group(0) in ",." and m.start() > 0 and text[m.start() - 1].isdigit():
            continue
        left = m.end()
    m = _CLAUSE_SPLIT.search(text, end)
    right = m.start() if m else len(text)
    return left, right


def _is_percent(text: str, span: NumberSpan) -> bool:
    return text[max(0, span.start - 3):span.start].endswith("百分之")


def _has_big_unit(span: NumberSpan) -> bool:
    return any(c in span.text for c in "万亿萬億kKwW")


def budget_mentions(text: str, spans: list[NumberSpan] | None = None) -> list[Mention]:
    """Every amount in ``text`` that counts as budget or spend, converted to CNY.

    Args:
        text: The utterance.
        spans: Numbers already found in ``text`` (computed when omitted).

    Returns:
        Mentions in text order; ``strong`` when said with a budget word, ``money`` when the
        amount was in a foreign currency.
    """
    spans = find_numbers(text) if spans is None else spans
    rates: dict[str, float] | None = None
    out: list[Mention] = []
    for sp in spans:
        after = text[sp.end:sp.end + 6]
        if sp.value <= 0 or _is_percent(text, sp):
            continue
        currency = currency_after(text, sp.end)
        code = currency[0] if currency else currency_before(text, sp.start)
        if code is None and (_NOT_AMOUNT_AFTER.match(after) or (
                _SEAT_AFTER.match(after) and not _MONEY_AFTER.match(after))):
            continue
        left, right = _clause_bounds(text, sp.start, sp.end)
        before = text[left:sp.start]
        clause = text[left:right]
        if (_COMPETITOR_RE.search(clause) or _OTHER_VENDOR.search(clause)
                or _OUR_PRICE.search(before)):
            continue
        if _DISCOUNT_BEFORE.search(before):
            continue
        money_unit = (code is not None or _has_big_unit(sp) or bool(_MONEY_AFTER.match(after))
                      or bool(_MONEY_BEFORE.search(before)))
        keyword = bool(_BUDGET_WORD_RE.search(before))
        if not (money_unit or (keyword and sp.value >= 100)):
            continue
        money = None
        value = sp.value
        if code is not None:
            rates = rates or fx_rates()
            money = Money(sp.value, code, rates[code])
            value = money.cny
        end = currency[1] if currency else sp.end
        out.append(Mention(value, sp.start, end, keyword, money))
    return out


def extract_budget(text: str, spans: list[NumberSpan] | None = None) -> float | None:
    """Money amount the caller states as budget or spend, in CNY.

    Args:
        text: The utterance.
        spans: Numbers already found in ``text`` (computed when omitted).

    Returns:
        The amount :func:`tierline.nlu.amounts.choose` picks (the lower bound of a range, the
        corrected value of a correction, the larger of a plan) or ``None``.
    """
    chosen = choose(text, budget_mentions(text, spans))
    return chosen.value if chosen else None


def seat_mentions(text: str, spans: list[NumberSpan] | None = None) -> list[Mention]:
    """Every count of people, accounts, stores, seats, users or agents in ``text``.

    A count is ``strong`` when it counts users: a seat, account, store, user, agent or
    terminal unit, or a people unit followed by a verb of use (五个人用, 两百人都要用). A
    bare number is no count ("大概三百"), nor are people who are not users (两名路人,
    五百名客户, 三百个员工都不用); "团队规模两百" and "员工三百多" count, as headcounts.
    A bare classifier (三百个) counts when the turn has already named a seat unit
    (先上三十个坐席，年底扩到三百个).

    Args:
        text: The utterance.
        spans: Numbers already found in ``text`` (computed when omitted).
    """
    spans = find_numbers(text) if spans is None else spans
    out: list[Mention] = []
    for sp in spans:
        if sp.value < 1 or _is_percent(text, sp) or not float(sp.value).is_integer():
            continue
        after = text[sp.end:sp.end + 6]
        if _SEAT_EXCLUDE_AFTER.match(after) or currency_after(text, sp.end):
            continue
        unit = _SEAT_AFTER.match(text, sp.end)
        if unit:
            stop = unit.end()
            if (_NOT_USERS.match(text, stop) or _NOT_USING.match(text, stop)
                    or (unit.group("unit") in _PEOPLE_UNITS and _DECIDES.match(text, stop))):
                continue
            users = (unit.group("unit") not in _PEOPLE_UNITS
                     or bool(_USING.match(text, stop)))
            out.append(Mention(float(int(sp.value)), sp.start, stop, users))
            continue
        before = text[max(0, sp.start - 12):sp.start]
        prefix = _SEAT_PREFIX.search(before)
        bare = _BARE_COUNT.match(text, sp.end)
        if prefix and bare and not _has_big_unit(sp):
            users = prefix.group("noun") in _USER_PREFIXES or bool(prefix.group("use"))
            out.append(Mention(float(int(sp.value)), sp.start, bare.end(), users))
        elif bare and out and bare.group("cls"):
            # ellipsis: 先上三十个坐席，年底扩到三百个 (the unit was said once)
            out.append(Mention(float(int(sp.value)), sp.start, bare.end(), out[-1].strong))
    return out


def extract_seats(text: str, spans: list[NumberSpan] | None = None) -> int | None:
    """Count of the people who will use the system (seats, accounts, stores, users, agents).

    Args:
        text: The utterance.
        spans: Numbers already found in ``text`` (computed when omitted).

    Returns:
        The count :func:`tierline.nlu.amounts.choose` picks among :func:`seat_mentions`
        (users before a headcount; then correction, plan, bound and the largest), 1 or 2 for
        a caller alone or one of two, or ``None``.
    """
    spans = find_numbers(text) if spans is None else spans
    mentions = seat_mentions(text, spans)
    chosen = choose(text, mentions, scope=True)
    if chosen is not None:
        return int(chosen.value)
    if not mentions and not any(sp.value > 1 for sp in spans):
        return _few_users(text)
    return None


def _few_users(text: str) -> int | None:
    """1 or 2 when the caller says they are alone or one of two users, else None."""
    for pattern, count in ((_PAIR, 2), (_SOLO, 1)):
        for m in pattern.finditer(text):
            if not _DECIDES_AFTER.match(text[m.end():m.end() + 6]):
                return count
    return None


def extract_timeline(text: str) -> str | None:
    """First time phrase in the utterance, as spoken (``下个月``, ``三个月内``, ``Q3``)."""
    m = _TIMELINE_RE.search(text)
    return m.group(0) if m else None


def extract_product(text: str) -> str | None:
    """First edition name mentioned (``企业版``); ``私有部署`` → ``私有化部署``."""
    m = _PRODUCT_RE.search(text)
    return _PRODUCT_CANON.get(m.group(0), m.group(0)) if m else None


def extract_competitor(text: str) -> str | None:
    """First competitor mentioned, canonical name (``企微`` → ``企业微信``)."""
    m = _COMPETITOR_RE.search(text)
    if not m:
        return None
    name = m.group(0)
    return _COMPETITOR_CANON.get(name.lower(), _COMPETITOR_CANON.get(name, name))


def extract_entities(text: str) -> Entities:
    """Extract all entity slots from one utterance.

    Args:
        text: The utterance (ideally Simplified and NFKC-normalised).

    Returns:
        An :class:`Entities` record; unmentioned slots are ``None``.
    """
    if not isinstance(text, str) or not text:
        return Entities()
    spans = find_numbers(text)
    budget = choose(text, budget_mentions(text, spans))
    return Entities(
        budget_cny=budget.value if budget else None,
        seats=extract_seats(text, spans),
        timeline=extract_timeline(text),
        product=extract_product(text),
        competitor=extract_competitor(text),
        budget_source=budget.money if budget else None,
    )
