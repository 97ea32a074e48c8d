"""Entity extraction: a table of numeral cases (budget and seats), then timeline/product/competitor.

Ranges are valued at their lower bound (``三五万`` → 30,000), see tierline.nlu.numerals.
"""

from __future__ import annotations

import pytest

from tierline.nlu.entities import extract_entities
from tierline.nlu.numerals import find_numbers, parse_number, parse_range
from tierline.nlu.pipeline import normalize

BUDGET_CASES = [
    ("我们的预算是一百二十万", 1_200_000),
    ("预算1.5个亿", 150_000_000),
    ("大概一点五亿的投入", 150_000_000),
    ("预算五十万", 500_000),
    ("预算50万", 500_000),
    ("预算是120万", 1_200_000),
    ("一百二十萬", 1_200_000),  # Traditional, as Whisper sometimes writes it
    ("预算大概三五万", 30_000),
    ("三到五万吧", 30_000),
    ("3-5万的预算", 30_000),
    ("预算在五十万到一百万之间", 500_000),
    ("一到两百万都可以", 1_000_000),
    ("花个二三十万没问题", 200_000),
    ("两千块一个月能接受", 2_000),
    ("五千元以内", 5_000),
    ("预算50k", 50_000),
    ("预算五十k", 50_000),
    ("预算5w", 50_000),
    ("十来万吧", 100_000),
    ("一百多万的项目", 1_000_000),
    ("二十万左右", 200_000),
    ("预算大概二十来万", 200_000),
    ("预算八十万上下", 800_000),
    ("预算一万二", 12_000),
    ("一年三千五百块可以", 3_500),
    ("一千零五块", 1_005),
    ("12,000元", 12_000),
    ("预算几十万", 200_000),
    ("上百万的预算没问题", 1_000_000),
    ("两个亿", 200_000_000),
    ("我们准备拿出一百万来做这个", 1_000_000),
    ("预算不超过八万", 80_000),
    ("壹佰万", 1_000_000),
    # 7+ digits are an amount when a money unit follows, a phone number otherwise
    ("预算是1200000元", 1_200_000),
    ("差不多1500000块", 1_500_000),
    ("总共投入2000000多元", 2_000_000),
    # not budgets
    ("电话13812345678", None),
    ("预算大概1200000", None),
    ("钉钉报价便宜一半", None),
    ("人家报价才三万", None),
    ("能便宜两万吗", None),
    ("2024年上线", None),
    ("三个月内上线", None),
    ("百分之二十的折扣", None),
]

SEAT_CASES = [
    ("大概有两百个座席需要使用", 200),
    ("我们部门有200人需要使用", 200),
    ("三十来个人", 30),
    ("五十个账号", 50),
    ("一百二十家门店", 120),
    ("三百多个席位", 300),
    ("八十家店", 80),
    ("一百五十号人都得用", 150),
    ("一千来号人", 1_000),
    ("五六百号人都要用", 500),
    ("两三百个客服", 200),
    ("十几个销售", 11),
    ("团队有四十人", 40),
    ("几百个账号", 200),
    ("1000多名员工", 1_000),
    ("上千个终端", 1_000),
    ("全公司三千多人都要用", 3_000),
    ("三个呼叫中心加起来六百个坐席", 600),
    ("我们有五十家门店，每个门店都要装", 50),
    ("一下子要上千个账号", 1_000),
    ("坐席规模在80个左右", 80),
    ("团队规模大概在两百个", 200),
    ("预算五十万", None),
    ("等我三个月", None),
    # on their own or one of two, with no count said
    ("我自己用用", 1),
    ("就我自己，没别人", 1),
    ("公司刚起步，眼下只有我一个", 1),
    ("我就是个人用用，不是公司", 1),
    ("目前就我和一个助理", 2),
    ("就我和三个同事", None),
    ("我是老板，买不买我自己决定", None),
    ("这事就我自己定", None),
    ("我自己用过你们的产品", None),
    ("就我跟你说吧", None),
]


@pytest.mark.parametrize(("text", "want"), BUDGET_CASES)
def test_budget_table(text: str, want: float | None) -> None:
    got = extract_entities(normalize(text)).budget_cny
    assert got == want, f"{text}: {got}"


@pytest.mark.parametrize(("text", "want"), SEAT_CASES)
def test_seat_table(text: str, want: int | None) -> None:
    got = extract_entities(normalize(text)).seats
    assert got == want, f"{text}: {got}"


def test_table_is_large_enough() -> None:
    assert len(BUDGET_CASES) + len(SEAT_CASES) >= 40


@pytest.mark.parametrize(("text", "low", "high"), [
    ("三五万", 30_000, 50_000),
    ("三到五万", 30_000, 50_000),
    ("一到两百万", 1_000_000, 2_000_000),
    ("十到二十万", 100_000, 200_000),
    ("三百到五百万", 3_000_000, 5_000_000),
    ("五到十五万", 50_000, 150_000),
    ("1到1.5个亿", 100_000_000, 150_000_000),
    ("二三十", 20, 30),
])
def test_ranges_keep_both_ends_and_value_the_lower(text: str, low: float, high: float) -> None:
    assert parse_range(text) == (low, high)
    assert parse_number(text) == low


def test_lone_digit_before_a_word_is_not_a_number() -> None:
    assert find_numbers("一到月底就忙") == []
    assert find_numbers("我想一下") == []


@pytest.mark.parametrize(("text", "slot", "want"), [
    ("下个月就要上线", "timeline", "下个月"),
    ("希望三个月内上线", "timeline", "三个月内"),
    ("Q3之前定下来", "timeline", "Q3"),
    ("我们要企业版", "product", "企业版"),
    ("能私有部署吗", "product", "私有化部署"),
    ("钉钉便宜一半", "competitor", "钉钉"),
    ("企微是免费的", "competitor", "企业微信"),
    ("我们在用salesforce", "competitor", "Salesforce"),
])
def test_text_slots(text: str, slot: str, want: str) -> None:
    assert getattr(extract_entities(normalize(text)), slot) == want
