"""Real CRM databases for the API tests: a SQLite file, and a fresh database on the
PostgreSQL server ``make test`` starts (``TIERLINE_TEST_PG_URL``), filled with calls decided
by the real text pipeline (shipped NLU and tier models) through :class:`CallStore`."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from tierline.agent.policy import RoutingPolicy
from tierline.agent.session import CallSession, Models
from tierline.crm.db import Database, forget_all, open_database
from tierline.crm.store import CallStore
from tierline.segmentation.features import parse_customer
from tierline.segmentation.outcomes import remember_call

REQUIRE_PG_ENV = "TIERLINE_REQUIRE_POSTGRES"
PG_URL_ENV = "TIERLINE_TEST_PG_URL"
PG_URL = os.environ.get(PG_URL_ENV,
                        "postgresql+psycopg://tierline:tierline@127.0.0.1:5432/tierline")
HOSTILE = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>'
INJECTION = "Robert'); DROP TABLE customers;--"
CUSTOMERS = {
    "C1001": {"id": "C1001", "name": "华东物流", "browse_duration": 45, "click_times": 80,
              "consult_count": 3, "contract_value": 0, "renewal_rate": 0,
              "response_speed": 2, "complaint_count": 0, "referral_count": 0},
    "C1007": {"id": "C1007", "name": HOSTILE, "contract_value": 300000, "renewal_rate": 0.8,
              "complaint_count": 2},
    "C2000": {"id": "C2000", "name": INJECTION, "contract_value": 0},
}
CALLS = {
    "high-call": ("C1001", "13800138000",
                  ["你好，我们想采购一套客服系统。", "我们的预算是七十万。",
                   "我们的员工有两千人。"]),
    "angry-call": ("C1007", "13900139000",
                   [f"{HOSTILE}你们的系统有什么问题", "我非常生气，我要投诉！"]),
    "quiet-call": ("C2000", None, [f"{INJECTION} 我的电话是13700137000，回头再说吧"]),
}


def pg_reachable() -> str | None:
    """Why PostgreSQL cannot be used here, or None when it can."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "psycopg is not installed (the `server` extra)"
    from sqlalchemy import create_engine, text

    try:
        with create_engine(PG_URL).connect() as con:
            con.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - any failure to connect means: skip
        return f"no PostgreSQL at {PG_URL.split('@')[-1]} ({type(exc).__name__}); " \
               "`make postgres` starts one"
    return None


def require_pg() -> None:
    """Skip without a PostgreSQL server; fail under ``TIERLINE_REQUIRE_POSTGRES=1`` (set by
    ``make test``, which starts one)."""
    why = pg_reachable()
    if why is None:
        return
    if os.environ.get(REQUIRE_PG_ENV, "") not in ("", "0"):
        pytest.fail(f"{why} ({REQUIRE_PG_ENV}=1)", pytrace=False)
    pytest.skip(why)


@contextmanager
def fresh_pg() -> Iterator[str]:
    """A throw-away database on the test server, dropped afterwards."""
    from sqlalchemy import create_engine, text

    name = "tierline_t_" + secrets.token_hex(4)
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as con:
        con.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_URL.rsplit("/", 1)[0] + "/" + name
    try:
        yield url
    finally:
        forget_all()
        _drop(admin, name)
        admin.dispose()


def _drop(admin, name: str, tries: int = 10) -> None:
    """Drop a test database. FORCE ends our own leftover connections; a connection of another
    role (an autovacuum worker that just started on the new database) cannot be ended
    without pg_signal_backend (`make postgres` grants it), so it is waited out."""
    import time

    from sqlalchemy import text
    from sqlalchemy.exc import ProgrammingError

    for attempt in range(tries):
        try:
            with admin.connect() as con:
                con.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            return
        except ProgrammingError:
            if attempt == tries - 1:
                raise
            time.sleep(0.5)


def fill(db: Database, nlu) -> dict[str, dict]:
    """The sample calls decided and written turn by turn; their JSON records by call id."""
    store = CallStore(db)
    records = {}
    for call_id, (customer_id, phone, texts) in CALLS.items():
        customer = parse_customer(CUSTOMERS[customer_id])
        session = CallSession(Models(nlu=nlu), customer, {"id": call_id}, RoutingPolicy())
        rec = store.start_call(session.record.call, customer, phone=phone,
                               initial_tier=session.record.initial_tier,
                               model_version="test+layer0")
        for i, text in enumerate(texts):
            turn = session.on_text(text, start_s=3.0 * i, end_s=3.0 * i + 2.0)
            rec.turn(turn, session.route)
        rec.finish(session.record.to_dict())
        remember_call(call_id, session.scorer, customer_id, path=db.url,
                      turns=len(session.record.turns))  # for the outcome feedback
        records[call_id] = session.record.to_dict()
    return records


@contextmanager
def database(kind: str, tmp_path) -> Iterator[Database]:
    """An empty, migrated CRM database of ``kind`` (sqlite or postgresql)."""
    if kind == "sqlite":
        yield open_database(tmp_path / "crm.sqlite3")
        return
    require_pg()
    with fresh_pg() as url:
        yield open_database(url)
