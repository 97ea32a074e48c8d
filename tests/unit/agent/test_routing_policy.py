"""Routing precedence and the rule that a call's first transfer is final."""

from __future__ import annotations

import itertools

import pytest

from tierline.agent.policy import REQUEST_HUMAN_MIN_SCORE, RouteDecision, RoutingPolicy
from tierline.agent.session import CallSession, Models
from tierline.nlu.pipeline import Nlu
from tierline.segmentation.features import CustomerProfile

# Each competing reason as the (tier, intent, emotion) that raises it on its own.
REASONS = {
    "angry": ("medium", "complaint", "angry"),
    "high": ("high", "purchase_intent", "neutral"),
    "churn_risk": ("churn_risk", "churn_signal", "neutral"),
    "request_human": ("medium", "request_human", "neutral"),
}
QUEUE = {"angry": "care", "high": "senior_sales", "churn_risk": "retention",
         "request_human": "general"}
PRECEDENCE = ["angry", "high", "churn_risk", "request_human"]


def _combine(a: str, b: str) -> tuple[str, str, str]:
    """One turn that raises both reasons (tier from a tier reason, intent and emotion from
    whichever reason sets them)."""
    tiers = [REASONS[r][0] for r in (a, b) if REASONS[r][0] != "medium"]
    intent = "request_human" if "request_human" in (a, b) else REASONS[a][1]
    emotion = "angry" if "angry" in (a, b) else "neutral"
    return (tiers[0] if tiers else "medium"), intent, emotion


@pytest.mark.parametrize("reason", PRECEDENCE)
def test_each_reason_alone_routes_to_its_queue(reason):
    tier, intent, emotion = REASONS[reason]
    decision = RoutingPolicy().decide(0, tier, intent, emotion)
    assert (decision.action, decision.queue, decision.at_turn) == ("transfer", QUEUE[reason], 0)


@pytest.mark.parametrize("a,b", [p for p in itertools.combinations(PRECEDENCE, 2)
                                 if p != ("high", "churn_risk")])  # one tier per turn
def test_competing_reasons_follow_the_precedence(a, b):
    tier, intent, emotion = _combine(a, b)
    winner = min(a, b, key=PRECEDENCE.index)
    decision = RoutingPolicy().decide(3, tier, intent, emotion)
    assert decision.queue == QUEUE[winner], (a, b, decision)
    assert decision.at_turn == 3


def test_unsure_request_for_a_human_keeps_the_call():
    policy = RoutingPolicy()
    below = policy.decide(1, "medium", "request_human", "neutral",
                          intent_score=REQUEST_HUMAN_MIN_SCORE - 0.01)
    at = policy.decide(1, "medium", "request_human", "neutral",
                       intent_score=REQUEST_HUMAN_MIN_SCORE)
    assert below.action == "continue" and at.queue == "general"


def test_nothing_to_act_on_continues():
    decision = RoutingPolicy().decide(2, "medium", "price_inquiry", "neutral")
    assert (decision.action, decision.queue, decision.at_turn) == ("continue", None, 2)


def test_queue_targets_come_from_configuration():
    policy = RoutingPolicy(queues={"care": "sip:care@pbx.example", "senior_sales": "8001",
                                   "retention": "8002", "general": "8000"})
    assert policy.decide(0, "high", "other", "neutral").target == "8001"


def test_in_force_keeps_the_first_transfer():
    policy = RoutingPolicy()
    first = RouteDecision("transfer", "senior_sales", 0, "high")
    later = RouteDecision("transfer", "care", 1, "angry")
    cont = RouteDecision("continue", None, 0, "keep")
    assert policy.in_force(None, cont) is cont
    assert policy.in_force(cont, first) is first
    assert policy.in_force(first, later) is first
    assert policy.in_force(first, cont) is first


@pytest.fixture(scope="module")
def nlu():
    return Nlu()


def _call(nlu, customer=None) -> CallSession:
    return CallSession(Models(nlu=nlu), customer or CustomerProfile(), {"id": "policy"})


def test_a_later_angry_turn_does_not_move_a_senior_sales_transfer(nlu):
    call = _call(nlu)
    turns = [call.on_text(t) for t in (
        "你好，我们想采购一套客服系统", "我们的预算大概一百万",
        "气死我了，你们怎么这么慢，我要投诉你们", "算了，我不想跟机器人说话，快给我转人工")]
    assert turns[1].route.queue == "senior_sales"
    assert turns[2].route.queue == "care"  # the turn alone would go elsewhere ...
    assert call.record.route.queue == "senior_sales"  # ... but the first transfer stands
    assert call.record.route.at_turn == 1
    assert call.record.to_dict()["route"]["at_turn"] == 1


def test_a_later_request_for_a_human_does_not_move_a_care_transfer(nlu):
    call = _call(nlu)
    for text in ("你们这个系统太垃圾了，气死我了，我要投诉", "我们的预算有两百万，要买五百个坐席",
                 "转人工", "我要找你们经理"):
        call.on_text(text)
    assert len(call.record.turns) == 4
    assert (call.record.route.queue, call.record.route.at_turn) == ("care", 0)


def test_a_keypad_digit_cannot_move_a_transfer(nlu):
    call = _call(nlu)
    call.on_text("气死我了，你们这是什么破服务，我要投诉你们")
    first = call.record.route
    assert first.queue == "care"
    decision = call.on_digit("0", "request_human")
    assert decision.queue == "general"  # what the digit alone would do
    assert call.record.route is first


def test_a_keypad_digit_routes_a_call_without_transfer(nlu):
    call = _call(nlu)
    call.on_text("你好，我想问一下价格")
    call.on_text("嗯，我再想想")
    call.on_digit("0", "request_human")
    assert (call.record.route.queue, call.record.route.at_turn) == ("general", 1)
    assert call.on_digit("9", None) is None


def test_a_turn_in_a_language_the_nlu_does_not_read_carries_no_evidence(nlu):
    call = _call(nlu)
    turn = call.on_text("We want to integrate your system with our ERP, budget two million.",
                        language="en")
    assert turn.intent == ("other", 1.0) and turn.entities == {}
    assert turn.tier.label != "high" and call.record.route.action == "continue"
    assert turn.language == "en"
    # the same words in Mandarin are read
    mandarin = _call(nlu).on_text("我们想把系统和ERP对接，预算两百万", language="zh")
    assert mandarin.tier.label == "high"


def test_an_out_of_language_caller_goes_to_the_configured_queue(nlu):
    policy = RoutingPolicy(out_of_language_queue="general")
    call = CallSession(Models(nlu=nlu), CustomerProfile(), {"id": "en"}, policy)
    call.on_text("Hello, can I speak to someone about pricing?", language="en")
    assert (call.record.route.queue, call.record.route.at_turn) == ("general", 0)
    assert "speaks en" in call.record.route.reason
    cantonese = CallSession(Models(nlu=nlu), CustomerProfile(), {"id": "yue"}, policy)
    cantonese.on_text("我哋想問下價錢", language="yue")
    assert cantonese.record.route.action == "continue"
    angry = policy.decide(0, "medium", "complaint", "angry", language="en")
    assert angry.queue == "care"  # anger is heard in the voice whatever the language


def test_routing_config_names_the_out_of_language_queue():
    from tierline.agent.livekit.config import ConfigError, parse_config

    config = parse_config({"routing": {"out_of_language_queue": "general"}})
    assert config.policy().out_of_language_queue == "general"
    assert parse_config({}).policy().out_of_language_queue is None
    with pytest.raises(ConfigError, match="no queue"):
        parse_config({"routing": {"out_of_language_queue": "nowhere"}})
