"""Busy callers get a callback offer and a callback record with the time they asked for.

Real NLU, tier model and call-act model as components; the dialog logic is what is checked.
The busy wordings are not training rows of the call-act model (checked below).
"""

from __future__ import annotations

import datetime as dt

import pytest
from helpers import paths

from tierline.agent.dialog import DialogConfig, DialogManager, DncList, load_kb
from tierline.agent.dialog.callbacks import CallbackList
from tierline.agent.session import CallSession, Models
from tierline.nlu.data.call_acts import training_rows
from tierline.nlu.pipeline import Nlu, normalize
from tierline.segmentation.features import CustomerProfile

KB = paths.KB_DIR / "yunfan.yaml"
PHONE = "+86 139-1234-5678"
NOW = dt.datetime(2026, 12, 9, 10, 20)  # a Wednesday morning
BUSY = ["我这边马上要开个会，实在抽不开身", "正在外面办事，说话不太方便", "现在在开会，没空"]


@pytest.fixture(scope="module")
def nlu() -> Nlu:
    return Nlu()


def start(nlu: Nlu, tmp_path, callback_path=None):
    config = DialogConfig(use_llm=False, dnc_path=tmp_path / "dnc.sqlite3",
                          callback_path=callback_path or tmp_path / "callbacks.sqlite3")
    dm = DialogManager(load_kb(KB), phone=PHONE, call_id="cb1", config=config, nlu=nlu,
                       started_at=NOW)
    session = CallSession(Models(nlu=nlu), CustomerProfile(), {"id": "cb1"}, dialog=dm)
    session.open()
    return dm, lambda text: session.on_text(text).reply


def test_the_busy_wordings_are_not_training_rows() -> None:
    train = {normalize(r.text) for r in training_rows()}
    assert not [t for t in BUSY if normalize(t) in train]


@pytest.mark.parametrize("busy", BUSY)
def test_a_busy_caller_gets_a_callback_offer_then_a_record(nlu, tmp_path, busy) -> None:
    dm, say = start(nlu, tmp_path)
    offer = say(busy)
    assert offer.question_slot == "callback" and not offer.ended
    assert [s.kind for s in offer.segments] == ["question"]  # no qualification question
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


def test_a_time_in_the_busy_turn_is_recorded_at_once(nlu, tmp_path) -> None:
    _, say = start(nlu, tmp_path)
    reply = say("我在高速上开车呢，你半个小时以后再打过来")
    assert reply.ended and reply.callback["at"] == "2026-12-09T10:50"
    assert reply.question_slot is None
    assert CallbackList(tmp_path / "callbacks.sqlite3").all()[0].due == "2026-12-09T10:50"


def test_a_callback_without_a_time_is_still_recorded(nlu, tmp_path) -> None:
    _, say = start(nlu, tmp_path)
    say("现在走不开，手上有急事")
    reply = say("都行，你看着办")
    assert reply.ended and reply.callback["at"] is None
    rows = CallbackList(tmp_path / "callbacks.sqlite3").all()
    assert len(rows) == 1 and rows[0].due == ""


def test_a_caller_who_lets_the_bot_go_on_is_not_sent_away(nlu, tmp_path) -> None:
    _, say = start(nlu, tmp_path)
    reply = say("我在开车，你说吧，你们这个系统怎么收费")
    assert reply.callback is None and not reply.ended


def test_an_unwritable_callback_store_still_ends_the_call_politely(nlu, tmp_path) -> None:
    blocked = tmp_path / "callbacks.sqlite3"
    blocked.mkdir()  # a folder where the file should be: sqlite cannot open it
    _, say = start(nlu, tmp_path, callback_path=blocked)
    reply = say("我在开车，你明天上午十点再打")
    assert reply.ended and reply.callback["at"] == "2026-12-10T10:00"
