"""Busy callers get a callback with the time they asked for; opt-out paraphrases reach the
do-not-call list. Real NLU, tier model, call-act model and dialog manager; the wordings are
not training rows of the call-act model (checked below).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from tierline.agent.dialog import DialogConfig, DialogManager, DncList, load_kb
from tierline.agent.dialog.callbacks import CallbackList
from tierline.agent.dialog.compliance import OptOut
from tierline.agent.session import CallSession, Models
from tierline.nlu.data.call_acts import training_rows
from tierline.nlu.pipeline import Nlu, normalize
from tierline.nlu.when import parse_when
from tierline.segmentation.features import CustomerProfile

KB = Path(__file__).resolve().parents[1] / "samples" / "kb" / "yunfan.yaml"
PHONE = "+86 139-1234-5678"
NOW = dt.datetime(2026, 12, 9, 10, 20)  # a Wednesday morning

BUSY = ["我这边马上要开个会，实在抽不开身", "正在外面办事，说话不太方便",
        "现在在开会，没空"]
OPT_OUT = ["以后别再打过来了", "往后别再给我打这种电话了", "我这个号你们就别再拨了，谢谢",
           "拜托以后别联系我了", "你们老打电话很烦，以后别打了"]


@pytest.fixture(scope="module")
def nlu() -> Nlu:
    return Nlu()


@pytest.fixture()
def call(nlu, tmp_path):
    def start(now: dt.datetime = NOW):
        config = DialogConfig(use_llm=False, dnc_path=tmp_path / "dnc.sqlite3",
                              callback_path=tmp_path / "callbacks.sqlite3")
        dm = DialogManager(load_kb(KB), phone=PHONE, call_id="cb1", config=config, nlu=nlu,
                           started_at=now)
        session = CallSession(Models(nlu=nlu), CustomerProfile(), {"id": "cb1"}, dialog=dm)
        session.open()
        return dm, lambda text: session.on_text(text).reply

    return start


def test_the_wordings_here_are_not_training_rows() -> None:
    train = {normalize(r.text) for r in training_rows()}
    for text in BUSY + OPT_OUT:
        assert normalize(text) not in train, text


@pytest.mark.parametrize(("said", "want", "exact"), [
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
])
def test_callback_times_resolve_against_the_call(said, want, exact) -> None:
    when = parse_when(said, NOW)
    assert when is not None and (when.at, when.exact) == (want, exact)


def test_no_time_named() -> None:
    assert parse_when("我在开会", NOW) is None
    assert parse_when("我们有三百个坐席", NOW) is None


@pytest.mark.parametrize("busy", BUSY)
def test_a_busy_caller_gets_a_callback_offer_then_a_record(call, busy, tmp_path) -> None:
    dm, say = call()
    offer = say(busy)
    assert offer.question_slot == "callback" and not offer.ended
    assert [s.kind for s in offer.segments] == ["question"]
    assert offer.callback is not None and offer.callback["at"] is None
    assert "decision_maker" not in dm.slots.values and not dm.slots.asked
    reply = say("那你明天下午三点再打吧")
    assert reply.ended and not reply.dnc
    assert reply.callback["at"] == "2026-12-10T15:00" and reply.callback["exact"]
    assert "12月10日（周四）15:00" in reply.text
    rows = CallbackList(tmp_path / "callbacks.sqlite3").all()
    assert len(rows) == 1 and rows[0].due == "2026-12-10T15:00"
    assert rows[0].number == "13912345678" and rows[0].call_id == "cb1"
    assert not DncList(tmp_path / "dnc.sqlite3").contains(PHONE)


def test_a_time_in_the_busy_turn_is_recorded_at_once(call, tmp_path) -> None:
    _, say = call()
    reply = say("我在高速上开车呢，你半个小时以后再打过来")
    assert reply.ended and reply.callback["at"] == "2026-12-09T10:50"
    assert reply.question_slot is None
    assert CallbackList(tmp_path / "callbacks.sqlite3").all()[0].due == "2026-12-09T10:50"


def test_a_callback_without_a_time_is_still_recorded(call, tmp_path) -> None:
    _, say = call()
    say("现在走不开，手上有急事")
    reply = say("都行，你看着办")
    assert reply.ended and reply.callback["at"] is None
    rows = CallbackList(tmp_path / "callbacks.sqlite3").all()
    assert len(rows) == 1 and rows[0].due == ""


@pytest.mark.parametrize("text", OPT_OUT)
def test_opt_out_paraphrases_reach_the_dnc_list(call, text, tmp_path) -> None:
    _, say = call()
    say("你们这个系统怎么收费？")
    reply = say(text)
    assert reply.ended and reply.dnc and not reply.interruptible, text
    assert DncList(tmp_path / "dnc.sqlite3").contains("13912345678")


def test_the_phrase_list_stays_a_floor() -> None:
    kb = load_kb(KB)
    floor = OptOut(kb.compliance.opt_out_phrases, kb.compliance.opt_out_not_before,
                   use_model=False)
    full = OptOut(kb.compliance.opt_out_phrases, kb.compliance.opt_out_not_before)
    for phrase in kb.compliance.opt_out_phrases:
        assert floor.match(phrase) == full.match(phrase) == phrase
    assert full.match("以后别再打过来了") and floor.match("以后别再打过来了") is None
    assert full.match("能不能再打个折") is None


def test_an_unwritable_callback_store_still_ends_the_call_politely(nlu, tmp_path) -> None:
    blocked = tmp_path / "callbacks.sqlite3"
    blocked.mkdir()  # a folder where the file should be: sqlite cannot open it
    dm = DialogManager(load_kb(KB), phone=PHONE, config=DialogConfig(
        use_llm=False, dnc_path=tmp_path / "dnc.sqlite3", callback_path=blocked), nlu=nlu,
        started_at=NOW)
    session = CallSession(Models(nlu=nlu), CustomerProfile(), {"id": "x"}, dialog=dm)
    reply = session.on_text("我在开车，你明天上午十点再打").reply
    assert reply.ended and reply.callback["at"] == "2026-12-10T10:00"
