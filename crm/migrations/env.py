"""Alembic environment: migrate the connection :func:`tierline.crm.db.migrate` hands over, or
the database of ``TIERLINE_DB_URL`` / ``$TIERLINE_HOME/crm.sqlite3`` when run by alembic."""

from __future__ import annotations

from alembic import context

from tierline.core.database import engine_for
from tierline.crm.models import Base

target_metadata = Base.metadata


def _run(connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata,
                      render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    with engine_for(context.config.get_main_option("sqlalchemy.url") or None).connect() as conn:
        _run(conn)
