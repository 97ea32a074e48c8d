"""Long calls: many weak turns never add up to a high tier (issue 30, class 4)."""

from __future__ import annotations

import itertools

import pytest

from tierline.agent.session import CallSession, Models
from tierline.nlu.pipeline import Nlu
from tierline.segmentation.features import CustomerProfile

# Interest without a large-value signal: prices, features, trials, integration questions
# without purchase intent, hesitation. Written for this test.
WEAK_TURNS = (
    "你们这个软件一年大概多少钱", "有没有手机端可以用", "能不能先给个账号试一试",
    "你们跟别家比有什么优势", "支持导出报表吗", "我们有点兴趣，想多了解一点",
    "数据能不能放在我们自己的服务器上", "可以接企业微信吗", "听起来还行，回头商量一下",
    "你们的售后服务怎么样", "有没有行业案例可以参考",
)


@pytest.fixture(scope="module")
def nlu():
    return Nlu()


def test_three_hundred_weak_turns_never_make_a_caller_high(nlu):
    call = CallSession(Models(nlu=nlu), CustomerProfile(), {"id": "long"})
    turns = [call.on_text(t) for t in itertools.islice(itertools.cycle(WEAK_TURNS), 300)]
    assert [t.tier.label for t in turns if t.tier.label == "high"] == []
    assert call.record.route.queue != "senior_sales"
    assert max(t.tier.scores["high"] for t in turns) < 0.5


def test_a_large_value_signal_late_in_a_long_call_still_makes_it_high(nlu):
    call = CallSession(Models(nlu=nlu), CustomerProfile(), {"id": "long-then-big"})
    for text in itertools.islice(itertools.cycle(WEAK_TURNS), 120):
        call.on_text(text)
    turn = call.on_text("我们今年的预算有两百万，准备全公司上线")
    assert turn.tier.label == "high" and call.record.route.queue == "senior_sales"
    assert call.record.route.at_turn == 120


def test_intent_signals_must_be_recent(nlu):
    """An integration ask and a purchase wish 50 turns apart are no large-value signal."""
    call = CallSession(Models(nlu=nlu), CustomerProfile(), {"id": "apart"})
    call.on_text("能不能跟我们的ERP系统对接")
    for text in itertools.islice(itertools.cycle(WEAK_TURNS[:6]), 50):
        call.on_text(text)
    last = call.on_text("我们打算采购")
    assert last.tier.label != "high"
    together = CallSession(Models(nlu=nlu), CustomerProfile(), {"id": "together"})
    together.on_text("能不能跟我们的ERP系统对接")
    assert together.on_text("对接没问题的话我们就采购").tier.label == "high"
