"""Where Tierline's database is, and one SQLAlchemy engine per database and process.

Every store of the project (the CRM record of calls and customers, the outcome store of the
online learning, the do-not-call list) lives in one database:

- ``TIERLINE_DB_URL`` when set (``postgresql+psycopg://user:pw@127.0.0.1/tierline`` for
  several workers on one database), else
- the SQLite file ``$TIERLINE_HOME/crm.sqlite3`` (zero set-up; WAL mode, so the dashboard
  reads while a call writes).

A store may be given its own database as a URL or as a plain file path (a SQLite file).
The lower layers (segmentation) and the upper ones (crm, agent) resolve it the same way here.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from tierline.core.errors import TierlineError

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

DB_URL_ENV = "TIERLINE_DB_URL"
DEFAULT_FILE = "crm.sqlite3"


class DatabaseError(TierlineError):
    """The database cannot be reached or opened (bad URL, missing driver, refused login)."""


def home() -> Path:
    """``$TIERLINE_HOME`` or ``~/.cache/tierline`` (the same rule as the model cache)."""
    return Path(os.environ.get("TIERLINE_HOME") or Path.home() / ".cache" / "tierline")


def database_url(where: str | Path | None = None) -> str:
    """The SQLAlchemy URL of a database.

    Args:
        where: A URL (``scheme://…``), a SQLite file path, or None for the default
            (``TIERLINE_DB_URL``, else ``$TIERLINE_HOME/crm.sqlite3``).
    """
    if where is None or str(where) == "":
        where = os.environ.get(DB_URL_ENV) or home() / DEFAULT_FILE
    text = str(where)
    if "://" in text:
        return text
    return f"sqlite:///{Path(text).expanduser().resolve()}"


def sqlite_file(url: str) -> Path | None:
    """The file of a SQLite URL (None for another database or an in-memory one)."""
    prefix = "sqlite:///"
    if not url.startswith(prefix) or url[len(prefix):] in ("", ":memory:"):
        return None
    return Path(url[len(prefix):].split("?", 1)[0])


def redacted(url: str) -> str:
    """The URL without its password, for messages and logs."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - a URL too broken to parse is shown by its scheme
        return url.split("://", 1)[0] + "://…"


_ENGINES: dict[str, Engine] = {}
_LOCK = threading.Lock()


def engine_for(where: str | Path | None = None) -> Engine:
    """The process's engine for a database (created once; SQLite files get WAL mode,
    foreign keys and a busy timeout, their folder is created and a new file is mode 0600).

    Raises:
        DatabaseError: a malformed URL or a missing driver.
    """
    url = database_url(where)
    with _LOCK:
        engine = _ENGINES.get(url)
        if engine is None:
            engine = _ENGINES[url] = _create(url)
        return engine


def _create(url: str) -> Engine:
    from sqlalchemy import create_engine, event
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    file = sqlite_file(url)
    try:
        if file is not None:
            file.parent.mkdir(parents=True, exist_ok=True)
            if not file.exists():  # private from the start: it holds names and numbers
                os.close(os.open(file, os.O_CREAT | os.O_WRONLY, 0o600))
            engine = create_engine(url, connect_args={"timeout": 15},
                                   json_serializer=_json)

            @event.listens_for(engine, "connect")
            def _pragmas(dbapi_connection, _record) -> None:
                cur = dbapi_connection.cursor()
                cur.execute("PRAGMA journal_mode=WAL")
                cur.execute("PRAGMA foreign_keys=ON")
                cur.execute("PRAGMA synchronous=NORMAL")
                cur.close()

            return engine
        return create_engine(url, pool_pre_ping=True, json_serializer=_json)
    except (ArgumentError, NoSuchModuleError, ImportError) as exc:
        raise DatabaseError(f"cannot use database {redacted(url)}: {exc}") from None


def _json(value) -> str:
    """JSON columns keep Chinese as it is (readable, and searchable with LIKE)."""
    return json.dumps(value, ensure_ascii=False)


def dispose_all() -> None:
    """Close every pooled connection (tests, and a process about to fork)."""
    with _LOCK:
        for engine in _ENGINES.values():
            engine.dispose()
        _ENGINES.clear()


def insert_ignore(conn, table, values: dict) -> bool:
    """Insert a row unless its primary key is taken; True when inserted (SQLite and
    PostgreSQL: ``ON CONFLICT DO NOTHING``, so a concurrent writer never overwrites)."""
    return _on_conflict(conn, table, values, update=False)


def upsert(conn, table, values: dict) -> None:
    """Insert a row or replace the non-key columns of the row with its primary key."""
    _on_conflict(conn, table, values, update=True)


def _on_conflict(conn, table, values: dict, update: bool) -> bool:
    name = conn.dialect.name
    if name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:  # pragma: no cover - the two databases Tierline supports
        raise DatabaseError(f"unsupported database {name}")
    stmt = insert(table).values(**values)
    keys = [c.name for c in table.primary_key.columns]
    if update:
        rest = {k: stmt.excluded[k] for k in values if k not in keys}
        stmt = stmt.on_conflict_do_update(index_elements=keys, set_=rest)
    else:
        stmt = stmt.on_conflict_do_nothing(index_elements=keys)
    return conn.execute(stmt).rowcount == 1


def adopt_legacy(where: str | Path | None, legacy: Path, copy) -> int | None:
    """Copy a store's old SQLite file into the default database when it changed since the
    last copy.

    Only the default database adopts (an explicit one is the caller's business). ``copy``
    gets a ``sqlite3`` connection to the old file and an open SQLAlchemy connection to the
    database (one transaction) and returns how many rows it added (it must never overwrite).
    The old file stays where it is, untouched: a process of an older Tierline on the same
    machine keeps using it, and what it adds there is copied in on the next change. The
    table ``legacy_imports`` remembers each file's modification time at its last copy.

    Returns:
        The rows added, or None when there was nothing new to adopt.
    """
    import sqlite3

    from sqlalchemy import select

    if where is not None or not legacy.is_file():
        return None
    mtime = legacy.stat().st_mtime
    engine = engine_for(None)
    LEGACY_METADATA.create_all(engine, checkfirst=True)
    with engine.begin() as conn:
        seen = conn.execute(select(legacy_table.c.mtime)
                            .where(legacy_table.c.path == str(legacy))).scalar()
        if seen is not None and seen >= mtime:
            return None
        old = sqlite3.connect(f"file:{legacy}?mode=ro", uri=True)
        try:
            moved = copy(old, conn)
        finally:
            old.close()
        upsert(conn, legacy_table, {"path": str(legacy), "mtime": mtime})
    return moved


def _legacy_table():
    from sqlalchemy import Column, Float, MetaData, String, Table

    metadata = MetaData()
    return metadata, Table("legacy_imports", metadata, Column("path", String(500),
                                                              primary_key=True),
                           Column("mtime", Float))


LEGACY_METADATA, legacy_table = _legacy_table()


def describe(exc: BaseException) -> str:
    """One line saying why a database operation failed (the driver's words when there are
    some, not SQLAlchemy's notes around them)."""
    inner = getattr(exc, "orig", None) or exc
    text = str(inner).strip()
    return (text.splitlines() or [type(inner).__name__])[0]
