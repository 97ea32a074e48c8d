"""Dialect queues: a caller whose dialect was named goes to the queue that speaks it, when the
configuration has one, else to the plain queue; the reason says the dialect either way."""

from __future__ import annotations

import pytest

from tierline.agent.livekit.config import ConfigError, parse_config
from tierline.agent.policy import (
    DEFAULT_QUEUES,
    RoutingPolicy,
    dialect_queue,
    split_dialect_queue,
)

# (tier, intent, emotion) raising each transfer on its own, and its plain queue
REASONS = {
    "care": ("medium", "complaint", "angry"),
    "senior_sales": ("high", "purchase_intent", "neutral"),
    "retention": ("churn_risk", "churn_signal", "neutral"),
    "general": ("medium", "request_human", "neutral"),
}


def _with_yue_queues() -> RoutingPolicy:
    queues = dict(DEFAULT_QUEUES)
    queues.update({dialect_queue(q, "yue"): f"sip:{q}-yue@tierline.local" for q in REASONS})
    return RoutingPolicy(queues=queues)


@pytest.mark.parametrize("queue", sorted(REASONS))
def test_a_cantonese_caller_reaches_the_cantonese_variant_of_each_queue(queue):
    decision = _with_yue_queues().decide(2, *REASONS[queue], dialect="yue")
    assert (decision.action, decision.queue, decision.at_turn) == ("transfer", f"{queue}_yue", 2)
    assert decision.target == f"sip:{queue}-yue@tierline.local"
    assert "粤语 (yue)" in decision.reason


@pytest.mark.parametrize("queue", sorted(REASONS))
def test_without_a_dialect_queue_the_plain_queue_takes_the_call(queue):
    decision = RoutingPolicy().decide(1, *REASONS[queue], dialect="yue")
    assert decision.queue == queue
    assert decision.target == DEFAULT_QUEUES[queue]
    assert "粤语 (yue)" in decision.reason and f"no {queue}_yue queue" in decision.reason


@pytest.mark.parametrize("dialect", [None, "unknown", "klingon"])
def test_an_unnamed_dialect_changes_nothing(dialect):
    policy = _with_yue_queues()
    for args in REASONS.values():
        assert policy.decide(0, *args, dialect=dialect) == policy.decide(0, *args)


def test_other_dialects_do_not_take_the_cantonese_queue():
    decision = _with_yue_queues().decide(0, *REASONS["care"], dialect="wu")
    assert decision.queue == "care" and "吴语 (wu)" in decision.reason


def test_a_mandarin_caller_keeps_the_plain_reason():
    policy = RoutingPolicy()
    assert policy.decide(0, *REASONS["general"], dialect="mandarin") == \
        policy.decide(0, *REASONS["general"])


def test_continuing_calls_stay_with_the_bot_whatever_the_dialect():
    decision = _with_yue_queues().decide(0, "medium", "price_inquiry", "neutral",
                                         dialect="yue")
    assert decision.action == "continue" and decision.queue is None
    assert "yue" not in decision.reason


def test_precedence_is_unchanged_by_the_dialect():
    # angry and high at once: care wins, in its Cantonese variant
    decision = _with_yue_queues().decide(0, "high", "purchase_intent", "angry", dialect="yue")
    assert decision.queue == "care_yue"


def test_queue_names_split_into_plain_queue_and_dialect():
    assert split_dialect_queue("care_yue") == ("care", "yue")
    assert split_dialect_queue("senior_sales") == ("senior_sales", None)
    assert split_dialect_queue("senior_sales_wu") == ("senior_sales", "wu")
    assert split_dialect_queue("care_xx") == ("care_xx", None)


def test_config_dialect_queue_falls_back_to_the_plain_queue_and_is_named_in_its_dialect():
    config = parse_config({"queues": {
        "care": {"target": "sip:care@pbx.example"},
        "care_yue": {"target": "sip:care-yue@pbx.example"},
        "general_chuan": {"target": "tel:+862800000000", "fallback": "care"}}})
    yue = config.queue("care_yue")
    assert (yue.target, yue.fallback, yue.spoken) == ("sip:care-yue@pbx.example", "care",
                                                      "客户关怀专员（粤语）")
    assert config.queue("general_chuan").fallback == "care"
    assert config.queue("retention_wu").spoken == "客户成功经理（吴语）"  # unconfigured
    decision = config.policy().decide(4, *REASONS["care"], dialect="yue")
    assert (decision.queue, decision.target) == ("care_yue", "sip:care-yue@pbx.example")
    decision = config.policy().decide(4, *REASONS["care"], dialect="chuan")
    assert decision.queue == "care"  # care_chuan is not configured


@pytest.mark.parametrize("queues,words", [
    ({"care_xx": {"target": "sip:a@b"}}, "unknown queue 'care_xx'"),
    ({"desk_yue": {"target": "sip:a@b"}}, "unknown queue 'desk_yue'"),
    ({"care_yue": {"target": "sip:a@b", "fallback": "desk"}}, "fallback 'desk' is no queue"),
    ({"care_yue": {"target": "http://a"}}, "target must be"),
])
def test_config_rejects_bad_dialect_queues(queues, words):
    with pytest.raises(ConfigError, match=words):
        parse_config({"queues": queues})


def test_the_session_routes_turns_and_keypad_digits_with_the_callers_dialect():
    """The session hands each turn's dialect to the policy (a recogniser with an identifier
    fills it; here it is given as the transcript would carry it)."""
    from tierline.agent.session import CallSession, Models
    from tierline.nlu.pipeline import Nlu
    from tierline.segmentation.features import CustomerProfile

    def session() -> CallSession:
        return CallSession(Models(nlu=Nlu()), CustomerProfile(),
                           {"id": "yue"}, policy=_with_yue_queues())

    spoken = session()
    turn = spoken.on_text("我要转人工，帮我找个真人", dialect="yue", dialect_confidence=0.97)
    assert turn.to_dict()["dialect_confidence"] == 0.97
    assert (turn.route.queue, spoken.route.queue) == ("general_yue", "general_yue")
    pressed = session()
    pressed.on_text("你好，我想问一下", dialect="yue")
    assert pressed.on_digit("0", "request_human").queue == "general_yue"
    plain = session()
    assert plain.on_text("我要转人工，帮我找个真人").route.queue == "general"
