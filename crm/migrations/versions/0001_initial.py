"""The first CRM schema: customers, calls, turns, tier history, route decisions, the
do-not-call list, the append-only audit log, and the outcome store's tables.

The outcome store (``tier_*``) and the do-not-call list may exist already (their owners create
their tables when used before this migration ran), so those are created only when missing.

Revision ID: 0001
Revises:
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

BIGID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)
ID = sa.String(200)


def _missing(name: str) -> bool:
    return not sa.inspect(op.get_bind()).has_table(name)


def upgrade() -> None:
    op.create_table(
        "customers",
        sa.Column("id", ID, primary_key=True),
        sa.Column("phone", sa.String(32), unique=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("company", sa.String(200), nullable=False),
        *[sa.Column(name, sa.Float, nullable=False) for name in (
            "browse_duration", "click_times", "consult_count", "contract_value",
            "renewal_rate", "response_speed", "complaint_count", "referral_count")],
        sa.Column("recency_days", sa.Float),
        sa.Column("frequency", sa.Float),
        sa.Column("monetary", sa.Float),
        sa.Column("defaulted", sa.JSON, nullable=False),
        sa.Column("tags", sa.JSON, nullable=False),
        sa.Column("lifecycle_stage", sa.String(20), nullable=False),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_table(
        "calls",
        sa.Column("id", ID, primary_key=True),
        sa.Column("customer_id", ID, sa.ForeignKey("customers.id", ondelete="SET NULL")),
        sa.Column("phone", sa.String(32)),
        sa.Column("direction", sa.String(10), nullable=False),
        sa.Column("transport", sa.String(20), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("ended_at", TS),
        sa.Column("duration_s", sa.Float),
        sa.Column("recordings", sa.JSON, nullable=False),
        sa.Column("model_version", sa.String(100)),
        sa.Column("initial_tier", sa.JSON),
        sa.Column("final_tier", sa.String(20)),
        sa.Column("route_action", sa.String(10)),
        sa.Column("route_queue", sa.String(40)),
        sa.Column("route_at_turn", sa.Integer),
        sa.Column("route_reason", sa.Text),
        sa.Column("queue_state", sa.String(10)),
        sa.Column("handoff", sa.JSON),
        sa.Column("outcome", sa.String(20)),
        sa.Column("error", sa.Text),
        sa.Column("meta", sa.JSON, nullable=False),
        sa.Column("opening", sa.JSON),
        sa.Column("updated_at", TS, nullable=False),
    )
    for column in ("customer_id", "status", "started_at", "final_tier", "queue_state"):
        op.create_index(f"ix_calls_{column}", "calls", [column])
    op.create_table(
        "turns",
        sa.Column("id", BIGID, primary_key=True, autoincrement=True),
        sa.Column("call_id", ID, sa.ForeignKey("calls.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("index", sa.Integer, nullable=False),
        sa.Column("start_s", sa.Float, nullable=False),
        sa.Column("end_s", sa.Float, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("intent", sa.String(40)),
        sa.Column("intent_score", sa.Float),
        sa.Column("entities", sa.JSON, nullable=False),
        sa.Column("emotion", sa.String(20)),
        sa.Column("arousal", sa.Float),
        sa.Column("tier", sa.String(20), nullable=False),
        sa.Column("latency_ms", sa.JSON, nullable=False),
        sa.Column("record", sa.JSON, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.UniqueConstraint("call_id", "index", name="uq_turns_call_index"),
    )
    op.create_table(
        "tier_history",
        sa.Column("id", BIGID, primary_key=True, autoincrement=True),
        sa.Column("customer_id", ID, sa.ForeignKey("customers.id", ondelete="SET NULL")),
        sa.Column("call_id", ID, sa.ForeignKey("calls.id", ondelete="CASCADE")),
        sa.Column("turn_index", sa.Integer),
        sa.Column("tier", sa.String(20), nullable=False),
        sa.Column("scores", sa.JSON),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("model_version", sa.String(100)),
        sa.Column("note", sa.Text),
        sa.Column("at", TS, nullable=False),
    )
    op.create_index("ix_tier_history_customer_at", "tier_history", ["customer_id", "at"])
    op.create_index("ix_tier_history_call_id", "tier_history", ["call_id"])
    op.create_table(
        "route_decisions",
        sa.Column("id", BIGID, primary_key=True, autoincrement=True),
        sa.Column("call_id", ID, sa.ForeignKey("calls.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("turn_index", sa.Integer),
        sa.Column("action", sa.String(10), nullable=False),
        sa.Column("queue", sa.String(40)),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("target", sa.Text),
        sa.Column("in_force", sa.Boolean, nullable=False),
        sa.Column("at", TS, nullable=False),
    )
    op.create_index("ix_route_decisions_call_id", "route_decisions", ["call_id"])
    op.create_table(
        "audit_log",
        sa.Column("id", BIGID, primary_key=True, autoincrement=True),
        sa.Column("at", TS, nullable=False),
        sa.Column("kind", sa.String(30), nullable=False),
        sa.Column("call_id", ID),
        sa.Column("turn_index", sa.Integer),
        sa.Column("customer_id", ID),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("model_version", sa.String(100)),
        sa.Column("detail", sa.JSON, nullable=False),
    )
    op.create_index("ix_audit_call", "audit_log", ["call_id"])
    _append_only("audit_log")
    if _missing("dnc"):
        op.create_table(
            "dnc",
            sa.Column("number", sa.String(200), primary_key=True),
            sa.Column("added_at", sa.Float),
            sa.Column("call_id", sa.String(200)),
            sa.Column("phrase", sa.Text),
        )
    _outcome_store()
    if _missing("legacy_imports"):  # tierline.core.database.adopt_legacy's bookkeeping
        op.create_table(
            "legacy_imports",
            sa.Column("path", sa.String(500), primary_key=True),
            sa.Column("mtime", sa.Float),
        )


def _append_only(table: str) -> None:
    """Make the database itself refuse UPDATE and DELETE on ``table``."""
    if op.get_bind().dialect.name == "sqlite":
        for action in ("UPDATE", "DELETE"):
            op.execute(f"CREATE TRIGGER {table}_no_{action.lower()} BEFORE {action} ON {table} "
                       f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END")
    else:
        op.execute(f"""CREATE FUNCTION {table}_append_only() RETURNS trigger AS $$
            BEGIN RAISE EXCEPTION '{table} is append-only'; END; $$ LANGUAGE plpgsql""")
        op.execute(f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                   f"FOR EACH ROW EXECUTE FUNCTION {table}_append_only()")


def _outcome_store() -> None:
    """The tables of :mod:`tierline.segmentation.outcomes` as of this revision."""
    if _missing("tier_calls"):
        op.create_table(
            "tier_calls",
            sa.Column("id", ID, primary_key=True),
            sa.Column("customer", ID),
            sa.Column("finished_at", sa.String(40)),
            sa.Column("label", sa.String(20)),
            sa.Column("features", sa.Text),
            sa.Column("logits", sa.Text),
            sa.Column("model_version", sa.String(100)),
            sa.Column("adapter_version", sa.Integer),
            sa.Column("turns", sa.Integer),
        )
    if _missing("tier_outcomes"):
        op.create_table(
            "tier_outcomes",
            sa.Column("call_id", ID, sa.ForeignKey("tier_calls.id"), primary_key=True),
            sa.Column("outcome", sa.String(20)),
            sa.Column("at", sa.String(40)),
            sa.Column("applied_in", sa.Integer),
            sa.Column("source", sa.String(40)),
        )
    if _missing("tier_adapters"):
        op.create_table(
            "tier_adapters",
            sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
            sa.Column("created_at", sa.String(40)),
            sa.Column("model_version", sa.String(100)),
            sa.Column("a", sa.Text),
            sa.Column("b", sa.Text),
            sa.Column("outcomes", sa.Integer),
            sa.Column("parent", sa.Integer),
            sa.Column("check_active", sa.Float),
            sa.Column("check_candidate", sa.Float),
            sa.Column("live", sa.Integer),
        )
    if _missing("tier_settings"):
        op.create_table(
            "tier_settings",
            sa.Column("key", sa.String(100), primary_key=True),
            sa.Column("value", sa.Text),
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        op.execute("DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log")
        op.execute("DROP FUNCTION IF EXISTS audit_log_append_only()")
    for table in ("audit_log", "route_decisions", "tier_history", "turns", "calls",
                  "customers"):
        op.drop_table(table)
