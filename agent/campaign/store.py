"""Campaign state in a database, so a runner that dies resumes without dialling anyone twice.

SQLAlchemy in the CRM database (``$TIERLINE_HOME/crm.sqlite3`` by default; any SQLAlchemy
URL works) behind :class:`CampaignStore`, so the tables can move into the CRM database when it
lands. Three tables: ``campaigns`` (name, leads file, settings), ``campaign_leads`` (one row
per lead: status, attempts, when it is next due, and its results) and ``campaign_attempts``
(one row per dial).

The at-most-once rule: an attempt row is committed **before** its INVITE (or
CreateSIPParticipant) is sent, with stage ``claimed``; ``answered`` and ``done`` follow. A
runner that starts finds attempts still ``claimed`` or ``answered`` — the previous runner
died while dialling — and closes them as ``interrupted`` (the lead is not dialled again by
itself: whether the callee's phone rang cannot be known), see :meth:`recover`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Column,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
    func,
    select,
    update,
)
from sqlalchemy.engine import Engine

from tierline.agent.campaign.leads import Lead

META = MetaData()
CAMPAIGNS = Table(
    "campaigns", META,
    Column("name", String(200), primary_key=True),
    Column("leads_file", Text, nullable=False),
    Column("via", String(20), nullable=False),
    Column("settings", Text, nullable=False, default="{}"),
    Column("created_at", Float, nullable=False),
)
LEADS = Table(
    "campaign_leads", META,
    Column("campaign", String(200), primary_key=True),
    Column("lead_id", String(200), primary_key=True),
    Column("row", Integer, nullable=False),
    Column("number", Text, nullable=False),
    Column("dnc_key", Text, nullable=False, default=""),
    Column("name", Text, default=""),
    Column("tz", String(64), default=""),
    Column("customer", Text, default="{}"),
    # pending (due at next_at), dialling (an attempt in flight), done (final)
    Column("status", String(20), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_at", Float, nullable=False, default=0.0),
    Column("outcome", String(30), default=""),   # last dial outcome / final reason
    Column("amd", String(20), default=""),        # human, voicemail, ivr, unknown
    Column("tier", String(20), default=""),
    Column("route", String(40), default=""),      # continue | transfer:<queue>
    Column("transferred", Integer, default=0),
    Column("next_action", Text, default=""),
    Column("detail", Text, default=""),
    Column("call_id", Text, default=""),
    Column("updated_at", Float, nullable=False, default=0.0),
)
ATTEMPTS = Table(
    "campaign_attempts", META,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("campaign", String(200), nullable=False, index=True),
    Column("lead_id", String(200), nullable=False),
    Column("n", Integer, nullable=False),
    Column("stage", String(20), nullable=False),  # claimed, answered, done, interrupted
    Column("outcome", String(30), default=""),
    Column("sip_status", Integer),
    Column("amd", Text, default=""),
    Column("started_at", Float, nullable=False),
    Column("ended_at", Float),
)

@dataclass(frozen=True)
class LeadState:
    """A lead as the store has it (one row of ``campaign_leads``)."""

    lead_id: str
    row: int
    number: str
    dnc_key: str
    name: str
    tz: str
    customer: dict[str, Any]
    status: str
    attempts: int
    next_at: float
    outcome: str
    amd: str
    tier: str
    route: str
    transferred: bool
    next_action: str
    detail: str
    call_id: str

    @classmethod
    def of(cls, row: Any) -> LeadState:
        m = row._mapping
        return cls(m["lead_id"], m["row"], m["number"], m["dnc_key"], m["name"] or "",
                   m["tz"] or "", json.loads(m["customer"] or "{}"), m["status"],
                   m["attempts"], m["next_at"], m["outcome"] or "", m["amd"] or "",
                   m["tier"] or "", m["route"] or "", bool(m["transferred"]),
                   m["next_action"] or "", m["detail"] or "", m["call_id"] or "")

    def to_dict(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        out.pop("customer")
        return out


def default_url() -> str:
    """The CRM database (``TIERLINE_DB_URL``, else ``$TIERLINE_HOME/crm.sqlite3``): campaign
    state sits beside the calls it produced."""
    from tierline.core.database import database_url

    return database_url()


def _url(where: str | Path | None) -> str:
    if where is None:
        return default_url()
    text = str(where)
    return text if "://" in text else f"sqlite:///{Path(text).expanduser().resolve()}"


class CampaignStore:
    """The campaign tables.

    Args:
        where: SQLAlchemy URL or SQLite file (default: the CRM database).
    """

    def __init__(self, where: str | Path | None = None) -> None:
        self.url = _url(where)
        if self.url.startswith("sqlite:///"):
            Path(self.url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        self.engine: Engine = create_engine(self.url, future=True)
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        META.create_all(self.engine)

    @property
    def shown(self) -> str:
        return self.url.removeprefix("sqlite:///")

    # ------------------------------------------------------------------ set-up
    def campaign(self, name: str) -> dict[str, Any] | None:
        with self.engine.connect() as c:
            row = c.execute(select(CAMPAIGNS).where(CAMPAIGNS.c.name == name)).first()
        if row is None:
            return None
        out = dict(row._mapping)
        out["settings"] = json.loads(out["settings"] or "{}")
        return out

    def campaigns(self) -> list[str]:
        with self.engine.connect() as c:
            return [r[0] for r in c.execute(select(CAMPAIGNS.c.name).order_by(
                CAMPAIGNS.c.created_at))]

    def create(self, name: str, leads_file: str, via: str, settings: dict[str, Any],
               leads: Iterable[Lead], now: float) -> tuple[int, int]:
        """Create the campaign or add the file's new leads to it; (added, already known).

        A lead already in the store keeps its state (a rerun of the same file resumes it);
        settings are updated to the latest run's.
        """
        added = known = 0
        with self.engine.begin() as c:
            if c.execute(select(CAMPAIGNS.c.name).where(CAMPAIGNS.c.name == name)).first():
                c.execute(update(CAMPAIGNS).where(CAMPAIGNS.c.name == name).values(
                    settings=json.dumps(settings), via=via, leads_file=leads_file))
            else:
                c.execute(CAMPAIGNS.insert().values(name=name, leads_file=leads_file, via=via,
                                                    settings=json.dumps(settings),
                                                    created_at=now))
            have = {r[0] for r in c.execute(select(LEADS.c.lead_id).where(
                LEADS.c.campaign == name))}
            for lead in leads:
                if lead.lead_id in have:
                    known += 1
                    continue
                status, outcome, action = "pending", "", ""
                if lead.problem:
                    status, outcome = "done", lead.problem
                    action = ("fix the number in the leads file" if lead.problem == "malformed"
                              else "none: the number is dialled once, for the first lead")
                c.execute(LEADS.insert().values(
                    campaign=name, lead_id=lead.lead_id, row=lead.row, number=lead.number,
                    dnc_key=lead.key, name=lead.name, tz=lead.tz,
                    customer=json.dumps(lead.customer, ensure_ascii=False), status=status,
                    attempts=0, next_at=now, outcome=outcome, next_action=action,
                    detail=lead.detail, updated_at=now))
                added += 1
        return added, known

    # ------------------------------------------------------------------ reading
    def leads(self, name: str, status: str | None = None) -> list[LeadState]:
        q = select(LEADS).where(LEADS.c.campaign == name)
        if status is not None:
            q = q.where(LEADS.c.status == status)
        with self.engine.connect() as c:
            return [LeadState.of(r) for r in c.execute(q.order_by(LEADS.c.row))]

    def attempts(self, name: str, lead_id: str | None = None) -> list[dict[str, Any]]:
        q = select(ATTEMPTS).where(ATTEMPTS.c.campaign == name)
        if lead_id is not None:
            q = q.where(ATTEMPTS.c.lead_id == lead_id)
        with self.engine.connect() as c:
            return [dict(r._mapping) for r in c.execute(q.order_by(ATTEMPTS.c.id))]

    def dialled_count(self, name: str) -> int:
        with self.engine.connect() as c:
            return c.execute(select(func.count()).select_from(ATTEMPTS).where(
                ATTEMPTS.c.campaign == name)).scalar_one()

    # ------------------------------------------------------------------ the at-most-once steps
    def recover(self, name: str, now: float) -> list[str]:
        """Close the attempts a dead runner left in flight as ``interrupted``; their leads."""
        with self.engine.begin() as c:
            rows = c.execute(select(ATTEMPTS.c.id, ATTEMPTS.c.lead_id, ATTEMPTS.c.stage).where(
                ATTEMPTS.c.campaign == name, ATTEMPTS.c.stage.in_(("claimed", "answered"))
            )).all()
            for att_id, lead_id, stage in rows:
                c.execute(update(ATTEMPTS).where(ATTEMPTS.c.id == att_id).values(
                    stage="interrupted", outcome="interrupted", ended_at=now))
                where = "while ringing" if stage == "claimed" else "during the call"
                c.execute(update(LEADS).where(
                    LEADS.c.campaign == name, LEADS.c.lead_id == lead_id).values(
                    status="done", outcome="interrupted", updated_at=now,
                    detail=f"the runner stopped {where} (attempt {att_id})",
                    next_action="check the call before dialling again (not redialled "
                                "automatically)"))
        return [r[1] for r in rows]

    def claim(self, name: str, lead_id: str, now: float) -> int | None:
        """Commit a new attempt for a pending lead before it is dialled; its number (None when
        the lead is no longer pending: someone else has it)."""
        with self.engine.begin() as c:
            lead = c.execute(select(LEADS.c.status, LEADS.c.attempts).where(
                LEADS.c.campaign == name, LEADS.c.lead_id == lead_id)).first()
            if lead is None or lead.status != "pending":
                return None
            n = lead.attempts + 1
            changed = c.execute(update(LEADS).where(
                LEADS.c.campaign == name, LEADS.c.lead_id == lead_id,
                LEADS.c.status == "pending").values(status="dialling", attempts=n,
                                                     updated_at=now)).rowcount
            if changed != 1:
                return None
            c.execute(ATTEMPTS.insert().values(campaign=name, lead_id=lead_id, n=n,
                                               stage="claimed", started_at=now))
        return n

    def answered(self, name: str, lead_id: str, n: int) -> None:
        with self.engine.begin() as c:
            c.execute(update(ATTEMPTS).where(
                ATTEMPTS.c.campaign == name, ATTEMPTS.c.lead_id == lead_id,
                ATTEMPTS.c.n == n).values(stage="answered"))

    def finish(self, name: str, lead_id: str, n: int | None, now: float, *, outcome: str,
               next_at: float | None, next_action: str, sip_status: int | None = None,
               amd: dict[str, Any] | None = None, tier: str = "", route: str = "",
               transferred: bool = False, detail: str = "", call_id: str = "") -> None:
        """Record how an attempt ended (``n`` None: the lead ended without a dial, e.g. do-not-
        call) and whether the lead is due again (``next_at``) or done."""
        with self.engine.begin() as c:
            if n is not None:
                c.execute(update(ATTEMPTS).where(
                    ATTEMPTS.c.campaign == name, ATTEMPTS.c.lead_id == lead_id,
                    ATTEMPTS.c.n == n).values(stage="done", outcome=outcome,
                                              sip_status=sip_status, ended_at=now,
                                              amd=json.dumps(amd) if amd else ""))
            values: dict[str, Any] = {
                "status": "pending" if next_at is not None else "done",
                "next_at": next_at if next_at is not None else now, "outcome": outcome,
                "next_action": next_action, "detail": detail, "updated_at": now}
            if amd:
                values["amd"] = amd.get("outcome", "")
            if tier:
                values.update(tier=tier, route=route, transferred=int(transferred))
            if call_id:
                values["call_id"] = call_id
            c.execute(update(LEADS).where(LEADS.c.campaign == name,
                                          LEADS.c.lead_id == lead_id).values(**values))

    def defer(self, name: str, lead_id: str, next_at: float, next_action: str,
              now: float) -> None:
        """A pending lead waits (its calling hours are closed) without an attempt."""
        with self.engine.begin() as c:
            c.execute(update(LEADS).where(
                LEADS.c.campaign == name, LEADS.c.lead_id == lead_id,
                LEADS.c.status == "pending").values(next_at=next_at, next_action=next_action,
                                                    updated_at=now))


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cur = dbapi_connection.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=FULL")  # an attempt row is on disk before its INVITE
    cur.execute("PRAGMA busy_timeout=5000")
    cur.close()
