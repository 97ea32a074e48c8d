"""Compliance and etiquette: opt-out detection, the do-not-call list, one interruption per turn.

The do-not-call (DNC) list is the ``dnc`` table of the CRM database (``TIERLINE_DB_URL``, else
``$TIERLINE_HOME/crm.sqlite3``), shared by every transport and worker on it; every outbound
dial passes :func:`tierline.agent.outbound.permit_dial` first. Numbers are stored normalised
(digits only, without the +86/0086 prefix of a mobile).
"""

from __future__ import annotations

import re
import sqlite3
import time
from pathlib import Path

from tierline.core.database import (
    adopt_legacy,
    database_url,
    home,
    insert_ignore,
    sqlite_file,
)
from tierline.nlu.call_acts import CallActModel, load_call_acts
from tierline.nlu.pipeline import normalize


class OptOut:
    """Detects a caller opting out of calls: the KB's phrases as a floor, and a model.

    A phrase of the list ("别再打了", "不要再打") always counts; the call-act model
    (:mod:`tierline.nlu.call_acts`, set for recall) adds the paraphrases the list misses
    ("以后别再打过来了", "把我号码删了", "天天打烦不烦"). Honouring an opt-out is a legal
    obligation, so either is enough. The model reads the turn without the 打 of the KB's
    ``not_before`` words (不要再打折了 is about discounts for the model too).

    Args:
        phrases: Opt-out phrases (from the KB's ``compliance.opt_out_phrases``).
        not_before: Characters that, right after a phrase, make it something else
            (不要再打折了 is about discounts).
        model: The call-act model (default: the shipped one).
        use_model: Set False for the phrase list alone.
    """

    def __init__(self, phrases: tuple[str, ...], not_before: str = "",
                 model: CallActModel | None = None, use_model: bool = True) -> None:
        alts = "|".join(re.escape(normalize(p)) for p in sorted(phrases, key=len, reverse=True))
        tail = f"(?![{re.escape(not_before)}])" if not_before else ""
        self._re = re.compile(f"(?:{alts}){tail}", re.IGNORECASE)
        self._not_calling = (re.compile(f"打(?=[{re.escape(not_before)}])") if not_before
                             else None)
        self.model = (model or load_call_acts()) if use_model else None

    def phrase(self, text: str) -> str | None:
        """The listed opt-out phrase said in ``text``, or None (the floor alone)."""
        m = self._re.search(normalize(text))
        return m.group(0) if m else None

    def match(self, text: str) -> str | None:
        """Why ``text`` is an opt-out: the listed phrase, or ``model <probability>``; None
        when it is not one."""
        return self.phrase(text) or self.by_model(text)

    def by_model(self, text: str) -> str | None:
        """``model <probability>`` when the call-act model reads ``text`` as an opt-out."""
        if self.model is None:
            return None
        if self._not_calling is not None:  # 打折 / 打款 / 打印: the KB says 打 is not calling
            text = self._not_calling.sub("", normalize(text))
        act = self.model.read(text)
        return f"model {act.score:.2f}" if act.label == "opt_out" else None


def normalize_number(number: str) -> str:
    """Digits of a phone number without the China country prefix of a mobile number.

    Raises:
        ValueError: fewer than 3 digits.
    """
    digits = re.sub(r"\D", "", str(number))
    for prefix in ("0086", "86"):
        if digits.startswith(prefix) and len(digits) - len(prefix) == 11:
            digits = digits[len(prefix):]
    if len(digits) < 3:
        raise ValueError(f"not a phone number: {number!r}")
    return digits


def default_dnc_path() -> Path | str:
    """The CRM database the list lives in: its SQLite file, or its URL."""
    url = database_url()
    return sqlite_file(url) or url


def legacy_dnc_path() -> Path:
    """Where the list lived before the CRM database (moved in on first use, so nobody who
    opted out is ever forgotten)."""
    return home() / "dnc.sqlite3"


def _copy_legacy(old, conn) -> int:
    from tierline.crm.models import DncEntry

    rows = old.execute("SELECT number, added_at, call_id, phrase FROM dnc").fetchall()
    return sum(insert_ignore(conn, DncEntry.__table__, {
        "number": n, "added_at": a, "call_id": c or "", "phrase": p or ""})
        for n, a, c, p in rows)


def open_table(path: Path, schema: str) -> sqlite3.Connection:
    """Connect to a small SQLite file of the agent (created on first use) with its table.

    Args:
        path: The file; its folder is created.
        schema: ``CREATE TABLE IF NOT EXISTS ...`` for the file's one table.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(path, timeout=5.0)
    con.execute(schema)
    return con


class DncList:
    """The persisted do-not-call list.

    Args:
        path: The database: a SQLite file (created on first use), a URL, or None for the
            CRM database (``TIERLINE_DB_URL``, else ``$TIERLINE_HOME/crm.sqlite3``).
    """

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = path if path is not None else default_dnc_path()

    def _db(self):
        from tierline.crm.db import open_database

        db = open_database(self.path)
        if self.path == default_dnc_path():
            adopt_legacy(None, legacy_dnc_path(), _copy_legacy)
        return db

    def _absent(self) -> bool:
        """A SQLite file not created yet: nobody opted out (and reading creates nothing)."""
        file = sqlite_file(database_url(self.path))
        return file is not None and not file.exists() and not (
            self.path == default_dnc_path() and legacy_dnc_path().is_file())

    def add(self, number: str, call_id: str = "", phrase: str = "") -> bool:
        """Put ``number`` on the list; True when it was not there before."""
        from tierline.crm.models import DncEntry

        num = normalize_number(number)
        with self._db().engine.begin() as con:
            return insert_ignore(con, DncEntry.__table__, {
                "number": num, "added_at": time.time(), "call_id": call_id, "phrase": phrase})

    def contains(self, number: str) -> bool:
        """Whether ``number`` opted out (a missing list file means nobody did)."""
        return self.contains_key(normalize_number(number))

    def contains_key(self, key: str) -> bool:
        """Whether an already normalised key (a number, or a SIP URI) is on the list."""
        from tierline.crm.models import DncEntry

        if self._absent():
            return False
        with self._db().session() as s:
            return s.get(DncEntry, key) is not None

    def numbers(self) -> list[str]:
        from sqlalchemy import select

        from tierline.crm.models import DncEntry

        if self._absent():
            return []
        with self._db().session() as s:
            return list(s.scalars(select(DncEntry.number).order_by(DncEntry.added_at)))


class InterruptionGate:
    """Allows the bot to interrupt the caller at most once per caller turn."""

    def __init__(self) -> None:
        self._used = False

    def new_turn(self) -> None:
        self._used = False

    def allow(self) -> bool:
        """True the first time in a turn, False afterwards."""
        if self._used:
            return False
        self._used = True
        return True
