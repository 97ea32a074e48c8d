"""Callback times: spoken times resolved against the call's time (tierline.nlu.when)."""

from __future__ import annotations

import datetime as dt

import pytest

from tierline.nlu.when import parse_when

NOW = dt.datetime(2026, 12, 9, 10, 20)  # a Wednesday morning


@pytest.mark.parametrize(("said", "want", "exact"), [
    ("明天下午三点", dt.datetime(2026, 12, 10, 15, 0), True),
    ("半小时后", dt.datetime(2026, 12, 9, 10, 50), True),
    ("下周一", dt.datetime(2026, 12, 14, 10, 0), False),
    ("后天上午十点半再打吧", dt.datetime(2026, 12, 11, 10, 30), True),
    ("过四十分钟你再打", dt.datetime(2026, 12, 9, 11, 0), True),
    ("一个半小时以后", dt.datetime(2026, 12, 9, 11, 50), True),
    ("下星期二下午", dt.datetime(2026, 12, 15, 15, 0), False),
    ("周六晚上七点打给我", dt.datetime(2026, 12, 12, 19, 0), True),
    ("今晚九点", dt.datetime(2026, 12, 9, 21, 0), True),
    ("大后天", dt.datetime(2026, 12, 12, 10, 0), False),
    ("九点打过来", dt.datetime(2026, 12, 10, 9, 0), True),  # 9:00 has passed: tomorrow
    ("五点一刻", dt.datetime(2026, 12, 9, 17, 15), True),  # a bare 5 is afternoon
    ("星期一", dt.datetime(2026, 12, 14, 10, 0), False),  # Monday has passed: the next one
    ("等一会儿再说", dt.datetime(2026, 12, 9, 10, 50), False),
    ("14:45", dt.datetime(2026, 12, 9, 14, 45), True),
    ("下下周三", dt.datetime(2026, 12, 23, 10, 0), False),
    ("20号", dt.datetime(2026, 12, 20, 10, 0), False),
    ("5号", dt.datetime(2027, 1, 5, 10, 0), False),  # the 5th has passed: next month
])
def test_callback_times_resolve_against_the_call(said, want, exact) -> None:
    when = parse_when(said, NOW)
    assert when is not None and (when.at, when.exact) == (want, exact), said
    assert when.said and when.said in said


@pytest.mark.parametrize("text", ["我在开会", "我们有三百个坐席", "", "预算五十万"])
def test_no_time_named(text) -> None:
    assert parse_when(text, NOW) is None


def test_a_time_reads_as_iso_minutes() -> None:
    assert parse_when("明天下午三点", NOW).to_dict() == {"at": "2026-12-10T15:00",
                                                   "said": "明天下午三点", "exact": True}
