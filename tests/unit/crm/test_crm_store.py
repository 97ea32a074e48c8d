"""The CRM store as a transport uses it: real text sessions (shipped NLU and tier models)
written turn by turn into a real SQLite file, read back as the JSON contract."""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy import select

from tierline.agent.policy import RoutingPolicy
from tierline.agent.session import CallSession, Models
from tierline.crm.db import open_database
from tierline.crm.models import AuditEntry, Call, Customer, TierHistory, Turn
from tierline.crm.store import CallStore
from tierline.nlu.pipeline import Nlu
from tierline.segmentation.features import parse_customer

CUSTOMER = {"id": "C1001", "name": "华东物流", "browse_duration": 45, "click_times": 80,
            "consult_count": 3, "contract_value": 0, "renewal_rate": 0, "response_speed": 2,
            "complaint_count": 0, "referral_count": 0}
HIGH_CALL = ["你好，我们想采购一套客服系统。", "我们的预算是七十万。", "我们的员工有两千人。"]


@pytest.fixture(scope="module")
def nlu() -> Nlu:
    return Nlu()


def _session(nlu: Nlu, call_id: str) -> CallSession:
    return CallSession(Models(nlu=nlu), parse_customer(CUSTOMER), {"id": call_id},
                       RoutingPolicy())


def _replay(store: CallStore, session: CallSession, texts: list[str], finish: bool = True):
    rec = store.for_session(session, parse_customer(CUSTOMER), phone="138 0013 8000",
                            transport="text")
    on_turn = rec.follow(session)  # a transport's sink: each turn with the route in force
    for i, text in enumerate(texts):
        on_turn(session.on_text(text, start_s=2.0 * i, end_s=2.0 * i + 1.5))
    if finish:
        rec.finish(session.record.to_dict())
    return rec


def test_every_turn_is_committed_as_decided_and_read_back_exactly(tmp_path, nlu):
    db_file = tmp_path / "crm.sqlite3"
    store = CallStore(db_file)
    session = _session(nlu, "call-a")
    rec = _replay(store, session, HIGH_CALL, finish=False)
    # a second connection (another process) sees every turn before the call ends
    with sqlite3.connect(db_file) as con:
        assert con.execute("SELECT COUNT(*) FROM turns WHERE call_id='call-a'").fetchone() == (3,)
        assert con.execute("SELECT status FROM calls").fetchone() == ("live",)
    rec.finish(session.record.to_dict())
    record = session.record.to_dict()
    with store.db.session() as s:
        call = s.get(Call, "call-a")
        assert call.status == "ended" and call.final_tier == record["final_tier"] == "high"
        assert [t.record for t in call.turns] == record["turns"]  # the JSON contract, exactly
        assert call.route_action == "transfer" and call.route_queue == "senior_sales"
        assert call.route_at_turn == record["route"]["at_turn"]
        assert call.queue_state == "waiting"
        assert call.handoff["queue"] == "senior_sales" and call.handoff["last_utterances"]
        assert call.handoff["entities"].get("budget_cny") == 700000
        assert call.phone == "+8613800138000" and call.customer_id == "C1001"
        assert [d.in_force for d in call.decisions].count(True) == 1
        history = s.scalars(select(TierHistory).where(TierHistory.call_id == "call-a")
                            .order_by(TierHistory.id)).all()
        assert [h.source for h in history] == ["initial", "model", "model", "model"]
        kinds = [a.kind for a in s.scalars(select(AuditEntry).order_by(AuditEntry.id))]
        assert kinds[0] == "call_started" and kinds[-1] == "call_ended"
        assert kinds.count("turn") == 3 and kinds.count("transfer") == 1
        version = f"{session.scorer.model.version}+layer{session.scorer.adapter.version}"
        assert call.model_version == version
        assert all(a.model_version == version for a in s.scalars(select(AuditEntry)))
        customer = s.get(Customer, "C1001")
        assert customer.name == "华东物流" and customer.browse_duration == 45
    assert store.profile("C1001").features["browse_duration"] == 45


def test_a_crash_mid_call_keeps_what_was_said(tmp_path, nlu):
    store = CallStore(tmp_path / "crm.sqlite3")
    session = _session(nlu, "call-crash")
    _replay(store, session, HIGH_CALL[:2], finish=False)
    del session  # the process "dies": nothing else is written
    again = open_database(tmp_path / "crm.sqlite3")
    with again.session() as s:
        turns = s.scalars(select(Turn).where(Turn.call_id == "call-crash")).all()
        assert [t.text for t in turns] == HIGH_CALL[:2]
        assert s.get(Call, "call-crash").status == "live"


def test_a_stored_call_is_never_overwritten(tmp_path, nlu):
    store = CallStore(tmp_path / "crm.sqlite3")
    _replay(store, _session(nlu, "same"), HIGH_CALL[:1])
    again = _replay(store, _session(nlu, "same"), ["我不需要，谢谢。"])
    assert not again.active and "stored before" in again.problem
    with store.db.session() as s:
        assert [t.text for t in s.get(Call, "same").turns] == HIGH_CALL[:1]


def test_the_audit_log_is_append_only(tmp_path, nlu):
    store = CallStore(tmp_path / "crm.sqlite3")
    _replay(store, _session(nlu, "audited"), HIGH_CALL[:1])
    with sqlite3.connect(tmp_path / "crm.sqlite3") as con:
        for sql in ("UPDATE audit_log SET kind='x'", "DELETE FROM audit_log"):
            with pytest.raises(sqlite3.DatabaseError, match="append-only"):
                con.execute(sql)


def test_a_broken_database_never_breaks_the_call(tmp_path, nlu):
    store = CallStore(tmp_path / "crm.sqlite3")
    session = _session(nlu, "doomed")
    rec = store.start_call(session.record.call, initial_tier=session.record.initial_tier)
    with sqlite3.connect(tmp_path / "crm.sqlite3") as con:
        con.execute("DROP TABLE route_decisions")
    turn = session.on_text(HIGH_CALL[0])
    rec.turn(turn, session.route)  # no exception: the call goes on
    assert rec.problem and "route_decisions" in rec.problem
    rec.finish(session.record.to_dict())


def test_the_database_file_is_private_and_in_wal_mode(tmp_path):
    db = open_database(tmp_path / "sub" / "crm.sqlite3")
    assert (tmp_path / "sub" / "crm.sqlite3").stat().st_mode & 0o777 == 0o600
    with db.engine.connect() as con:
        assert con.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


def test_a_file_the_outcome_store_creates_is_private_too(tmp_path):
    from tierline.segmentation.outcomes import OutcomeStore

    OutcomeStore(tmp_path / "o.sqlite3").status()
    assert (tmp_path / "o.sqlite3").stat().st_mode & 0o777 == 0o600
