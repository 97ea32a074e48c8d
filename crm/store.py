"""Where transports write their calls: one :class:`CallRecorder` per call, one commit per turn.

    store = CallStore()                 # TIERLINE_DB_URL or $TIERLINE_HOME/crm.sqlite3
    rec = store.for_session(session, customer, transport="livekit", phone=caller_number)
    rec.turn(turn_record, session.route)      # after every decided turn (or rec.follow(session))
    rec.finish(session.record.to_dict())      # when the call ends

Every turn is committed when it is decided, so a process that dies mid-call leaves every turn
it had (the call stays ``live`` with them). A transfer puts the caller in the human queue with
a handoff summary. Each decision is also appended to the audit log with the model version.

The recorder never raises into the call: a failed write becomes :attr:`CallRecorder.problem`
(and a warning in the log) and the call goes on. A call id that was stored before is kept as
it is (ids are unique; the store never overwrites a call), and the new recorder stays idle.

Turns and routes are duck-typed (anything with ``to_dict()``, like
:class:`tierline.agent.records.TurnRecord`), so this layer does not import the agent.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from tierline.core.database import describe
from tierline.crm.db import Database, open_database
from tierline.crm.models import (
    AuditEntry,
    Call,
    Customer,
    RouteDecisionRow,
    TierHistory,
    Turn,
)
from tierline.crm.phones import PhoneError, mask, normalize_phone
from tierline.segmentation.features import CRM_FEATURES, RFM_FEATURES, CustomerProfile

log = logging.getLogger("tierline.crm")

HANDOFF_UTTERANCES = 3
"""Last caller utterances a handoff summary quotes."""


class Decision(Protocol):
    """A route decision (:class:`tierline.agent.policy.RouteDecision`)."""

    target: str | None

    def to_dict(self) -> dict[str, Any]: ...


class TurnLike(Protocol):
    """A decided turn (:class:`tierline.agent.records.TurnRecord`)."""

    route: Decision

    def to_dict(self) -> dict[str, Any]: ...


class TierLike(Protocol):
    """A tier (:class:`tierline.segmentation.records.TierUpdate`)."""

    label: str
    scores: dict[str, float]
    reasons: tuple[str, ...]


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _as_dict(obj: Any) -> dict[str, Any] | None:
    if obj is None or isinstance(obj, dict):
        return obj
    return obj.to_dict()


class CallStore:
    """The CRM database as transports see it.

    Args:
        where: Database URL or SQLite file (default: ``TIERLINE_DB_URL``, else
            ``$TIERLINE_HOME/crm.sqlite3``); or an opened :class:`Database`.

    Raises:
        DatabaseError: the database cannot be opened (say so before the call starts).
    """

    def __init__(self, where: str | Path | Database | None = None) -> None:
        self.db = where if isinstance(where, Database) else open_database(where)

    def start_call(self, call: dict[str, Any], customer: CustomerProfile | None = None, *,
                   phone: str | None = None, direction: str = "inbound",
                   transport: str = "replay", recordings: tuple[str, ...] = (),
                   initial_tier: TierLike | None = None,
                   model_version: str | None = None,
                   on_problem: Callable[[str], None] | None = None) -> CallRecorder:
        """Open the call's row (status ``live``) and its recorder.

        Args:
            call: The record's ``call`` object (``id`` is required and unique).
            customer: The caller's CRM profile; a customer id not in the CRM yet is added
                with these features.
            phone: The caller's number (any spelling; stored E.164, linked to its customer).
            direction: ``inbound`` or ``outbound``.
            transport: ``replay``, ``livekit``, ``sip``, ``text``.
            recordings: Paths of the call's recordings.
            initial_tier: The tier before any turn (from the CRM features).
            model_version: Tier model and online-layer version deciding this call.
            on_problem: Told the first failed write (default: a warning in the log).
        """
        rec = CallRecorder(self.db, str(call["id"]), model_version, on_problem)
        try:
            rec.customer_id = self._open(rec, call, customer, phone, direction, transport,
                                         recordings, initial_tier)
        except IntegrityError:
            rec.idle(f"call {rec.call_id} was stored before; the stored call is kept")
        except SQLAlchemyError as exc:
            rec.fail(exc)
        return rec

    def for_session(self, session: Any, customer: CustomerProfile | None = None, *,
                    transport: str, phone: str | None = None, direction: str = "inbound",
                    recordings: tuple[str, ...] = (),
                    on_problem: Callable[[str], None] | None = None) -> CallRecorder:
        """The one call a transport makes when its :class:`~tierline.agent.session.CallSession`
        starts: the call's metadata, initial tier and model version come from the session.

        Then ``recorder.turn(turn, session.route)`` after every decided turn (or
        ``recorder.follow(session)`` as the ``on_turn`` sink) and
        ``recorder.finish(session.record.to_dict())`` when the call ends.
        """
        scorer = session.scorer
        return self.start_call(
            session.record.call, customer, phone=phone, direction=direction,
            transport=transport, recordings=recordings,
            initial_tier=session.record.initial_tier,
            model_version=f"{scorer.model.version}+layer{scorer.adapter.version}",
            on_problem=on_problem)

    def _open(self, rec: CallRecorder, call: dict[str, Any], profile: CustomerProfile | None,
              phone: str | None, direction: str, transport: str, recordings: tuple[str, ...],
              initial: TierLike | None) -> str | None:
        number = None
        if phone:
            try:
                number = normalize_phone(phone)
            except PhoneError:
                log.warning("call %s: caller number %s not understood", rec.call_id,
                            mask(str(phone)))
        with self.db.session() as s:
            if s.get(Call, rec.call_id) is not None:
                raise IntegrityError("taken", None, Exception(rec.call_id))
            customer = _customer(s, profile, number, transport)
            tier = ({"label": initial.label, "scores": dict(initial.scores),
                     "reasons": list(initial.reasons)} if initial is not None else None)
            s.add(Call(id=rec.call_id, customer_id=customer, phone=number, direction=direction,
                       transport=transport, status="live", recordings=list(recordings),
                       model_version=rec.model_version, initial_tier=tier,
                       final_tier=tier["label"] if tier else None, meta=dict(call)))
            s.flush()  # a taken id fails here, before anything else is written
            if tier is not None:
                s.add(TierHistory(customer_id=customer, call_id=rec.call_id, tier=tier["label"],
                                  scores=tier["scores"], source="initial",
                                  model_version=rec.model_version))
            s.add(AuditEntry(kind="call_started", call_id=rec.call_id, customer_id=customer,
                             model_version=rec.model_version,
                             detail={"direction": direction, "transport": transport,
                                     "tier": tier}))
        return customer

    def profile(self, key: str) -> CustomerProfile | None:
        """The tiering profile of a customer, by id or phone number (None when unknown):
        what a transport passes to its :class:`~tierline.agent.session.CallSession`."""
        with self.db.session() as s:
            row = s.get(Customer, key)
            if row is None:
                try:
                    number = normalize_phone(key)
                except PhoneError:
                    return None
                row = s.scalar(select(Customer).where(Customer.phone == number))
            if row is None:
                return None
            return profile_of(row)


def profile_of(row: Customer) -> CustomerProfile:
    """The :class:`CustomerProfile` the tier scorer reads from a customer row."""
    from tierline.segmentation.features import parse_customer

    given = {k: v for k, v in row.features().items() if k not in (row.defaulted or [])}
    return parse_customer({"id": row.id, "name": row.name, **given})


def _customer(s, profile: CustomerProfile | None, number: str | None,
              transport: str) -> str | None:
    """The id of the caller's customer row: added from the profile when new, given the
    caller's number when it had none (and nobody else has it); else found by the number."""
    if profile is not None and profile.id:
        row = s.get(Customer, profile.id)
        if row is None:
            features = {k: profile.features[k] for k in CRM_FEATURES + RFM_FEATURES}
            row = Customer(id=profile.id, name=profile.name, phone=None, source=transport,
                           defaulted=list(profile.defaulted), tags=[],
                           lifecycle_stage="customer" if features["contract_value"] > 0
                           else "lead", **features)
            s.add(row)
        if number and row.phone is None and s.scalar(
                select(Customer.id).where(Customer.phone == number)) is None:
            row.phone = number
        s.flush()
        return profile.id
    if number:
        return s.scalar(select(Customer.id).where(Customer.phone == number))
    return None


class CallRecorder:
    """Writes one call as it happens. Use :meth:`turn` as a transport's ``on_turn`` sink.

    Attributes:
        call_id: The call.
        problem: The first write that failed (None while all is well).
    """

    def __init__(self, db: Database, call_id: str, model_version: str | None = None,
                 on_problem: Callable[[str], None] | None = None) -> None:
        self.db = db
        self._tell = on_problem or (lambda why: log.warning("%s", why))
        self.call_id = call_id
        self.model_version = model_version
        self.customer_id: str | None = None
        self.problem: str | None = None
        self._active = True
        self._routed = False

    @property
    def active(self) -> bool:
        return self._active

    def idle(self, why: str) -> None:
        """Stop writing (the call was stored before); remembered as the problem."""
        self._active = False
        self._problem(why)

    def fail(self, exc: BaseException) -> None:
        """A write failed: said once; the call goes on and later writes are still tried."""
        self._problem(f"call {self.call_id} not fully stored: {describe(exc)}")

    def _problem(self, why: str) -> None:
        if self.problem is None:
            self.problem = why
            self._tell(why)

    def __call__(self, turn: TurnLike, in_force: Decision | dict | None = None) -> None:
        self.turn(turn, in_force)

    def follow(self, session: Any) -> Callable[[TurnLike], None]:
        """An ``on_turn`` sink for ``session``: each turn with the route then in force."""
        return lambda turn: self.turn(turn, session.route)

    def turn(self, turn: TurnLike | dict[str, Any], in_force: Decision | dict | None = None,
             decision: Decision | dict | None = None) -> None:
        """Commit one decided turn: the turn, its tier, its route decision, and the queue
        entry when this turn's transfer is the call's route.

        Args:
            turn: The turn record (or its JSON dict, with ``decision`` given).
            in_force: The call's route after this turn (the session's ``route``).
            decision: The turn's own route decision (default ``turn.route``).
        """
        if not self._active:
            return
        data = _as_dict(turn)
        decision = decision if decision is not None else getattr(turn, "route", None)
        route = _as_dict(decision) or {"action": "continue", "queue": None,
                                       "at_turn": data["index"], "reason": ""}
        target = getattr(decision, "target", None)
        force = _as_dict(in_force)
        try:
            self._write_turn(data, route, target, force)
        except SQLAlchemyError as exc:
            self.fail(exc)

    def _write_turn(self, data: dict, route: dict, target: str | None,
                    force: dict | None) -> None:
        tier, emotion, intent = data["tier"], data.get("emotion") or {}, data.get("intent") or {}
        index = data["index"]
        took = (force is not None and force.get("action") == "transfer"
                and force.get("at_turn") == index and not self._routed)
        with self.db.session() as s:
            s.add(Turn(call_id=self.call_id, index=index, start_s=data["start_s"],
                       end_s=data["end_s"], text=data["text"], intent=intent.get("label"),
                       intent_score=intent.get("score"), entities=data.get("entities") or {},
                       emotion=emotion.get("label"), arousal=emotion.get("arousal"),
                       tier=tier["label"], latency_ms=data.get("latency_ms") or {},
                       record=data))
            s.add(TierHistory(customer_id=self.customer_id, call_id=self.call_id,
                              turn_index=index, tier=tier["label"], scores=tier.get("scores"),
                              model_version=self.model_version))
            s.add(RouteDecisionRow(call_id=self.call_id, turn_index=index,
                                   action=route["action"], queue=route.get("queue"),
                                   reason=route.get("reason") or "", target=target,
                                   in_force=bool(took)))
            s.add(AuditEntry(kind="turn", call_id=self.call_id, turn_index=index,
                             customer_id=self.customer_id, model_version=self.model_version,
                             detail={"tier": tier["label"], "scores": tier.get("scores"),
                                     "reasons": tier.get("reasons", []),
                                     "intent": intent.get("label"),
                                     "emotion": emotion.get("label"),
                                     "arousal": emotion.get("arousal"), "route": route}))
            call = s.get(Call, self.call_id)
            call.final_tier = tier["label"]
            if force is not None:
                _set_route(call, force)
            if took:
                call.queue_state = "waiting"
                call.handoff = handoff_summary(s, self.call_id, data, force)
                s.add(AuditEntry(kind="transfer", call_id=self.call_id, turn_index=index,
                                 customer_id=self.customer_id,
                                 model_version=self.model_version,
                                 detail={"route": force, "target": target}))
        if took:
            self._routed = True

    def finish(self, record: dict[str, Any] | Any, error: str | None = None) -> None:
        """Close the call with its final record (the JSON contract's object).

        Turns the transport did not hand to :meth:`turn` (a recorder attached late) are
        written here, so the stored call always holds the record's turns.
        """
        if not self._active:
            return
        record = _as_dict(record)
        try:
            with self.db.session() as s:
                have = set(s.scalars(select(Turn.index).where(Turn.call_id == self.call_id)))
            for turn in record.get("turns", []):
                if turn["index"] not in have:
                    self._write_turn(turn, {"action": "continue", "queue": None,
                                            "at_turn": turn["index"], "reason": ""},
                                     None, None)
            with self.db.session() as s:
                call = s.get(Call, self.call_id)
                meta = dict(record.get("call") or {})
                call.meta = meta
                call.status = "failed" if (error or meta.get("error")) else "ended"
                call.error = error or meta.get("error")
                call.ended_at = _now()
                call.duration_s = meta.get("duration_s")
                call.final_tier = record.get("final_tier") or call.final_tier
                if record.get("route"):
                    _set_route(call, record["route"])
                    if record["route"].get("action") == "transfer" and not call.queue_state:
                        call.queue_state = "waiting"
                        call.handoff = handoff_summary(s, self.call_id, None, record["route"])
                call.opening = record.get("opening")
                s.add(AuditEntry(kind="call_ended", call_id=self.call_id,
                                 customer_id=self.customer_id, model_version=self.model_version,
                                 detail={"final_tier": call.final_tier,
                                         "route": record.get("route"), "status": call.status,
                                         "turns": len(record.get("turns", []))}))
        except SQLAlchemyError as exc:
            self.fail(exc)
        self._active = False


def _set_route(call: Call, route: dict[str, Any]) -> None:
    call.route_action = route.get("action")
    call.route_queue = route.get("queue")
    call.route_at_turn = route.get("at_turn")
    call.route_reason = route.get("reason")


def handoff_summary(s, call_id: str, last: dict | None, route: dict) -> dict[str, Any]:
    """What the person taking a transferred call reads first: why, the tier and its reasons,
    the intents and facts heard, and the caller's last words."""
    turns = [t.record for t in s.scalars(select(Turn).where(Turn.call_id == call_id)
                                         .order_by(Turn.index))]
    if last is not None and (not turns or turns[-1]["index"] != last["index"]):
        turns.append(last)
    entities: dict[str, Any] = {}
    intents: list[str] = []
    for t in turns:
        entities.update({k: v for k, v in (t.get("entities") or {}).items() if v is not None})
        label = (t.get("intent") or {}).get("label")
        if label and label != "other" and label not in intents:
            intents.append(label)
    tier = turns[-1]["tier"] if turns else {}
    return {"queue": route.get("queue"), "reason": route.get("reason"),
            "at_turn": route.get("at_turn"), "tier": tier.get("label"),
            "reasons": list(tier.get("reasons", []))[:5], "intents": intents,
            "entities": entities,
            "dialect": turns[-1].get("dialect") if turns else None,
            "last_utterances": [t["text"] for t in turns[-HANDOFF_UTTERANCES:]]}

