"""The CRM's tables as SQLAlchemy 2 models: customers, calls, turns, tier history, route
decisions, the do-not-call list and the append-only audit log.

The outcome store of the online learning keeps its own tables in the same database
(:data:`tierline.segmentation.outcomes.METADATA`: ``tier_calls``, ``tier_outcomes``, …), keyed
by the same unique call id. Alembic (``crm/migrations``) creates and changes all of them.

A turn row keeps the turn's JSON exactly as the contract writes it (``record``), beside the
columns a query filters on, so an export gives back the same objects replay prints.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from tierline.segmentation.features import CRM_FEATURES, DEFAULTS

LIFECYCLE_STAGES = ("lead", "prospect", "customer", "at_risk", "churned")
DIRECTIONS = ("inbound", "outbound")
CALL_STATUSES = ("live", "ended", "failed")
ID = String(200)
BIGID = BigInteger().with_variant(Integer(), "sqlite")  # SQLite autoincrements INTEGER only


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


class Customer(Base):
    """A customer: the eight behaviour features, RFM, tags and lifecycle stage."""

    __tablename__ = "customers"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    phone: Mapped[str | None] = mapped_column(String(32), unique=True)
    """E.164 (``+8613800138000``)."""
    name: Mapped[str] = mapped_column(String(200), default="")
    company: Mapped[str] = mapped_column(String(200), default="")
    browse_duration: Mapped[float] = mapped_column(Float, default=DEFAULTS["browse_duration"])
    click_times: Mapped[float] = mapped_column(Float, default=DEFAULTS["click_times"])
    consult_count: Mapped[float] = mapped_column(Float, default=DEFAULTS["consult_count"])
    contract_value: Mapped[float] = mapped_column(Float, default=DEFAULTS["contract_value"])
    renewal_rate: Mapped[float] = mapped_column(Float, default=DEFAULTS["renewal_rate"])
    response_speed: Mapped[float] = mapped_column(Float, default=DEFAULTS["response_speed"])
    complaint_count: Mapped[float] = mapped_column(Float, default=DEFAULTS["complaint_count"])
    referral_count: Mapped[float] = mapped_column(Float, default=DEFAULTS["referral_count"])
    recency_days: Mapped[float | None] = mapped_column(Float)
    frequency: Mapped[float | None] = mapped_column(Float)
    monetary: Mapped[float | None] = mapped_column(Float)
    defaulted: Mapped[list[Any]] = mapped_column(default=list)
    """Which of the eight features were never given (the tier's reasons say so)."""
    tags: Mapped[list[Any]] = mapped_column(default=list)
    lifecycle_stage: Mapped[str] = mapped_column(String(20), default="lead")
    source: Mapped[str] = mapped_column(String(20), default="import")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow,
                                                 onupdate=utcnow)

    calls: Mapped[list[Call]] = relationship(back_populates="customer")

    def features(self) -> dict[str, float]:
        """The eight features and whichever RFM columns are known."""
        out = {name: getattr(self, name) for name in CRM_FEATURES}
        out.update({name: getattr(self, name) for name in ("recency_days", "frequency",
                                                           "monetary")
                    if getattr(self, name) is not None})
        return out


class Call(Base):
    """One call, live or finished, from any transport."""

    __tablename__ = "calls"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    customer_id: Mapped[str | None] = mapped_column(
        ForeignKey("customers.id", ondelete="SET NULL"), index=True)
    phone: Mapped[str | None] = mapped_column(String(32))
    direction: Mapped[str] = mapped_column(String(10), default="inbound")
    transport: Mapped[str] = mapped_column(String(20), default="replay")
    status: Mapped[str] = mapped_column(String(10), default="live", index=True)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow,
                                                 index=True)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    duration_s: Mapped[float | None] = mapped_column(Float)
    recordings: Mapped[list[Any]] = mapped_column(default=list)
    model_version: Mapped[str | None] = mapped_column(String(100))
    initial_tier: Mapped[dict[str, Any] | None] = mapped_column()
    final_tier: Mapped[str | None] = mapped_column(String(20), index=True)
    route_action: Mapped[str | None] = mapped_column(String(10))
    route_queue: Mapped[str | None] = mapped_column(String(40))
    route_at_turn: Mapped[int | None] = mapped_column(Integer)
    route_reason: Mapped[str | None] = mapped_column(Text)
    queue_state: Mapped[str | None] = mapped_column(String(10), index=True)
    """``waiting`` from the transfer until a person takes the call (``taken``)."""
    handoff: Mapped[dict[str, Any] | None] = mapped_column()
    outcome: Mapped[str | None] = mapped_column(String(20))
    error: Mapped[str | None] = mapped_column(Text)
    meta: Mapped[dict[str, Any]] = mapped_column(default=dict)
    """The record's ``call`` object as the JSON contract has it."""
    opening: Mapped[dict[str, Any] | None] = mapped_column()
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow,
                                                 onupdate=utcnow)

    customer: Mapped[Customer | None] = relationship(back_populates="calls")
    turns: Mapped[list[Turn]] = relationship(
        back_populates="call", order_by="Turn.index", cascade="all, delete-orphan",
        passive_deletes=True)
    decisions: Mapped[list[RouteDecisionRow]] = relationship(
        order_by="RouteDecisionRow.id", cascade="all, delete-orphan", passive_deletes=True)


class Turn(Base):
    """One caller turn, written when it is decided."""

    __tablename__ = "turns"
    __table_args__ = (UniqueConstraint("call_id", "index", name="uq_turns_call_index"),)

    id: Mapped[int] = mapped_column(BIGID, primary_key=True, autoincrement=True)
    call_id: Mapped[str] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"))
    index: Mapped[int] = mapped_column(Integer)
    start_s: Mapped[float] = mapped_column(Float)
    end_s: Mapped[float] = mapped_column(Float)
    text: Mapped[str] = mapped_column(Text)
    intent: Mapped[str | None] = mapped_column(String(40))
    intent_score: Mapped[float | None] = mapped_column(Float)
    entities: Mapped[dict[str, Any]] = mapped_column(default=dict)
    emotion: Mapped[str | None] = mapped_column(String(20))
    arousal: Mapped[float | None] = mapped_column(Float)
    tier: Mapped[str] = mapped_column(String(20))
    latency_ms: Mapped[dict[str, Any]] = mapped_column(default=dict)
    record: Mapped[dict[str, Any]] = mapped_column()
    """The turn exactly as the JSON contract writes it."""
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    call: Mapped[Call] = relationship(back_populates="turns")


class TierHistory(Base):
    """Every tier a customer was given: by the model after a turn, or by a person."""

    __tablename__ = "tier_history"
    __table_args__ = (Index("ix_tier_history_customer_at", "customer_id", "at"),)

    id: Mapped[int] = mapped_column(BIGID, primary_key=True, autoincrement=True)
    customer_id: Mapped[str | None] = mapped_column(
        ForeignKey("customers.id", ondelete="SET NULL"))
    call_id: Mapped[str | None] = mapped_column(
        ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    turn_index: Mapped[int | None] = mapped_column(Integer)
    tier: Mapped[str] = mapped_column(String(20))
    scores: Mapped[dict[str, Any] | None] = mapped_column()
    source: Mapped[str] = mapped_column(String(20), default="model")
    """``model`` (after a turn), ``initial`` (from the CRM record) or ``human``."""
    model_version: Mapped[str | None] = mapped_column(String(100))
    note: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class RouteDecisionRow(Base):
    """The routing policy's decision after a turn (or a keypad digit), with its reason."""

    __tablename__ = "route_decisions"

    id: Mapped[int] = mapped_column(BIGID, primary_key=True, autoincrement=True)
    call_id: Mapped[str] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    turn_index: Mapped[int | None] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(10))
    queue: Mapped[str | None] = mapped_column(String(40))
    reason: Mapped[str] = mapped_column(Text, default="")
    target: Mapped[str | None] = mapped_column(Text)
    in_force: Mapped[bool] = mapped_column(Boolean, default=False)
    """Whether this decision became the call's route (the first transfer is final)."""
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class DncEntry(Base):
    """A number (digits, mainland mobiles without +86) or SIP URI that must not be dialled."""

    __tablename__ = "dnc"

    number: Mapped[str] = mapped_column(String(200), primary_key=True)
    added_at: Mapped[float] = mapped_column(Float)
    call_id: Mapped[str] = mapped_column(String(200), default="")
    phrase: Mapped[str] = mapped_column(Text, default="")


class AuditEntry(Base):
    """One decision, as it was taken: append-only (the database refuses updates and deletes).

    ``detail`` holds labels, scores, reasons and routes, never a transcript or a number, so
    the retention purge of calls leaves the log whole.
    """

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_call", "call_id"),)

    id: Mapped[int] = mapped_column(BIGID, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    kind: Mapped[str] = mapped_column(String(30))
    call_id: Mapped[str | None] = mapped_column(String(200))
    turn_index: Mapped[int | None] = mapped_column(Integer)
    customer_id: Mapped[str | None] = mapped_column(String(200))
    actor: Mapped[str] = mapped_column(String(100), default="model")
    model_version: Mapped[str | None] = mapped_column(String(100))
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
