"""Retention: the recordings folder (private to its owner) and the purge of old calls.

The purge deletes calls that ended before a cut-off with everything that belongs to them
(turns, tier history, route decisions) and the recording files Tierline made for them (files
inside :func:`recordings_dir`; a replayed file elsewhere is the user's and stays). The audit log
keeps its rows: they hold decisions, never transcripts or numbers. Live calls are never purged.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import delete, select

from tierline.core.database import home
from tierline.crm.db import Database
from tierline.crm.models import AuditEntry, Call, Customer


def recordings_dir(create: bool = True) -> Path:
    """``$TIERLINE_HOME/recordings``, mode 0700 (calls hold voices and numbers)."""
    path = home() / "recordings"
    if create:
        path.mkdir(parents=True, exist_ok=True)
        os.chmod(path, 0o700)
    return path


@dataclass(frozen=True)
class PurgeResult:
    """What a purge removed (or would remove, for a dry run)."""

    cutoff: str
    calls: int
    recordings: int
    customers: int

    def to_dict(self) -> dict:
        return {"cutoff": self.cutoff, "calls": self.calls, "recordings": self.recordings,
                "customers": self.customers}


def purge(db: Database, older_than_days: float, customers: bool = False,
          dry_run: bool = False, actor: str = "cli", now: datetime | None = None
          ) -> PurgeResult:
    """Delete finished calls that started more than ``older_than_days`` ago.

    Args:
        db: The CRM database.
        older_than_days: Age of the calls to delete, days (> 0).
        customers: Also delete customers without any call left who were not updated since
            the cut-off.
        dry_run: Count only.
        actor: Who asked (in the audit log).
        now: The clock (tests).
    """
    if not older_than_days > 0:
        raise ValueError(f"--older-than must be more than 0 days, not {older_than_days}")
    cutoff = (now or datetime.now(timezone.utc)) - timedelta(days=older_than_days)
    ours = recordings_dir(create=False).resolve()
    with db.session() as s:
        old = select(Call.id).where(Call.started_at < cutoff, Call.status != "live")
        ids = list(s.scalars(old))
        files = [Path(p) for (rec,) in s.execute(select(Call.recordings).where(
            Call.id.in_(ids))) for p in (rec or [])]
        files = [f for f in files if f.resolve().is_relative_to(ours) and f.is_file()]
        doomed: list[str] = []
        if customers:
            candidates = set(s.scalars(select(Customer.id).where(Customer.updated_at < cutoff)))
            keep = set(s.scalars(select(Call.customer_id).where(
                Call.customer_id.is_not(None), Call.id.not_in(ids))))
            doomed = sorted(candidates - keep)
        result = PurgeResult(cutoff.isoformat(timespec="seconds"), len(ids), len(files),
                             len(doomed))
        if dry_run:
            return result
        for start in range(0, len(ids), 500):
            s.execute(delete(Call).where(Call.id.in_(ids[start:start + 500])))
        if customers and doomed:
            s.execute(delete(Customer).where(Customer.id.in_(doomed)))
        s.add(AuditEntry(kind="purge", actor=actor, detail=result.to_dict()))
    for f in files:
        f.unlink(missing_ok=True)
    return result
