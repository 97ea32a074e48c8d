"""Open the CRM database and bring its schema to the current revision.

:func:`open_database` is the one entry: it resolves the database (a URL, a SQLite file, or the
default of :mod:`tierline.core.database`), runs the Alembic migrations the database has not
seen yet (once per process and database), and hands back sessions. SQLite files are created
on first use with mode 0600 (:func:`tierline.core.database.engine_for`).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from tierline.core.database import (
    DatabaseError,
    database_url,
    describe,
    engine_for,
    redacted,
    sqlite_file,
)

MIGRATIONS = Path(__file__).parent / "migrations"


@dataclass(frozen=True)
class Database:
    """An opened CRM database.

    Attributes:
        url: Its SQLAlchemy URL.
        engine: The process's engine for it.
        sessions: Session factory (``with db.session() as s: …``).
    """

    url: str
    engine: Engine
    sessions: sessionmaker

    @contextlib.contextmanager
    def session(self) -> Iterator[Session]:
        """A session committed at the end of the block, rolled back on an error."""
        with self.sessions.begin() as session:
            yield session

    @property
    def shown(self) -> str:
        """The database for messages: its file, or its URL without the password."""
        file = sqlite_file(self.url)
        return str(file) if file is not None else redacted(self.url)


_OPEN: dict[str, Database] = {}
_LOCK = threading.Lock()


def open_database(where: str | Path | None = None) -> Database:
    """The CRM database, migrated to the current schema.

    Args:
        where: URL, SQLite file, or None (``TIERLINE_DB_URL``, else
            ``$TIERLINE_HOME/crm.sqlite3``).

    Raises:
        DatabaseError: the database cannot be reached, or its schema cannot be brought up
            to date.
    """
    url = database_url(where)
    with _LOCK:
        db = _OPEN.get(url)
        if db is not None:
            return db
        engine = engine_for(url)
        try:
            migrate(engine)
        except SQLAlchemyError as exc:
            raise DatabaseError(f"cannot open the CRM database {redacted(url)}: "
                                f"{describe(exc)}") from None
        db = _OPEN[url] = Database(url, engine, sessionmaker(engine, expire_on_commit=False))
        return db


def head_revision() -> str:
    """The newest migration's revision id."""
    return _script().get_current_head()


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def migrate(engine: Engine) -> bool:
    """Upgrade the database to the newest revision; True when anything ran.

    Two processes opening a fresh database at once (a replay and the server) race to create
    it: the loser finds the winner's schema and carries on.
    """
    head = head_revision()
    if current_revision(engine) == head:
        return False
    from alembic import command

    config = _config()
    try:
        with engine.begin() as conn:
            config.attributes["connection"] = conn
            command.upgrade(config, "head")
    except (OperationalError, SQLAlchemyError):
        if current_revision(engine) != head:
            raise
    return True


def _config():
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def _script():
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_config())


def forget_all() -> None:
    """Drop the opened databases (tests that reuse a URL after removing its file)."""
    from tierline.core.database import dispose_all

    with _LOCK:
        _OPEN.clear()
    dispose_all()

