"""Learning from outcomes: finished calls, their outcomes and versioned online layers (SQLite).

A finished call leaves its final evidence and the tier model's logits under its call id
(:meth:`OutcomeStore.record_call`). ``tierline feedback --call ID --outcome converted|lost|
churned`` records what became of it. Guards:

- nothing changes until ``MIN_OUTCOMES`` new outcomes have accumulated;
- then one guarded pass of :func:`tierline.segmentation.outcome_layer.train_step` (bounded steps,
  capped drift from the identity) over them makes a new *version* of the online layer;
- the new version goes live only if it is at least as accurate as the active one on a held-out
  check set (:mod:`tierline.segmentation.evaluation.outcome_check`); otherwise it is kept as a
  *candidate* (both accuracies are stored and shown);
- a call is stored once under its unique id (a later store of the same id keeps the first),
  and a call with no caller turn takes no outcome;
- every version is kept; ``tierline feedback --rollback`` reactivates the previous one (or
  ``--to N``; 0 is the untouched model);
- a layer is tied to the tier model version it was learned on and is ignored for another.

The store lives at ``$TIERLINE_HOME/tier/outcomes.sqlite``.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from tierline.segmentation.errors import TierDataError
from tierline.segmentation.outcome_layer import OUTCOME_TIER, Adapter, train_step

MIN_OUTCOMES = 20
OUTCOMES = tuple(OUTCOME_TIER)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS calls (
    id TEXT PRIMARY KEY, customer TEXT, finished_at TEXT, label TEXT,
    features TEXT, logits TEXT, model_version TEXT, adapter_version INTEGER);
CREATE TABLE IF NOT EXISTS outcomes (
    call_id TEXT PRIMARY KEY REFERENCES calls(id), outcome TEXT, at TEXT,
    applied_in INTEGER);
CREATE TABLE IF NOT EXISTS adapters (
    version INTEGER PRIMARY KEY, created_at TEXT, model_version TEXT, a TEXT, b TEXT,
    outcomes INTEGER, parent INTEGER);
CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT);
"""
_ADDED_COLUMNS = (("calls", "turns INTEGER"), ("adapters", "check_active REAL"),
                  ("adapters", "check_candidate REAL"), ("adapters", "live INTEGER"))
"""Columns newer than the first schema, added to an older store when it is opened."""


class OutcomeError(TierDataError):
    """Unknown call, bad outcome, or an impossible rollback."""


def default_path() -> Path:
    from tierline.dialects.models import tierline_home

    return tierline_home() / "tier" / "outcomes.sqlite"


@dataclass(frozen=True)
class FeedbackResult:
    """What one outcome did.

    Attributes:
        call_id: The call.
        outcome: converted, lost or churned.
        pending: Outcomes waiting for the next version (after this one).
        needed: Outcomes a new version needs.
        new_version: Version created by this outcome, if any.
        active: Active version after it.
        check: For a new version, the check-set accuracy of the previously active version
            and of the new one (``{"n", "active", "candidate"}``); it went live only if
            ``candidate >= active``.
    """

    call_id: str
    outcome: str
    pending: int
    needed: int
    new_version: int | None
    active: int
    check: dict | None = None

    @property
    def went_live(self) -> bool:
        return self.new_version is not None and self.active == self.new_version


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


class OutcomeStore:
    """The SQLite file of calls, outcomes and online-layer versions.

    Args:
        path: Database file (default ``$TIERLINE_HOME/tier/outcomes.sqlite``).
        min_outcomes: New outcomes needed before a new version takes effect.
    """

    def __init__(self, path: str | Path | None = None, min_outcomes: int = MIN_OUTCOMES) -> None:
        self.path = Path(path) if path else default_path()
        self.min_outcomes = min_outcomes

    def _db(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, timeout=5)
        db.executescript(_SCHEMA)
        for table, column in _ADDED_COLUMNS:
            have = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
            if column.split()[0] not in have:
                db.execute(f"ALTER TABLE {table} ADD COLUMN {column}")
        return db

    def record_call(self, call_id: str, snapshot, customer_id: str | None = None,
                    turns: int | None = None) -> bool:
        """Keep a finished call's evidence, never overwriting an earlier call's.

        Returns:
            True when stored, False when a call with this id was stored before (kept as is).
        """
        db = self._db()
        try:
            with db:
                cur = db.execute(
                    "INSERT OR IGNORE INTO calls (id, customer, finished_at, label, features, "
                    "logits, model_version, adapter_version, turns) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (call_id, customer_id or "", _now(), snapshot.label,
                     json.dumps(snapshot.features), json.dumps(snapshot.logits),
                     snapshot.model_version, snapshot.adapter_version, turns))
                stored = cur.rowcount == 1
        finally:
            db.close()
        _CACHE.clear()
        return stored

    def active_version(self, db: sqlite3.Connection | None = None) -> int:
        own = db is None
        db = db or self._db()
        try:
            row = db.execute("SELECT value FROM settings WHERE key='active'").fetchone()
            return int(row[0]) if row else 0
        finally:
            if own:
                db.close()

    def adapter(self, version: int | None = None) -> tuple[Adapter, str | None]:
        """A stored version (default: the active one) and its tier model version."""
        db = self._db()
        try:
            version = self.active_version(db) if version is None else version
            if version == 0:
                return Adapter(), None
            row = db.execute("SELECT a, b, model_version FROM adapters WHERE version=?",
                             (version,)).fetchone()
        finally:
            db.close()
        if row is None:
            raise OutcomeError(f"no online-layer version {version}")
        a = tuple(tuple(r) for r in json.loads(row[0]))
        return Adapter(version, a, tuple(json.loads(row[1]))), row[2]

    def feedback(self, call_id: str, outcome: str) -> FeedbackResult:
        """Record an outcome; make and activate a new version once enough are pending.

        Raises:
            OutcomeError: unknown call, unknown outcome, or an outcome already learned from.
        """
        if outcome not in OUTCOMES:
            raise OutcomeError(f"outcome must be one of {', '.join(OUTCOMES)}, not {outcome!r}")
        db = self._db()
        try:
            with db:
                call = db.execute("SELECT model_version, turns FROM calls WHERE id=?",
                                  (call_id,)).fetchone()
                if call is None:
                    raise OutcomeError(
                        f"no call with id {call_id!r} (calls are stored when `tierline "
                        "replay` or `tierline tier` finish them)")
                if call[1] == 0:
                    raise OutcomeError(
                        f"call {call_id!r} has no caller turn: its tier came from the CRM "
                        "record alone, so its outcome cannot teach the tiers anything")
                done = db.execute("SELECT applied_in FROM outcomes WHERE call_id=?",
                                  (call_id,)).fetchone()
                if done and done[0] is not None:
                    raise OutcomeError(
                        f"call {call_id!r} already has an outcome, learned in version {done[0]}")
                db.execute("INSERT OR REPLACE INTO outcomes VALUES (?, ?, ?, NULL)",
                           (call_id, outcome, _now()))
                new_version, check = self._maybe_train(db, call[0])
                pending = self._pending(db, call[0])
                active = self.active_version(db)
        finally:
            db.close()
        _CACHE.clear()
        return FeedbackResult(call_id, outcome, len(pending), self.min_outcomes, new_version,
                              active, check)

    def _pending(self, db: sqlite3.Connection, model_version: str) -> list[tuple]:
        return db.execute(
            "SELECT o.call_id, o.outcome, c.logits FROM outcomes o JOIN calls c "
            "ON c.id = o.call_id WHERE o.applied_in IS NULL AND c.model_version = ? "
            "ORDER BY o.at, o.call_id", (model_version,)).fetchall()

    def _maybe_train(self, db: sqlite3.Connection, model_version: str
                     ) -> tuple[int | None, dict | None]:
        pending = self._pending(db, model_version)
        if len(pending) < self.min_outcomes:
            return None, None
        active = self.active_version(db)
        current, current_model = self.adapter(active) if active else (Adapter(), None)
        if current_model not in (None, model_version):
            current = Adapter()
        version = (db.execute("SELECT MAX(version) FROM adapters").fetchone()[0] or 0) + 1
        new = train_step(current, [json.loads(p[2]) for p in pending],
                         [p[1] for p in pending], version)
        check = self.check(current, new, model_version)
        live = check is None or check["candidate"] >= check["active"]
        db.execute("INSERT INTO adapters (version, created_at, model_version, a, b, outcomes, "
                   "parent, check_active, check_candidate, live) "
                   "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                   (version, _now(), model_version, json.dumps(new.a), json.dumps(new.b),
                    len(pending), active, check and check["active"],
                    check and check["candidate"], int(live)))
        db.executemany("UPDATE outcomes SET applied_in=? WHERE call_id=?",
                       [(version, p[0]) for p in pending])
        if live:
            db.execute("INSERT OR REPLACE INTO settings VALUES ('active', ?)", (str(version),))
        return version, check

    @staticmethod
    def check(current: Adapter, candidate: Adapter, model_version: str) -> dict | None:
        """Check-set accuracy of the active layer and of a candidate (None when the check
        set belongs to another tier model version than the outcomes)."""
        from tierline.segmentation.evaluation.outcome_check import check_set

        checks = check_set(model_version)
        if checks.model_version != model_version:
            return None
        return {"n": len(checks.labels), "active": checks.accuracy(current),
                "candidate": checks.accuracy(candidate)}

    def rollback(self, to: int | None = None) -> tuple[int, int]:
        """Activate ``to`` (default: the parent of the active version).

        Returns:
            (previous active version, new active version).

        Raises:
            OutcomeError: nothing to roll back, or no such version.
        """
        db = self._db()
        try:
            with db:
                active = self.active_version(db)
                if to is None:
                    if active == 0:
                        raise OutcomeError("nothing to roll back: the untouched model is active")
                    to = db.execute("SELECT parent FROM adapters WHERE version=?",
                                    (active,)).fetchone()[0]
                elif to != 0 and db.execute("SELECT 1 FROM adapters WHERE version=?",
                                            (to,)).fetchone() is None:
                    raise OutcomeError(f"no online-layer version {to}")
                db.execute("INSERT OR REPLACE INTO settings VALUES ('active', ?)", (str(to),))
        finally:
            db.close()
        _CACHE.clear()
        return active, int(to)

    def status(self) -> dict:
        """Versions, the active one, calls stored and outcomes waiting."""
        db = self._db()
        try:
            versions = [
                {"version": v, "created_at": c, "model_version": m, "outcomes": n,
                 "parent": p, "drift": round(Adapter(v, tuple(map(tuple, json.loads(a))),
                                                     tuple(json.loads(b))).drift(), 4),
                 "check": {"active": ca, "candidate": cc} if cc is not None else None,
                 "candidate_only": live == 0}
                for v, c, m, a, b, n, p, ca, cc, live in db.execute(
                    "SELECT version, created_at, model_version, a, b, outcomes, parent, "
                    "check_active, check_candidate, live FROM adapters ORDER BY version")]
            calls = db.execute("SELECT COUNT(*) FROM calls").fetchone()[0]
            pending = db.execute(
                "SELECT COUNT(*) FROM outcomes WHERE applied_in IS NULL").fetchone()[0]
            return {"active": self.active_version(db), "versions": versions, "calls": calls,
                    "pending_outcomes": pending, "min_outcomes": self.min_outcomes,
                    "path": str(self.path)}
        finally:
            db.close()


_CACHE: dict[tuple[str, float, str], Adapter] = {}
_LOCK = threading.Lock()


def active_adapter(model_version: str, path: str | Path | None = None) -> Adapter:
    """The active online layer for ``model_version`` (identity when none applies).

    Cheap per call: the store is read again only when its file changed. Never raises: a
    missing or unreadable store means the untouched model.
    """
    store = OutcomeStore(path)
    try:
        mtime = store.path.stat().st_mtime
    except OSError:
        return Adapter()
    key = (str(store.path), mtime, model_version)
    with _LOCK:
        if key not in _CACHE:
            try:
                adapter, trained_on = store.adapter()
            except (sqlite3.Error, OutcomeError, ValueError):
                adapter, trained_on = Adapter(), None
            _CACHE[key] = adapter if trained_on in (None, model_version) else Adapter()
        return _CACHE[key]


def remember_call(call_id: str, scorer, customer_id: str | None = None,
                  path: str | Path | None = None, turns: int | None = None) -> str | None:
    """Store a finished call for ``tierline feedback``; returns a warning or None.

    Never raises: a read-only or broken store must not fail the call that just ended.
    """
    try:
        stored = OutcomeStore(path).record_call(call_id, scorer.snapshot(), customer_id, turns)
    except (OSError, sqlite3.Error) as exc:
        return f"call {call_id} not stored for feedback: {exc}"
    if not stored:
        return f"call {call_id} was stored before; the earlier evidence is kept"
    return None
