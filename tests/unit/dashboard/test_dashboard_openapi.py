"""Schemathesis against the served OpenAPI schema: generated requests (valid and invalid) to
every route of the API over a real SQLite CRM, with a token that has every scope; no answer
may be a server error or off its documented schema, status codes or content type."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

schemathesis = pytest.importorskip("schemathesis")
from helpers.crm import fill  # noqa: E402
from hypothesis import HealthCheck, settings  # noqa: E402

from tierline.crm.db import open_database  # noqa: E402
from tierline.dashboard.api import create_app  # noqa: E402
from tierline.dashboard.auth import Tokens, parse_tokens  # noqa: E402
from tierline.nlu.pipeline import Nlu  # noqa: E402

TOKEN = "schema-token-0123456789"
_DB = open_database(Path(tempfile.mkdtemp(prefix="tierline-schema-")) / "crm.sqlite3")
fill(_DB, Nlu())
APP = create_app(_DB, Tokens(parse_tokens(f"{TOKEN}:read,feedback,pii")))
schema = schemathesis.openapi.from_asgi("/openapi.json", APP).exclude(
    path="/api/live/stream")  # an endless stream: covered by test_crm_api


@schema.parametrize()
@settings(max_examples=25, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
def test_api_answers_within_its_schema(case):
    case.call_and_validate(headers={"Authorization": f"Bearer {TOKEN}"})
