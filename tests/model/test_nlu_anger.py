"""Anger needs more than one cheap word; negation scope on the intent side (real models).

Wordings here were written for the tests, not used while tuning the rules (tierline.nlu.anger,
tierline.nlu.reading).
"""

from __future__ import annotations

import json

import pytest
from helpers import paths

from tierline.agent.session import CallSession, Models
from tierline.audio.emotion import fuse_emotion
from tierline.audio.records import VoiceAffect
from tierline.nlu.anger import UNBACKED
from tierline.nlu.pipeline import Nlu
from tierline.nlu.reading import literal_spans, model_reading
from tierline.nlu.sentiment import anger_cues
from tierline.segmentation.features import CustomerProfile, parse_customer

CALLS = paths.CALLS


@pytest.fixture(scope="module")
def nlu() -> Nlu:
    return Nlu()


def words_emotion(nlu: Nlu, text: str, voice: VoiceAffect | None = None) -> str:
    r = nlu.analyze(text)
    return fuse_emotion(voice, r.sentiment, r.anger, r.scores.get("hesitation", 0.0)).label


@pytest.mark.parametrize("text", [
    "我们是一家做餐厨垃圾处理的环保公司，想了解一下你们的CRM",
    "我们厂主要生产垃圾压缩设备，销售有二十来个人",
    "我们这边是律师事务所，有十五个律师要用",
    "我们是做滚筒生产线的",
    "你们系统能不能设置超时报警",
    "我们是一家自媒体公司",
    "有没有专门处理客户投诉的模块",
    "你们支持USB耳机吗",
    "我妈的店也想用一下",
    "垃圾。",
    "你们最近搞什么促销吗",
])
def test_a_cheap_word_alone_does_not_make_an_angry_caller(nlu: Nlu, text: str) -> None:
    r = nlu.analyze(text)
    assert r.anger <= UNBACKED, (text, r.anger, r.anger_basis)
    assert words_emotion(nlu, text) != "angry", text


@pytest.mark.parametrize("text", [
    "你们这帮骗子，把钱还给我",
    "我已经打了五次电话了，你们到底管不管，我要去消协投诉！",
    "什么垃圾服务，气死我了",
    "再这样拖下去我就去工商局告你们",
    "我真的非常愤怒，你们的客服一直在敷衍",
    "你们简直欺人太甚",
])
def test_real_anger_is_still_anger(nlu: Nlu, text: str) -> None:
    r = nlu.analyze(text)
    assert r.anger >= 0.6 and r.anger_basis in ("repeated cues", "complaint in negative words")
    assert words_emotion(nlu, text) == "angry", text


def test_a_raised_voice_can_tip_a_single_cue(nlu: Nlu) -> None:
    shouted = VoiceAffect(arousal=0.9, hesitancy=0.1, confidence=0.7, turn=2)
    calm = VoiceAffect(arousal=0.3, hesitancy=0.1, confidence=0.7, turn=2)
    assert words_emotion(nlu, "垃圾！", shouted) == "angry"
    assert words_emotion(nlu, "垃圾！", calm) != "angry"
    # the waste-processing caller, excited: no anger cue and no negative words to gate it
    assert words_emotion(nlu, "我们公司做垃圾分类设备的，很想试试", shouted) != "angry"


def test_literal_senses_are_no_cues() -> None:
    assert [c.word for c in anger_cues("我们做厨余垃圾清运")] == []
    assert [c.word for c in anger_cues("厨余垃圾清运都是垃圾")] == ["垃圾"]
    assert literal_spans("usb接口") == [] and anger_cues("usb接口") == []
    assert [c.word for c in anger_cues("你是sb吗")] == ["sb"]


def _call(lines: list[str], customer: CustomerProfile) -> CallSession:
    session = CallSession(Models(nlu=Nlu()), customer, {"id": "t"})
    for line in lines:
        session.on_text(line)
    return session


def test_the_waste_company_is_not_sent_to_care() -> None:
    session = _call(["您好，我们是做垃圾处理设备的厂家",
                     "垃圾压缩站、垃圾转运车都是我们生产的，想找个CRM管一下经销商"],
                    CustomerProfile())
    assert all(t.emotion.label != "angry" for t in session.record.turns)
    assert session.record.route is None or session.record.route.queue != "care"


def test_the_angry_sample_call_still_goes_to_care() -> None:
    lines = [x for x in (CALLS / "angry_care.txt").read_text(encoding="utf-8").splitlines() if x]
    customer = parse_customer(json.loads((CALLS / "angry_care.customer.json").read_text(
        encoding="utf-8")))
    expected = json.loads((CALLS / "angry_care.expected.json").read_text(encoding="utf-8"))
    route = _call(lines, customer).record.route
    assert route is not None and route.queue == expected["queue"] == "care"


@pytest.mark.parametrize(("text", "not_label"), [
    ("我对你们的服务没有什么不满意的地方", "complaint"),
    ("我并不是要投诉你们，就是问问发票怎么开", "complaint"),
    ("不是我不想买，是领导还没批下来", "refusal"),
    ("我们也不得不承认你们的产品做得不错", "refusal"),
    ("不得不说，你们客服挺有耐心的", "refusal"),
    ("我没说不买啊，还在比较", "refusal"),
])
def test_negation_scope_on_the_intent_side(nlu: Nlu, text: str, not_label: str) -> None:
    r = nlu.analyze(text)
    assert r.intent.label != not_label and r.scores[not_label] < 0.35, (text, r.intents)


def test_a_double_negative_is_not_negative_sentiment(nlu: Nlu) -> None:
    assert nlu.analyze("我们没有不满意").sentiment > -0.3
    assert nlu.analyze("我们不满意").sentiment < -0.3
    assert model_reading("有没有不满意的地方") == "有没有不满意的地方"  # a question stays
    assert model_reading("不是不是，我说的是下周") == "不是不是，我说的是下周"
