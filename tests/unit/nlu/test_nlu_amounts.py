"""Which amount a turn means: currencies, negation, corrections, plans, bounds and scope.

The rows are wordings the rules were not tuned on (the probes during development used other
sentences); each row names its class. The rule table is in tierline.nlu.amounts.
"""

from __future__ import annotations

import pytest

from tierline.nlu.entities import extract_entities
from tierline.nlu.errors import NluError
from tierline.nlu.money import DEFAULT_RATES, FX_ENV, fx_rates
from tierline.nlu.pipeline import Nlu, normalize


def entities(text: str):
    return extract_entities(normalize(text))


BUDGET_TWO_AMOUNTS = [
    # correction: the later value replaces
    ("预算八十万，啊不对，说错了，是十八万", 180_000),
    ("一百五十万吗？没那么多，顶多十五万", 150_000),
    ("我们出五十万，不是，应该是五万", 50_000),
    ("总共三十万，实际上今年能花的才十万", 100_000),
    # plan: the larger
    ("今年先投二十万，明年再追加到八十万", 800_000),
    ("一期预算三十万，二期还有一百万", 1_000_000),
    # bound and range: the lower
    ("预算二十万，最多能到四十万", 200_000),
    ("花个四十万，起码也得二十万吧", 200_000),
    ("预算在三十到六十万之间", 300_000),
    # independent: the budget word first, then the larger
    ("我们预算四十万，你们报价七十万太高了", 400_000),
    # negated
    ("预算并没有一百万那么多", None),
    ("我们没有五十万的预算，只有二十万", 200_000),
]

SEATS_TWO_AMOUNTS = [
    ("先开二十个账号试试，下半年推广到两百个账号", 200),
    ("一开始五十个座席，后面陆续扩到一千个", 1000),
    ("四百个坐席，哦不，四十个坐席", 40),
    ("我们没有一百个客服，就十几个", 11),
    ("三十到八十个坐席吧", 30),
    ("要开一百个账号，最少也得六十个", 60),
]


@pytest.mark.parametrize(("text", "want"), BUDGET_TWO_AMOUNTS)
def test_budget_when_a_turn_says_two(text: str, want: float | None) -> None:
    assert entities(text).budget_cny == want, text


@pytest.mark.parametrize(("text", "want"), SEATS_TWO_AMOUNTS)
def test_seats_when_a_turn_says_two(text: str, want: int | None) -> None:
    assert entities(text).seats == want, text


@pytest.mark.parametrize(("text", "want"), [
    # seats are the users, not the headcount
    ("公司一千二百号人，真正用系统的也就三十个", 30),
    ("员工有八百多，不过只有十来个人会用", 10),
    ("我们厂三千工人，办公室里二十个人用电脑", 20),
    ("全公司五百人，销售四十个", 40),
    # a plan about the headcount does not make it the users (users are counted first)
    ("公司现在两百人，以后用系统的大概五十个", 50),
    ("现在五十个人在用，明年公司会扩到三百人", 50),
    # people who are not users are no seat count
    ("每天来店里的有三百名顾客", None),
    ("我们服务了两千位患者", None),
    ("刚才有两位路人在问", None),
    ("三个孩子在家", None),
    ("五十多个员工都不会用电脑", None),
    ("这事我一个人做不了主", None),
    # a number without a unit is not a seat count
    ("大概两百吧", None),
    ("我们有五百", None),
    ("团队有4个小组", None),
    # devices are seats only when they are agents' terminals
    ("仓库里有六十台叉车", None),
    ("客服中心四十台电脑", 40),
])
def test_seat_scope(text: str, want: int | None) -> None:
    assert entities(text).seats == want, text


@pytest.mark.parametrize(("text", "code", "amount"), [
    ("预算大概十二万美元", "USD", 120_000),
    ("我们能出三万美金", "USD", 30_000),
    ("预算$15,000左右", "USD", 15_000),
    ("两百万港元以内", "HKD", 2_000_000),
    ("预算五百万新台币", "TWD", 5_000_000),
    ("大约四十万台幣", "TWD", 400_000),
    ("预算一万欧元", "EUR", 10_000),
])
def test_foreign_currency_is_converted_and_says_its_rate(text: str, code: str,
                                                         amount: float) -> None:
    e = entities(text)
    assert e.budget_source is not None and e.budget_source.currency == code
    assert e.budget_source.amount == amount and e.budget_source.rate == DEFAULT_RATES[code]
    assert e.budget_cny == pytest.approx(amount * DEFAULT_RATES[code])
    assert e.to_dict()["budget_source"] == {"amount": amount, "currency": code,
                                            "rate": DEFAULT_RATES[code]}
    assert e.seats is None  # 台币 / 台幣 is money, never a count of terminals


def test_cny_amounts_carry_no_source() -> None:
    e = entities("预算三十万人民币")
    assert e.budget_cny == 300_000 and e.budget_source is None
    assert "budget_source" not in e.to_dict()


def test_the_rate_comes_from_the_environment(monkeypatch) -> None:
    monkeypatch.setenv(FX_ENV, "USD=6.5, twd=0.25")
    assert fx_rates()["USD"] == 6.5 and fx_rates()["TWD"] == 0.25
    assert fx_rates()["HKD"] == DEFAULT_RATES["HKD"]
    e = entities("预算两万美元")
    assert e.budget_cny == 130_000 and e.budget_source.rate == 6.5


@pytest.mark.parametrize("bad", ["USD", "USD=abc", "XYZ=1", "USD=-2", "USD=0"])
def test_a_malformed_rate_is_one_clear_error(monkeypatch, bad: str) -> None:
    monkeypatch.setenv(FX_ENV, bad)
    with pytest.raises(NluError, match=FX_ENV):
        fx_rates()
    with pytest.raises(NluError, match=FX_ENV):
        Nlu()


def test_a_later_turn_that_corrects_replaces_the_calls_amount() -> None:
    from tierline.segmentation.records import TurnEvidence
    from tierline.segmentation.rules import RuleTierScorer
    from tierline.segmentation.state import EvidenceState

    nlu = Nlu()
    turns = ["我们这个项目预算大概六十万", "我们有一百五十个销售",
             "不好意思，刚才说错了，预算是六万，人的话其实就十五个"]
    state, rules = EvidenceState(), RuleTierScorer()
    for text in turns:
        r = nlu.analyze(text)
        ev = TurnEvidence(intent_scores=r.scores, budget_cny=r.entities.budget_cny,
                          seats=r.entities.seats, text=text)
        state.add(ev)
        update = rules.update(ev)
    assert (state.budget, state.seats) == (60_000, 15)
    assert update.label != "high"
    # without a correction word the call keeps its largest amount
    state = EvidenceState()
    for text in ("预算六十万", "另外一个部门预算六万"):
        state.add(TurnEvidence(budget_cny=Nlu().analyze(text).entities.budget_cny, text=text))
    assert state.budget == 600_000
