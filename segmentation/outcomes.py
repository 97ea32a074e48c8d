"""Learning from outcomes: finished calls, their outcomes and versioned online layers.

A finished call leaves its final evidence and the tier model's logits under its call id
(:meth:`OutcomeStore.record_call`). ``tierline feedback --call ID --outcome converted|lost|
churned`` records what became of it; a supervisor's tier correction on the dashboard
(:meth:`OutcomeStore.correct`) teaches the same way. Guards:

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

The store lives in the CRM database (:mod:`tierline.core.database`: ``TIERLINE_DB_URL``, else
``$TIERLINE_HOME/crm.sqlite3``), in the tables ``tier_calls``, ``tier_outcomes``,
``tier_adapters`` and ``tier_settings``, keyed by the unique call id. This module creates them
when missing, so it works before the CRM's migrations ran; the CRM's Alembic history owns every
later change to them.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import (
    Column,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    func,
    select,
    update,
)
from sqlalchemy.exc import SQLAlchemyError

from tierline.core.database import (
    adopt_legacy,
    database_url,
    describe,
    engine_for,
    insert_ignore,
    sqlite_file,
    upsert,
)
from tierline.core.errors import TierlineError
from tierline.segmentation.errors import TierDataError
from tierline.segmentation.outcome_layer import OUTCOME_TIER, Adapter, train_step

MIN_OUTCOMES = 20
OUTCOMES = tuple(OUTCOME_TIER)
TIER_OUTCOME = {tier: outcome for outcome, tier in OUTCOME_TIER.items()}
"""The outcome a supervisor's tier correction teaches as (medium has none: no target)."""

METADATA = MetaData()
"""The outcome store's tables; the CRM's migrations create them in the same database."""
calls_table = Table(
    "tier_calls", METADATA,
    Column("id", String(200), primary_key=True),
    Column("customer", String(200)),
    Column("finished_at", String(40)),
    Column("label", String(20)),
    Column("features", Text),
    Column("logits", Text),
    Column("model_version", String(100)),
    Column("adapter_version", Integer),
    Column("turns", Integer),
)
outcomes_table = Table(
    "tier_outcomes", METADATA,
    Column("call_id", String(200), ForeignKey("tier_calls.id"), primary_key=True),
    Column("outcome", String(20)),
    Column("at", String(40)),
    Column("applied_in", Integer),
    Column("source", String(40)),
)
adapters_table = Table(
    "tier_adapters", METADATA,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("created_at", String(40)),
    Column("model_version", String(100)),
    Column("a", Text),
    Column("b", Text),
    Column("outcomes", Integer),
    Column("parent", Integer),
    Column("check_active", Float),
    Column("check_candidate", Float),
    Column("live", Integer),
)
settings_table = Table(
    "tier_settings", METADATA,
    Column("key", String(100), primary_key=True),
    Column("value", Text),
)


class OutcomeError(TierDataError):
    """Unknown call, bad outcome, or an impossible rollback."""


def default_path() -> str:
    """The default store: the CRM database's URL."""
    return database_url()


def legacy_path() -> Path:
    """Where the store lived before the CRM database (moved in on first use)."""
    from tierline.dialects.models import tierline_home

    return tierline_home() / "tier" / "outcomes.sqlite"


def _copy_legacy(old, conn) -> int:
    """Rows of the old file's calls, outcomes, adapters and settings into the tier_* tables
    (a row whose key is taken is kept as the database has it)."""
    moved = 0
    for table, name in ((calls_table, "calls"), (outcomes_table, "outcomes"),
                        (adapters_table, "adapters"), (settings_table, "settings")):
        try:
            cur = old.execute(f"SELECT * FROM {name}")  # noqa: S608 - fixed names
        except Exception:  # noqa: BLE001 - an old file without the table has nothing
            continue
        columns = [d[0] for d in cur.description]
        for row in cur:
            values = {k: v for k, v in zip(columns, row, strict=True) if k in table.c}
            moved += insert_ignore(conn, table, values)
    return moved


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
    """Calls, outcomes and online-layer versions in the CRM database.

    Args:
        path: The database: a URL, a SQLite file path, or None for the CRM database
            (``TIERLINE_DB_URL``, else ``$TIERLINE_HOME/crm.sqlite3``).
        min_outcomes: New outcomes needed before a new version takes effect.
    """

    def __init__(self, path: str | Path | None = None, min_outcomes: int = MIN_OUTCOMES) -> None:
        self.url = database_url(path)
        self.path = path if path is not None else self.url
        """What the store was opened with (for :func:`active_adapter` and messages)."""
        self.min_outcomes = min_outcomes

    def _engine(self):
        engine = engine_for(self.url)
        with _LOCK:
            if self.url not in _CREATED:
                METADATA.create_all(engine, checkfirst=True)
                _CREATED.add(self.url)
                if self.path == self.url and self.url == database_url():
                    adopt_legacy(None, legacy_path(), _copy_legacy)
        return engine

    def record_call(self, call_id: str, snapshot, customer_id: str | None = None,
                    turns: int | None = None) -> bool:
        """Keep a finished call's evidence, never overwriting an earlier call's.

        Returns:
            True when stored, False when a call with this id was stored before (kept as is).
        """
        with self._engine().begin() as db:
            stored = insert_ignore(db, calls_table, {
                "id": call_id, "customer": customer_id or "", "finished_at": _now(),
                "label": snapshot.label, "features": json.dumps(list(snapshot.features)),
                "logits": json.dumps(list(snapshot.logits)),
                "model_version": snapshot.model_version,
                "adapter_version": snapshot.adapter_version, "turns": turns})
        _CACHE.clear()
        return stored

    def active_version(self, db=None) -> int:
        if db is None:
            with self._engine().connect() as own:
                return self.active_version(own)
        value = db.execute(select(settings_table.c.value)
                           .where(settings_table.c.key == "active")).scalar()
        return int(value) if value is not None else 0

    def adapter(self, version: int | None = None) -> tuple[Adapter, str | None]:
        """A stored version (default: the active one) and its tier model version."""
        with self._engine().connect() as db:
            return self._adapter(db, version)

    def _adapter(self, db, version: int | None) -> tuple[Adapter, str | None]:
        version = self.active_version(db) if version is None else version
        if version == 0:
            return Adapter(), None
        row = db.execute(select(adapters_table.c.a, adapters_table.c.b,
                                adapters_table.c.model_version)
                         .where(adapters_table.c.version == version)).first()
        if row is None:
            raise OutcomeError(f"no online-layer version {version}")
        a = tuple(tuple(r) for r in json.loads(row[0]))
        return Adapter(version, a, tuple(json.loads(row[1]))), row[2]

    def feedback(self, call_id: str, outcome: str, source: str = "outcome") -> FeedbackResult:
        """Record an outcome; make and activate a new version once enough are pending.

        Args:
            call_id: The call.
            outcome: converted, lost or churned.
            source: Who said so (``outcome``, or ``correction:<tier>`` for a supervisor).

        Raises:
            OutcomeError: unknown call, unknown outcome, or an outcome already learned from.
        """
        if outcome not in OUTCOMES:
            raise OutcomeError(f"outcome must be one of {', '.join(OUTCOMES)}, not {outcome!r}")
        with self._engine().begin() as db:
            call = db.execute(select(calls_table.c.model_version, calls_table.c.turns)
                              .where(calls_table.c.id == call_id)).first()
            if call is None:
                raise OutcomeError(
                    f"no call with id {call_id!r} (calls are stored when `tierline "
                    "replay` or `tierline tier` finish them)")
            if call[1] == 0:
                raise OutcomeError(
                    f"call {call_id!r} has no caller turn: its tier came from the CRM "
                    "record alone, so its outcome cannot teach the tiers anything")
            done = db.execute(select(outcomes_table.c.applied_in)
                              .where(outcomes_table.c.call_id == call_id)).first()
            if done and done[0] is not None:
                raise OutcomeError(
                    f"call {call_id!r} already has an outcome, learned in version {done[0]}")
            upsert(db, outcomes_table, {"call_id": call_id, "outcome": outcome, "at": _now(),
                                        "applied_in": None, "source": source})
            new_version, check = self._maybe_train(db, call[0])
            pending = self._pending(db, call[0])
            active = self.active_version(db)
        _CACHE.clear()
        return FeedbackResult(call_id, outcome, len(pending), self.min_outcomes, new_version,
                              active, check)

    def correct(self, call_id: str, tier: str) -> FeedbackResult:
        """A supervisor's tier for a finished call, learned as the outcome that means it
        (high as converted, low as lost, churn_risk as churned).

        Raises:
            OutcomeError: medium (the layer learns no medium target), or as :meth:`feedback`.
        """
        if tier not in TIER_OUTCOME:
            raise OutcomeError(
                f"a correction to {tier!r} cannot teach the online layer: it learns the "
                f"targets {', '.join(TIER_OUTCOME)}")
        return self.feedback(call_id, TIER_OUTCOME[tier], source=f"correction:{tier}")

    def _pending(self, db, model_version: str) -> list[tuple]:
        o, c = outcomes_table.c, calls_table.c
        return [tuple(r) for r in db.execute(
            select(o.call_id, o.outcome, c.logits)
            .join_from(outcomes_table, calls_table, c.id == o.call_id)
            .where(o.applied_in.is_(None), c.model_version == model_version)
            .order_by(o.at, o.call_id))]

    def _maybe_train(self, db, model_version: str) -> tuple[int | None, dict | None]:
        pending = self._pending(db, model_version)
        if len(pending) < self.min_outcomes:
            return None, None
        active = self.active_version(db)
        current, current_model = self._adapter(db, active) if active else (Adapter(), None)
        if current_model not in (None, model_version):
            current = Adapter()
        version = (db.execute(select(func.max(adapters_table.c.version))).scalar() or 0) + 1
        new = train_step(current, [json.loads(p[2]) for p in pending],
                         [p[1] for p in pending], version)
        check = self.check(current, new, model_version)
        live = check is None or check["candidate"] >= check["active"]
        db.execute(adapters_table.insert().values(
            version=version, created_at=_now(), model_version=model_version,
            a=json.dumps(new.a), b=json.dumps(new.b), outcomes=len(pending), parent=active,
            check_active=check and check["active"], check_candidate=check and check["candidate"],
            live=int(live)))
        for p in pending:
            db.execute(update(outcomes_table).where(outcomes_table.c.call_id == p[0])
                       .values(applied_in=version))
        if live:
            upsert(db, settings_table, {"key": "active", "value": str(version)})
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
        v = adapters_table.c
        with self._engine().begin() as db:
            active = self.active_version(db)
            if to is None:
                if active == 0:
                    raise OutcomeError("nothing to roll back: the untouched model is active")
                to = db.execute(select(v.parent).where(v.version == active)).scalar()
            elif to != 0 and db.execute(select(v.version).where(v.version == to)).first() is None:
                raise OutcomeError(f"no online-layer version {to}")
            upsert(db, settings_table, {"key": "active", "value": str(to)})
        _CACHE.clear()
        return active, int(to)

    def status(self) -> dict:
        """Versions, the active one, calls stored and outcomes waiting."""
        v = adapters_table.c
        with self._engine().connect() as db:
            versions = [
                {"version": r.version, "created_at": r.created_at,
                 "model_version": r.model_version, "outcomes": r.outcomes, "parent": r.parent,
                 "drift": round(Adapter(r.version, tuple(map(tuple, json.loads(r.a))),
                                        tuple(json.loads(r.b))).drift(), 4),
                 "check": ({"active": r.check_active, "candidate": r.check_candidate}
                           if r.check_candidate is not None else None),
                 "candidate_only": r.live == 0}
                for r in db.execute(select(adapters_table).order_by(v.version))]
            calls = db.execute(select(func.count()).select_from(calls_table)).scalar()
            pending = db.execute(select(func.count()).select_from(outcomes_table)
                                 .where(outcomes_table.c.applied_in.is_(None))).scalar()
            return {"active": self.active_version(db), "versions": versions, "calls": calls,
                    "pending_outcomes": pending, "min_outcomes": self.min_outcomes,
                    "path": _shown(self.url)}


def _shown(url: str) -> str:
    from tierline.core.database import redacted

    file = sqlite_file(url)
    return str(file) if file is not None else redacted(url)


_CACHE: dict[tuple[str, int, str], Adapter] = {}
_CREATED: set[str] = set()
_LOCK = threading.Lock()


def active_adapter(model_version: str, path: str | Path | None = None) -> Adapter:
    """The active online layer for ``model_version`` (identity when none applies).

    Cheap per call: one read of the active version; the layer itself is cached. Never
    raises: a missing or unreadable store means the untouched model, and reading never
    creates a database.
    """
    url = database_url(path)
    file = sqlite_file(url)
    if file is not None and not file.is_file():
        return Adapter()
    try:
        with engine_for(url).connect() as db:
            version = db.execute(select(settings_table.c.value)
                                 .where(settings_table.c.key == "active")).scalar()
            version = int(version) if version is not None else 0
            key = (url, version, model_version)
            with _LOCK:
                if key in _CACHE:
                    return _CACHE[key]
            adapter, trained_on = OutcomeStore(url)._adapter(db, version)
    except (SQLAlchemyError, OutcomeError, ValueError, OSError):
        return Adapter()
    adapter = adapter if trained_on in (None, model_version) else Adapter()
    with _LOCK:
        _CACHE[key] = adapter
    return adapter


def remember_call(call_id: str, scorer, customer_id: str | None = None,
                  path: str | Path | None = None, turns: int | None = None) -> str | None:
    """Store a finished call for ``tierline feedback``; returns a warning or None.

    Never raises: a read-only or broken store must not fail the call that just ended.
    """
    try:
        stored = OutcomeStore(path).record_call(call_id, scorer.snapshot(), customer_id, turns)
    except (OSError, SQLAlchemyError, TierlineError) as exc:
        return f"call {call_id} not stored for feedback: {describe(exc)}"
    if not stored:
        return f"call {call_id} was stored before; the earlier evidence is kept"
    return None

