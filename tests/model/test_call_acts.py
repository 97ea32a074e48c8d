"""The shipped call-act model: opt-out paraphrases reach the do-not-call list, the phrase list
stays a floor, and held-out recall does not fall below what was measured when it shipped."""

from __future__ import annotations

import pytest
from helpers import paths

from tierline.agent.dialog import DialogConfig, DialogManager, DncList, load_kb
from tierline.agent.dialog.call_acts_eval import evaluate, far_from
from tierline.agent.dialog.compliance import OptOut
from tierline.agent.session import CallSession, Models
from tierline.nlu.data.call_acts import heldout, heldout_others, training_rows
from tierline.nlu.pipeline import Nlu, normalize
from tierline.segmentation.features import CustomerProfile

KB = paths.KB_DIR / "yunfan.yaml"
PHONE = "+86 139-1234-5678"
OPT_OUT = ["以后别再打过来了", "往后别再给我打这种电话了", "我这个号你们就别再拨了，谢谢",
           "拜托以后别联系我了", "你们老打电话很烦，以后别打了"]


@pytest.fixture(scope="module")
def kb():
    return load_kb(KB)


def test_the_wordings_here_are_not_training_rows() -> None:
    train = {normalize(r.text) for r in training_rows()}
    assert not [t for t in OPT_OUT if normalize(t) in train]


@pytest.mark.parametrize("text", OPT_OUT)
def test_opt_out_paraphrases_reach_the_dnc_list(kb, tmp_path, text) -> None:
    nlu = Nlu()
    dm = DialogManager(kb, phone=PHONE, call_id="o1", nlu=nlu, config=DialogConfig(
        use_llm=False, dnc_path=tmp_path / "dnc.sqlite3"))
    session = CallSession(Models(nlu=nlu), CustomerProfile(), {"id": "o1"}, dialog=dm)
    session.on_text("你们这个系统怎么收费？")
    reply = session.on_text(text).reply
    assert reply.ended and reply.dnc and not reply.interruptible, text
    assert "免打扰" in reply.text
    assert DncList(tmp_path / "dnc.sqlite3").contains("13912345678")


def test_the_phrase_list_stays_a_floor(kb) -> None:
    floor = OptOut(kb.compliance.opt_out_phrases, kb.compliance.opt_out_not_before,
                   use_model=False)
    full = OptOut(kb.compliance.opt_out_phrases, kb.compliance.opt_out_not_before)
    for phrase in kb.compliance.opt_out_phrases:
        assert floor.match(phrase) == full.match(phrase) == phrase
    assert full.match("以后别再打过来了") and floor.match("以后别再打过来了") is None
    assert full.match("能不能再打个折") is None and full.match("不要再打折了") is None


def test_held_out_recall_stays_where_it_shipped(kb) -> None:
    """Recall first (a legal obligation): floors just under the shipped model's numbers
    (docs/results.md), so a retrain that loses opt-outs fails here."""
    dialog = OptOut(kb.compliance.opt_out_phrases, kb.compliance.opt_out_not_before)
    held = heldout()
    written = evaluate(held, dialog)["opt_out"]["model_or_phrases"]
    far = evaluate(far_from(held, training_rows()), dialog)["opt_out"]["model_or_phrases"]
    others = evaluate(heldout_others(), dialog)["opt_out"]["model_or_phrases"]
    assert written["positives"] >= 60 and written["recall"] >= 0.95
    assert far["recall"] >= 0.95
    assert others["recall"] >= 0.9
    assert written["precision"] >= 0.9 and others["precision"] >= 0.8
    phrases = evaluate(held, dialog)["opt_out"]["phrases"]
    assert written["recall"] > phrases["recall"] + 0.5  # the model is what finds them
