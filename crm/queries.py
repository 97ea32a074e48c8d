"""The CRM read and feedback side: what the API, the dashboard and the export ask.

Every answer is plain JSON-ready data. With ``pii=False`` phone numbers are masked and digit
runs of seven or more in what callers said are masked too (a caller may say a number).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select

from tierline.core.errors import TierlineError
from tierline.crm.db import Database
from tierline.crm.models import (
    AuditEntry,
    Call,
    Customer,
    RouteDecisionRow,
    TierHistory,
    Turn,
)
from tierline.crm.phones import mask, mask_text
from tierline.segmentation.features import CRM_FEATURES, RFM_FEATURES
from tierline.segmentation.records import TIERS

SPARKLINE_TURNS = 30
"""Turns of emotion/arousal a live call's sparkline shows."""


class NotFound(TierlineError):
    """No such customer or call."""


class Conflict(TierlineError):
    """The request contradicts what is stored (a call not in the queue, an outcome twice)."""


def _iso(value: datetime | None) -> str | None:
    return value.isoformat(timespec="seconds") if value else None


def _phone(number: str | None, pii: bool) -> str | None:
    return number if pii else mask(number)


def _text(text: str, pii: bool) -> str:
    return text if pii else mask_text(text)


def _turn(record: dict[str, Any], pii: bool) -> dict[str, Any]:
    if pii:
        return record
    out = dict(record, text=mask_text(record.get("text", "")))
    if "also_heard" in out:
        out["also_heard"] = [mask_text(t) for t in out["also_heard"]]
    return out


def route_of(call: Call) -> dict[str, Any]:
    """The call's route as the JSON contract writes it."""
    if call.route_action is None:
        return {"action": "continue", "queue": None, "at_turn": None,
                "reason": f"no caller turns; tier {call.final_tier} from CRM"}
    return {"action": call.route_action, "queue": call.route_queue,
            "at_turn": call.route_at_turn, "reason": call.route_reason}


def call_record(call: Call, pii: bool = True) -> dict[str, Any]:
    """The call as replay's JSON object (``call``, ``turns``, ``final_tier``, ``route``)."""
    out = {"call": dict(call.meta or {"id": call.id}),
           "turns": [_turn(t.record, pii) for t in call.turns],
           "final_tier": call.final_tier, "route": route_of(call)}
    if call.opening is not None:
        out["opening"] = call.opening
    return out


def iter_records(db: Database, since: datetime | None = None) -> Iterator[dict[str, Any]]:
    """Every stored call as a JSON-contract object, oldest first (the calls.jsonl export)."""
    with db.session() as s:
        query = select(Call).order_by(Call.started_at, Call.id)
        if since is not None:
            query = query.where(Call.started_at >= since)
        for call in s.scalars(query):
            yield call_record(call)


def _call_summary(call: Call, pii: bool) -> dict[str, Any]:
    return {"id": call.id, "customer_id": call.customer_id,
            "customer_name": call.customer.name if call.customer else None,
            "phone": _phone(call.phone, pii), "direction": call.direction,
            "transport": call.transport, "status": call.status,
            "started_at": _iso(call.started_at), "ended_at": _iso(call.ended_at),
            "duration_s": call.duration_s, "final_tier": call.final_tier,
            "route": route_of(call), "queue_state": call.queue_state, "outcome": call.outcome,
            "error": call.error}


def _customer_summary(c: Customer, pii: bool, last_tier: str | None = None) -> dict[str, Any]:
    return {"id": c.id, "name": c.name, "company": c.company, "phone": _phone(c.phone, pii),
            "lifecycle_stage": c.lifecycle_stage, "tags": list(c.tags or []),
            "last_tier": last_tier}


def _last_tiers(s, ids: list[str]) -> dict[str, str]:
    if not ids:
        return {}
    newest = (select(TierHistory.customer_id, func.max(TierHistory.id).label("top"))
              .where(TierHistory.customer_id.in_(ids)).group_by(TierHistory.customer_id)
              .subquery())
    rows = s.execute(select(TierHistory.customer_id, TierHistory.tier)
                     .join(newest, TierHistory.id == newest.c.top))
    return dict(rows.all())


def search_customers(db: Database, q: str = "", limit: int = 50, offset: int = 0,
                     pii: bool = False) -> dict[str, Any]:
    """Customers whose id, name, company, tag or phone digits contain ``q``."""
    with db.session() as s:
        query = select(Customer)
        if q:
            like = f"%{_escape_like(q)}%"
            digits = "".join(ch for ch in q if ch.isdigit())
            terms = [Customer.id.ilike(like, escape="\\"), Customer.name.ilike(like, escape="\\"),
                     Customer.company.ilike(like, escape="\\")]
            if pii and len(digits) >= 3:  # searching by number reveals numbers: pii only
                terms.append(Customer.phone.like(f"%{digits}%"))
            terms.append(func.lower(func.cast(Customer.tags, _text_type())).like(
                like.lower(), escape="\\"))
            query = query.where(or_(*terms))
        total = s.scalar(select(func.count()).select_from(query.subquery()))
        rows = list(s.scalars(query.order_by(Customer.id).limit(limit).offset(offset)))
        tiers = _last_tiers(s, [c.id for c in rows])
        return {"total": total, "items": [_customer_summary(c, pii, tiers.get(c.id))
                                          for c in rows]}


def _text_type():
    from sqlalchemy import Text

    return Text()


def _escape_like(q: str) -> str:
    return q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def customer_detail(db: Database, customer_id: str, pii: bool = False) -> dict[str, Any]:
    """A customer with features, RFM, tags, stage, tier history and calls."""
    with db.session() as s:
        c = s.get(Customer, customer_id)
        if c is None:
            raise NotFound(f"no customer {customer_id!r}")
        history = s.scalars(select(TierHistory).where(TierHistory.customer_id == c.id)
                            .order_by(TierHistory.id.desc()).limit(500)).all()
        calls = s.scalars(select(Call).where(Call.customer_id == c.id)
                          .order_by(Call.started_at.desc()).limit(200)).all()
        out = _customer_summary(c, pii, history[0].tier if history else None)
        out.update({
            "features": {f: getattr(c, f) for f in CRM_FEATURES},
            "rfm": {f: getattr(c, f) for f in RFM_FEATURES},
            "defaulted": list(c.defaulted or []), "source": c.source,
            "created_at": _iso(c.created_at), "updated_at": _iso(c.updated_at),
            "tier_history": [_history(h) for h in reversed(history)],
            "calls": [_call_summary(call, pii) for call in calls]})
        return out


def _history(h: TierHistory) -> dict[str, Any]:
    return {"at": _iso(h.at), "call_id": h.call_id, "turn": h.turn_index, "tier": h.tier,
            "scores": h.scores, "source": h.source, "model_version": h.model_version,
            "note": h.note}


def list_calls(db: Database, status: str | None = None, customer: str | None = None,
               tier: str | None = None, limit: int = 50, offset: int = 0,
               pii: bool = False) -> dict[str, Any]:
    """Calls, newest first, filtered by status, customer and final tier."""
    with db.session() as s:
        query = select(Call)
        if status:
            query = query.where(Call.status == status)
        if customer:
            query = query.where(Call.customer_id == customer)
        if tier:
            query = query.where(Call.final_tier == tier)
        total = s.scalar(select(func.count()).select_from(query.subquery()))
        rows = s.scalars(query.order_by(Call.started_at.desc(), Call.id)
                         .limit(limit).offset(offset)).all()
        return {"total": total, "items": [_call_summary(c, pii) for c in rows]}


def call_detail(db: Database, call_id: str, pii: bool = False) -> dict[str, Any]:
    """A call: summary, the JSON-contract record, every route decision, tier history,
    audit entries and the handoff summary."""
    with db.session() as s:
        call = s.get(Call, call_id)
        if call is None:
            raise NotFound(f"no call {call_id!r}")
        decisions = s.scalars(select(RouteDecisionRow).where(RouteDecisionRow.call_id == call_id)
                              .order_by(RouteDecisionRow.id)).all()
        history = s.scalars(select(TierHistory).where(TierHistory.call_id == call_id)
                            .order_by(TierHistory.id)).all()
        audit = s.scalars(select(AuditEntry).where(AuditEntry.call_id == call_id)
                          .order_by(AuditEntry.id)).all()
        return {**_call_summary(call, pii), "record": call_record(call, pii),
                "initial_tier": call.initial_tier, "model_version": call.model_version,
                "recordings": len(call.recordings or []),
                "handoff": _handoff(call.handoff, pii),
                "decisions": [{"turn": d.turn_index, "action": d.action, "queue": d.queue,
                               "reason": d.reason, "in_force": d.in_force, "at": _iso(d.at)}
                              for d in decisions],
                "tier_history": [_history(h) for h in history],
                "audit": [_audit(a) for a in audit]}


def _audit(a: AuditEntry) -> dict[str, Any]:
    return {"id": a.id, "at": _iso(a.at), "kind": a.kind, "call_id": a.call_id,
            "turn": a.turn_index, "customer_id": a.customer_id, "actor": a.actor,
            "model_version": a.model_version, "detail": a.detail}


def _handoff(handoff: dict | None, pii: bool) -> dict | None:
    if handoff is None or pii:
        return handoff
    return dict(handoff, last_utterances=[mask_text(t) for t in
                                          handoff.get("last_utterances", [])])


def live_calls(db: Database, pii: bool = False) -> list[dict[str, Any]]:
    """Calls in progress: tier and its scores, the emotion/arousal of recent turns, the last
    utterance, the route."""
    with db.session() as s:
        calls = s.scalars(select(Call).where(Call.status == "live")
                          .order_by(Call.started_at.desc()).limit(200)).all()
        return [_live(s, call, pii) for call in calls]


def _live(s, call: Call, pii: bool) -> dict[str, Any]:
    turns = s.scalars(select(Turn).where(Turn.call_id == call.id)
                      .order_by(Turn.index.desc()).limit(SPARKLINE_TURNS)).all()[::-1]
    last = turns[-1] if turns else None
    scores = (last.record["tier"].get("scores") if last else
              (call.initial_tier or {}).get("scores"))
    return {**_call_summary(call, pii), "tier": call.final_tier, "scores": scores,
            "turns": (last.index + 1) if last else 0,
            "last_utterance": _text(last.text, pii) if last else None,
            "emotion": last.emotion if last else None,
            "arousal": [{"turn": t.index, "arousal": t.arousal, "emotion": t.emotion}
                        for t in turns]}


def queue(db: Database, pii: bool = False) -> list[dict[str, Any]]:
    """Callers waiting for a person, longest wait first, with their handoff summary."""
    with db.session() as s:
        calls = s.scalars(select(Call).where(Call.queue_state == "waiting")
                          .order_by(Call.updated_at, Call.id)).all()
        return [{**_call_summary(c, pii), "handoff": _handoff(c.handoff, pii)} for c in calls]


def take(db: Database, call_id: str, actor: str) -> dict[str, Any]:
    """A person takes a waiting call from the queue."""
    with db.session() as s:
        call = s.get(Call, call_id)
        if call is None:
            raise NotFound(f"no call {call_id!r}")
        if call.queue_state != "waiting":
            raise Conflict(f"call {call_id!r} is not waiting in the queue")
        call.queue_state = "taken"
        s.add(AuditEntry(kind="queue_taken", call_id=call_id, customer_id=call.customer_id,
                         actor=actor, detail={"queue": call.route_queue}))
        return {"call_id": call_id, "queue_state": "taken"}


def events_after(db: Database, cursor: int, pii: bool = False,
                 limit: int = 200) -> list[dict[str, Any]]:
    """Audit entries after ``cursor`` as live events; a turn carries what was said."""
    with db.session() as s:
        rows = s.scalars(select(AuditEntry).where(AuditEntry.id > cursor)
                         .order_by(AuditEntry.id).limit(limit)).all()
        out = []
        for a in rows:
            event = _audit(a)
            if a.kind == "turn":
                turn = s.scalar(select(Turn).where(Turn.call_id == a.call_id,
                                                   Turn.index == a.turn_index))
                event["text"] = _text(turn.text, pii) if turn is not None else None
            out.append(event)
        return out


def last_event_id(db: Database) -> int:
    with db.session() as s:
        return s.scalar(select(func.max(AuditEntry.id))) or 0


def record_outcome(db: Database, call_id: str, outcome: str, actor: str) -> dict[str, Any]:
    """What became of a call: stored on the call, logged, and given to the online learning
    (:meth:`tierline.segmentation.outcomes.OutcomeStore.feedback`)."""
    from tierline.segmentation.outcomes import OutcomeStore

    _require_call(db, call_id)
    result = OutcomeStore(db.url).feedback(call_id, outcome)
    with db.session() as s:
        call = s.get(Call, call_id)
        call.outcome = outcome
        s.add(AuditEntry(kind="outcome", call_id=call_id, customer_id=call.customer_id,
                         actor=actor, model_version=call.model_version,
                         detail={"outcome": outcome, "new_version": result.new_version,
                                 "active": result.active, "check": result.check}))
    return {"call_id": call_id, "outcome": outcome, "pending": result.pending,
            "needed": result.needed, "new_version": result.new_version,
            "active": result.active, "went_live": result.went_live, "check": result.check}


def correct_tier(db: Database, call_id: str, tier: str, note: str, actor: str
                 ) -> dict[str, Any]:
    """A person's tier for a call: kept in the tier history and the audit log, and taught to
    the online learning when the layer has that target (high, low, churn_risk)."""
    from tierline.segmentation.outcomes import OutcomeError, OutcomeStore

    if tier not in TIERS:
        raise ValueError(f"tier must be one of {', '.join(TIERS)}")
    call = _require_call(db, call_id)
    learned, why = None, None
    try:
        result = OutcomeStore(db.url).correct(call_id, tier)
        learned = {"pending": result.pending, "needed": result.needed,
                   "new_version": result.new_version, "active": result.active}
    except OutcomeError as exc:
        why = str(exc)
    with db.session() as s:
        s.add(TierHistory(customer_id=call["customer_id"], call_id=call_id, tier=tier,
                          source="human", note=note or None))
        s.add(AuditEntry(kind="tier_correction", call_id=call_id,
                         customer_id=call["customer_id"], actor=actor,
                         model_version=call["model_version"],
                         detail={"tier": tier, "model_tier": call["final_tier"],
                                 "learned": learned is not None, "not_learned_because": why}))
    return {"call_id": call_id, "tier": tier, "learned": learned, "not_learned_because": why}


def _require_call(db: Database, call_id: str) -> dict[str, Any]:
    with db.session() as s:
        call = s.get(Call, call_id)
        if call is None:
            raise NotFound(f"no call {call_id!r}")
        return {"customer_id": call.customer_id, "model_version": call.model_version,
                "final_tier": call.final_tier}
