"""Scripted text conversations through the real pipeline (NLU → tier → route → dialog)."""

from __future__ import annotations

import shutil
from dataclasses import replace

import pytest
from helpers import paths

from tierline.agent.dialog import DialogConfig, DialogManager, DncList, load_kb
from tierline.agent.dialog.reply import Reply
from tierline.agent.policy import REQUEST_HUMAN_MIN_SCORE, RouteDecision, RoutingPolicy
from tierline.agent.records import TurnRecord
from tierline.agent.session import CallSession, Models
from tierline.audio.records import Emotion
from tierline.nlu.pipeline import Nlu
from tierline.segmentation.features import CustomerProfile, parse_customer
from tierline.segmentation.records import TierUpdate

KB_DIR = paths.KB_DIR
PHONE = "+86 138-0013-8000"


@pytest.fixture(scope="module")
def kb():
    return load_kb(KB_DIR / "yunfan.yaml")


@pytest.fixture(scope="module")
def nlu():
    return Nlu()


@pytest.fixture()
def chat(kb, nlu, tmp_path):
    """Start a call; returns (session, dm, say) where say(text) -> Reply."""

    def start(customer: CustomerProfile | None = None, kb_=None, **config):
        config.setdefault("use_llm", False)
        dm = DialogManager(kb_ or kb, customer=customer, phone=PHONE, call_id="t1",
                           config=DialogConfig(dnc_path=tmp_path / "dnc.sqlite3", **config),
                           nlu=nlu)
        session = CallSession(Models(nlu=nlu), customer or CustomerProfile(), {"id": "t1"},
                              dialog=dm)
        session.open()

        def say(text: str) -> Reply:
            return session.on_text(text).reply

        return session, dm, say

    return start


def test_opening_discloses_first_and_cannot_be_interrupted(chat, kb) -> None:
    session, _, _ = chat()
    opening = session.record.opening
    assert opening.segments[0].kind == "disclosure"
    assert opening.segments[0].text == kb.compliance.disclosure
    assert opening.segments[0].interruptible is False
    assert opening.segments[1].interruptible is True
    assert not opening.interruptible
    session2, _, _ = chat(disclosure=False)
    assert session2.record.opening.interruptible
    assert kb.compliance.disclosure not in session2.record.opening.text


def test_price_answer_comes_from_the_kb(chat, kb, tmp_path) -> None:
    _, _, say = chat()
    reply = say("你们这个系统怎么收费？")
    for e in kb.editions:
        assert f"{e.name}每人每年{e.price_cny_per_seat_year:.0f}元" in reply.text
    # Change the price in a copy of the KB: the answer follows the file.
    for name in ("yunfan.yaml", "templates.zh.yaml", "orders.csv"):
        shutil.copy(KB_DIR / name, tmp_path / name)
    path = tmp_path / "yunfan.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace(
        "price_cny_per_seat_year: 1200", "price_cny_per_seat_year: 1350"), encoding="utf-8")
    _, _, say2 = chat(kb_=load_kb(path))
    text = say2("你们这个系统怎么收费？").text
    assert "专业版每人每年1350元" in text and "1200" not in text


def test_edition_price_and_quote_for_the_callers_seats(chat) -> None:
    _, dm, say = chat()
    reply = say("企业版多少钱？")
    assert "企业版每人每年2400元" in reply.text and "基础版" not in reply.text
    say("我们大概八十个人")
    assert dm.slots.values["seats"] == 80
    # 80 seats × 2400 CNY = 19.2万元
    assert "按80人算，企业版一年大约19.2万元" in say("那一年价格多少").text


def _turn(nlu, text: str, scores: dict[str, float] | None = None) -> TurnRecord:
    """A turn read by the real NLU with tier and route held (medium, continue), so a check is
    about the dialog manager, not about what the tier model makes of the turn."""
    r = nlu.analyze(text)
    scores = scores or {"high": 0.2, "medium": 0.6, "low": 0.1, "churn_risk": 0.1}
    return TurnRecord(
        index=0, start_s=0.0, end_s=0.0, text=text, language="zh", dialect=None,
        intent=(r.intent.label, r.intent.score), intents=(), entities=r.entities.to_dict(),
        emotion=Emotion("neutral", 0.0), latency_ms={},
        tier=TierUpdate(max(scores, key=scores.__getitem__), scores, ()),
        route=RouteDecision("continue", None, 0, "test"))


@pytest.mark.parametrize(("caller", "expected"), [
    ("能开专票吗", "可开增值税专用发票和普通发票"),
    ("你们的数据安全吗", "等保三级"),
    ("能先试用一下吗", "可以免费试用14天，最多5个账号"),
    ("你们能和金蝶对接吗", "金蝶、用友、SAP"),
    ("有没有外呼功能", "智能外呼可以做自动外呼、通话录音和质检，每年2万元"),
])
def test_answers_match_the_kb(kb, nlu, tmp_path, caller, expected) -> None:
    dm = DialogManager(kb, config=DialogConfig(use_llm=False, dnc_path=tmp_path / "d"),
                       nlu=nlu)
    assert expected in dm.respond(_turn(nlu, caller)).text


def test_slots_fill_from_entities_and_answers(chat) -> None:
    _, dm, say = chat(confidence=1.0)
    say("你好，我想了解一下你们的CRM")
    say("我们大概八十个人，预算二十万左右")
    say("下个月就要上线")
    say("我是负责人，我说了算")
    say("现在用Excel表格管客户，跟进不及时老丢单")
    v = dm.slots.values
    assert v["seats"] == 80 and v["budget"] == 200000 and v["timeline"] == "下个月"
    assert v["decision_maker"] == "caller"
    assert v["current_system"].lower() == "excel"
    assert "跟进不及时" in v["pain_point"]


class _UnsureScorer:
    """Unit-test fake: the tier stays uncertain unless a seat count or a budget is heard."""

    def __init__(self) -> None:
        self.scores = {"high": 0.3, "medium": 0.4, "low": 0.2, "churn_risk": 0.1}

    def update(self, ev):
        if ev.seats or ev.budget_cny:
            big = (ev.seats or 0) >= 100 or (ev.budget_cny or 0) >= 500_000
            self.scores = ({"high": 0.6, "medium": 0.3, "low": 0.05, "churn_risk": 0.05} if big
                           else {"high": 0.1, "medium": 0.6, "low": 0.2, "churn_risk": 0.1})
        return TierUpdate(max(self.scores, key=self.scores.__getitem__), dict(self.scores), ())


def test_questions_never_repeat_and_at_most_n_in_a_row(kb, nlu, tmp_path) -> None:
    dm = DialogManager(kb, config=DialogConfig(use_llm=False, dnc_path=tmp_path / "d",
                                               confidence=0.9, max_questions_in_row=2,
                                               min_gain=-1.0), nlu=nlu)
    scorer = _UnsureScorer()
    asked: list[str | None] = []
    for text in ["你们是做什么的", "哦这样", "介绍一下产品", "还有呢", "嗯，功能有哪些",
                 "好的", "明白", "你们版本有什么区别", "行", "嗯", "好"]:
        reply = dm.respond(_turn(nlu, text, dict(scorer.scores)), scorer=scorer)
        if reply.ended:
            break
        asked.append(reply.question_slot if reply.question_slot != "transfer" else None)
    slots = [s for s in asked if s]
    assert len(slots) == len(set(slots)) >= 2
    run = 0
    for s in asked:
        run = run + 1 if s else 0
        assert run <= 2
    assert set(dm.slots.asked) == set(slots)


def test_no_questions_once_the_tier_is_confident_and_no_answer_can_move_it(chat) -> None:
    _, _, say = chat(confidence=0.05, min_information=10.0)
    assert say("你们这个系统怎么收费？").question_slot is None


def test_a_confident_tier_is_still_qualified_while_an_answer_could_move_it(chat) -> None:
    _, dm, say = chat(confidence=0.05, min_information=0.01)
    reply = say("你们这个系统怎么收费？")
    assert reply.question_slot in ("seats", "budget")  # the answers that can make it high


def test_offer_says_why(chat) -> None:
    _, _, say = chat()
    say("你们这个系统怎么收费？")
    reply = say("我们大概八十个人")
    assert reply.offer and reply.offer.startswith("专业版")
    offer = next(s for s in reply.segments if s.kind == "offer").text
    assert "80人" in offer and "9.6万元" in offer and "%" in offer


def test_opt_out_ends_politely_and_lands_on_the_dnc_list(chat, tmp_path) -> None:
    session, _, say = chat()
    say("你们这个系统怎么收费？")
    reply = say("别再打了，烦不烦")
    assert reply.ended and reply.dnc and not reply.interruptible
    assert "免打扰" in reply.text
    dnc = DncList(tmp_path / "dnc.sqlite3")
    assert dnc.contains("13800138000") and dnc.contains("008613800138000")
    assert say("喂？").ended  # the bot said goodbye; nothing more
    assert session.record.to_dict()["turns"][1]["reply"]["dnc"] is True


def test_discount_talk_is_not_an_opt_out(chat, tmp_path) -> None:
    _, _, say = chat()
    reply = say("价格多少？要是不要再打折的话就太贵了")
    assert not reply.dnc and "免打扰" not in reply.text
    assert not DncList(tmp_path / "dnc.sqlite3").contains(PHONE)


def test_noise_reprompts_then_offers_a_human_then_transfers(chat) -> None:
    session, _, say = chat()
    first = say("嗯……")
    assert [s.kind for s in first.segments] == ["reprompt"]
    second = say("今天天气不错")
    assert second.question_slot == "transfer" and not second.ended
    third = say("好的")
    assert third.transfer == "general" and third.ended
    route = session.record.route
    assert route.action == "transfer" and route.queue == "general" and route.at_turn == 2


def test_declining_the_transfer_offer_keeps_the_bot(chat) -> None:
    session, _, say = chat()
    say("")
    say("啊")
    reply = say("不用")
    assert not reply.ended and reply.transfer is None
    assert session.record.route.action == "continue"


def test_route_transfer_is_announced(chat) -> None:
    _, _, say = chat()
    reply = say("我们集团三百人，预算一百万，想尽快采购")
    assert reply.transfer == "senior_sales" and reply.ended
    assert "高级销售顾问" in reply.text


def test_refusal_ends_the_call_without_dnc(chat) -> None:
    _, _, say = chat()
    reply = say("不需要，谢谢")
    assert reply.ended and not reply.dnc and "400-820-6688" in reply.text


def test_one_interruption_per_caller_turn(chat) -> None:
    _, dm, say = chat()
    first = dm.interrupt("long_turn")
    assert first is not None and first.segments[0].kind == "interruption"
    assert dm.interrupt("long_turn") is None
    say("你们这个系统怎么收费？")
    assert dm.interrupt("opt_out") is not None
    assert dm.interrupt("opt_out") is None


def test_no_input_counts_as_unclear(chat) -> None:
    _, dm, _ = chat()
    assert dm.no_input().segments[0].kind == "reprompt"
    assert dm.no_input().question_slot == "transfer"


def test_existing_customer_churn_goes_to_retention(chat) -> None:
    customer = parse_customer({"id": "C9", "contract_value": 300000, "renewal_rate": 0.3,
                               "complaint_count": 3})
    _, _, say = chat(customer=customer)
    reply = say("合同到期就不续了，我们要换钉钉")
    assert reply.transfer == "retention" and "客户成功经理" in reply.text


def test_replay_json_keeps_contract_keys_and_adds_replies(chat) -> None:
    session, _, say = chat()
    say("你们这个系统怎么收费？")
    out = session.record.to_dict()
    assert {"call", "turns", "final_tier", "route", "opening"} <= set(out)
    turn = out["turns"][0]
    assert {"index", "start_s", "end_s", "text", "language", "dialect", "intent", "entities",
            "emotion", "tier", "latency_ms", "reply"} <= set(turn)
    assert turn["reply"]["text"] and turn["reply"]["segments"]
    plain = CallSession(Models(nlu=Nlu()), CustomerProfile(), {"id": "p"})
    plain.on_text("你们这个系统怎么收费？")
    assert "reply" not in plain.record.to_dict()["turns"][0]
    assert "opening" not in plain.record.to_dict()


def test_report_shows_replies_between_caller_turns(chat, tmp_path) -> None:
    from tierline.agent.report import write_report

    session, _, say = chat()
    reply = say("能先试用一下吗")
    html = write_report([session.record.to_dict()], tmp_path / "r.html", "t").read_text(
        encoding="utf-8")
    opening = html.index("录音")
    caller = html.index("能先试用一下吗")
    answer = html.index(reply.segments[0].text)
    assert opening < caller < answer
    assert "title='not interruptible'" in html


def test_a_turn_that_fills_other_slots_is_not_taken_as_the_free_text_answer(chat) -> None:
    _, dm, say = chat(confidence=1.0)
    say("你好，我想了解一下你们的CRM")
    dm.state.pending = "pain_point"  # as if the bot had just asked about the pain point
    say("我们大概八十个人，预算二十万左右")
    assert dm.slots.values["seats"] == 80
    assert "pain_point" not in dm.slots.values


def test_an_unsure_request_for_a_human_is_confirmed_before_any_transfer(kb, nlu, tmp_path) -> None:
    policy = RoutingPolicy()
    unsure = policy.decide(0, "medium", "request_human", "neutral",
                           intent_score=REQUEST_HUMAN_MIN_SCORE - 0.06)
    assert unsure.action == "continue" and "asks first" in unsure.reason
    sure = policy.decide(0, "medium", "request_human", "neutral", intent_score=0.8)
    assert sure.queue == "general"
    assert policy.decide(0, "medium", "request_human", "neutral").queue == "general"  # keypad 0

    def respond(dm: DialogManager, text: str, score: float) -> Reply:
        return dm.respond(replace(_turn(nlu, text), intent=("request_human", score)))

    config = DialogConfig(use_llm=False, dnc_path=tmp_path / "d")
    dm = DialogManager(kb, config=config, nlu=nlu)
    ask = respond(dm, "能不能那个", 0.44)
    assert ask.question_slot == "transfer" and not ask.ended and ask.transfer is None
    assert ask.text == kb.templates.pick("confirm_transfer")
    assert dm.respond(_turn(nlu, "好的")).transfer == "general"
    # an unsure reading of an answer to our question fills the slot and keeps the call
    dm = DialogManager(kb, config=config, nlu=nlu)
    answer = respond(dm, "我是负责人，这事我定", 0.44)
    assert dm.slots.values["decision_maker"] == "caller"
    assert answer.transfer is None and answer.question_slot != "transfer"
    assert "转接" not in answer.text  # no "transferring you" that does not happen


def test_the_policy_transfer_of_a_turn_beats_the_offer_it_accepts(chat) -> None:
    """The first transfer is final for the dialog's offers too: a caller who accepts the
    bot's offer of a human while furious goes to care (the policy's transfer of that turn),
    not to the general queue the accepted offer names."""
    session, _, say = chat()
    say("嗯……")
    assert say("今天天气不错").question_slot == "transfer"
    reply = say("好的好的，快点转，气死我了，你们这是什么破服务，我要投诉")
    route = session.record.route
    assert (route.queue, route.at_turn) == ("care", 2), (reply, route)
