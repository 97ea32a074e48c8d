"""Callbacks a busy caller asked for, persisted for the dialer.

A SQLite file, by default ``$TIERLINE_HOME/callbacks.sqlite3``, next to the do-not-call list.
One row per request: the caller's number (normalised as the do-not-call list does; empty when
the call had none), the call id, the time asked for (ISO 8601, minutes; empty when the caller
named none), whether that time is exact, the caller's words, and when the request was made.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from tierline.agent.dialog.compliance import normalize_number, open_table
from tierline.dialects.models import tierline_home
from tierline.nlu.when import When

__all__ = ["Callback", "CallbackList", "default_callback_path"]


def default_callback_path() -> Path:
    return tierline_home() / "callbacks.sqlite3"


@dataclass(frozen=True)
class Callback:
    """One callback request.

    Attributes:
        id: Row id.
        number: Normalised caller number ("" when unknown).
        call_id: The call it was asked in.
        due: When to call (ISO 8601), "" when the caller named no time.
        exact: The time was said exactly (明天下午三点), not vaguely (晚点, 下周一).
        said: The caller's words.
        asked_at: Unix time of the request.
    """

    id: int
    number: str
    call_id: str
    due: str
    exact: bool
    said: str
    asked_at: float


class CallbackList:
    """The persisted callback requests.

    Args:
        path: SQLite file (created on first use); default ``$TIERLINE_HOME/callbacks.sqlite3``.
    """

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else default_callback_path()

    def _connect(self) -> sqlite3.Connection:
        return open_table(self.path, "CREATE TABLE IF NOT EXISTS callbacks (id INTEGER PRIMARY "
                                     "KEY, number TEXT, call_id TEXT, due TEXT, exact INTEGER, "
                                     "said TEXT, asked_at REAL)")

    def add(self, number: str | None, call_id: str, when: When | None, said: str) -> int:
        """Record a request (``when`` None: no time named yet); returns its id."""
        num = _number(number)
        due, exact = (when.to_dict()["at"], when.exact) if when else ("", False)
        with self._connect() as con:
            cur = con.execute("INSERT INTO callbacks (number, call_id, due, exact, said, asked_at)"
                              " VALUES (?, ?, ?, ?, ?, ?)",
                              (num, call_id, due, int(exact), said, time.time()))
            row = int(cur.lastrowid or 0)
        con.close()
        return row

    def set_time(self, row: int, when: When, said: str) -> None:
        """Give a request the time the caller named afterwards."""
        with self._connect() as con:
            con.execute("UPDATE callbacks SET due = ?, exact = ?, said = said || ' / ' || ? "
                        "WHERE id = ?", (when.to_dict()["at"], int(when.exact), said, row))
        con.close()

    def all(self) -> list[Callback]:
        """Every request, oldest first (a missing file holds none)."""
        if not self.path.exists():
            return []
        with self._connect() as con:
            rows = con.execute("SELECT id, number, call_id, due, exact, said, asked_at "
                               "FROM callbacks ORDER BY id").fetchall()
        con.close()
        return [Callback(r[0], r[1], r[2], r[3], bool(r[4]), r[5], r[6]) for r in rows]


def _number(number: str | None) -> str:
    if not number:
        return ""
    try:
        return normalize_number(number)
    except ValueError:
        return ""
