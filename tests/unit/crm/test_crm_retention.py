"""Moving the old SQLite files in, the retention purge, the export, the recordings folder."""

from __future__ import annotations

import json
import os
import sqlite3
import time
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from tierline.agent.cli import main
from tierline.agent.dialog.compliance import DncList
from tierline.agent.outbound import DialRefused, permit_dial
from tierline.crm.db import forget_all, open_database
from tierline.crm.models import AuditEntry, Call, Customer, TierHistory, Turn
from tierline.crm.retention import purge, recordings_dir
from tierline.crm.store import CallStore
from tierline.segmentation.outcomes import OutcomeStore


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("TIERLINE_HOME", str(tmp_path))
    monkeypatch.delenv("TIERLINE_DB_URL", raising=False)
    forget_all()
    yield tmp_path
    forget_all()


def test_an_old_do_not_call_file_moves_in_and_nobody_is_forgotten(home):
    with sqlite3.connect(home / "dnc.sqlite3") as con:
        con.execute("CREATE TABLE dnc (number TEXT PRIMARY KEY, added_at REAL, call_id TEXT, "
                    "phrase TEXT)")
        con.execute("INSERT INTO dnc VALUES ('13800138000', 1.0, 'old', '别再打了')")
    with pytest.raises(DialRefused, match="do-not-call"):
        permit_dial("+8613800138000")  # the gate reads the moved list
    assert DncList().numbers() == ["13800138000"]
    assert (home / "dnc.sqlite3").is_file()  # left as it was, for an older Tierline
    assert DncList().add("13900139000") and len(DncList().numbers()) == 2
    # an older Tierline still writing the old file: its opt-outs are copied in next time
    with sqlite3.connect(home / "dnc.sqlite3") as con:
        con.execute("INSERT INTO dnc VALUES ('13700137000', 2.0, 'old2', '别打了')")
    os.utime(home / "dnc.sqlite3", (time.time() + 5, time.time() + 5))
    with pytest.raises(DialRefused):
        permit_dial("13700137000")
    assert len(DncList().numbers()) == 3


def test_an_old_outcome_store_moves_in(home):
    (home / "tier").mkdir()
    with sqlite3.connect(home / "tier" / "outcomes.sqlite") as con:
        con.executescript("""
            CREATE TABLE calls (id TEXT PRIMARY KEY, customer TEXT, finished_at TEXT,
                label TEXT, features TEXT, logits TEXT, model_version TEXT,
                adapter_version INTEGER, turns INTEGER);
            CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT);
            INSERT INTO calls VALUES ('old-call', '', 't', 'medium', '[]', '[0,1,0,0]', 'm1',
                                      0, 3);
            INSERT INTO settings VALUES ('active', '0');""")
    status = OutcomeStore().status()
    assert status["calls"] == 1
    assert OutcomeStore().feedback("old-call", "converted").pending == 1
    assert OutcomeStore().status()["calls"] == 1  # copied once, not again


def _call(store, call_id, turns=1):
    rec = store.start_call({"id": call_id}, recordings=(str(recordings_dir() / f"{call_id}.wav"),
                                                        "/elsewhere/user.wav"))
    (recordings_dir() / f"{call_id}.wav").write_bytes(b"RIFF")
    for i in range(turns):
        rec.turn({"index": i, "start_s": 0.0, "end_s": 1.0, "text": "你好",
                  "intent": {"label": "other", "score": 1.0}, "entities": {},
                  "emotion": {"label": "neutral", "arousal": 0.2},
                  "tier": {"label": "medium", "scores": {}, "reasons": []}, "latency_ms": {}},
                 decision={"action": "continue", "queue": None, "at_turn": i, "reason": "x"})
    rec.finish({"call": {"id": call_id}, "turns": [], "final_tier": "medium",
                "route": {"action": "continue", "queue": None, "at_turn": None,
                          "reason": "x"}})


def test_purge_deletes_old_calls_and_their_recordings_but_keeps_the_audit_log(home):
    assert recordings_dir().stat().st_mode & 0o777 == 0o700
    db = open_database()
    store = CallStore(db)
    _call(store, "old", 2)
    _call(store, "new", 1)
    live = store.start_call({"id": "live-old"})
    assert live.active
    with db.session() as s:
        for call_id in ("old", "live-old"):
            s.get(Call, call_id).started_at = datetime.now(timezone.utc) - timedelta(days=40)
    audit_before = _count(db, AuditEntry)
    assert purge(db, 30, dry_run=True).calls == 1 and _count(db, Call) == 3
    result = purge(db, 30)
    assert (result.calls, result.recordings) == (1, 1)
    with db.session() as s:
        assert {c for c in s.scalars(select(Call.id))} == {"new", "live-old"}
        assert s.scalar(select(func.count()).select_from(Turn).where(Turn.call_id == "old")) == 0
        assert s.scalar(select(func.count()).select_from(TierHistory)
                        .where(TierHistory.call_id == "old")) == 0
    assert not (recordings_dir() / "old.wav").exists() and (recordings_dir() / "new.wav").exists()
    assert _count(db, AuditEntry) == audit_before + 1  # the log kept, the purge logged
    assert _count(db, Customer) == 0


def test_purge_and_export_from_the_command_line(home, capsys):
    _call(CallStore(), "c1", 2)
    assert main(["crm", "export", "--out", str(home / "calls.jsonl")]) == 0
    records = [json.loads(line) for line in (home / "calls.jsonl").read_text().splitlines()]
    assert [r["call"]["id"] for r in records] == ["c1"] and len(records[0]["turns"]) == 2
    assert main(["crm", "purge", "--older-than", "0"]) == 2
    assert "more than 0 days" in capsys.readouterr().err
    assert main(["crm", "purge", "--older-than", "1", "--dry-run"]) == 0
    assert "would delete 0 call(s)" in capsys.readouterr().out
    assert main(["crm", "export", "--since", "yesterday"]) == 2
    assert main(["crm", "migrate"]) == 0 and "revision 0001" in capsys.readouterr().out


def _count(db, model) -> int:
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(model))
