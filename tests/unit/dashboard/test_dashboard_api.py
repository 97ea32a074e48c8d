"""The CRM API on real databases — a SQLite file and a fresh PostgreSQL database — filled by
the real text pipeline: tokens and scopes, masking, the JSON contract read back, the queue,
feedback into the online learning, the live stream, hostile and oversized input."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from helpers.crm import CALLS, HOSTILE, INJECTION, database, fill
from sqlalchemy import func, select

from tierline.crm.models import AuditEntry, Call, Customer, TierHistory
from tierline.dashboard.api import MAX_BODY, create_app
from tierline.dashboard.auth import Tokens, parse_tokens
from tierline.nlu.pipeline import Nlu

READ = "reader-token-0123456789"
WRITE = "writer-token-0123456789"
PII = "pii-token-0123456789abcd"
TOKENS = f"{READ}:read {WRITE} {PII}:read,feedback,pii"


@pytest.fixture(scope="module")
def nlu():
    return Nlu()


@pytest.fixture(params=["sqlite", "postgresql"])
def api(request, tmp_path, nlu):
    with database(request.param, tmp_path) as db:
        records = fill(db, nlu)
        client = TestClient(create_app(db, Tokens(parse_tokens(TOKENS))))
        client.db, client.records = db, records
        yield client


def get(client, path, token=READ, **kw):
    return client.get(path, headers={"Authorization": f"Bearer {token}"}, **kw)


def post(client, path, body, token=WRITE):
    return client.post(path, headers={"Authorization": f"Bearer {token}"}, json=body)


PATHS = ["/api/customers", "/api/customers/C1001", "/api/calls", "/api/calls/high-call",
         "/api/calls/high-call/plots", "/api/live", "/api/queue"]


def test_every_route_needs_a_valid_token(api):
    for path in PATHS:
        assert api.get(path).status_code == 401, path
        assert api.get(path).headers["www-authenticate"] == "Bearer"
        assert get(api, path, token="wrong-token-0123456789").status_code == 401, path
        assert get(api, path, token=READ).status_code == 200, path
    assert api.get("/api/health").json()["status"] == "ok"  # the one open route
    # a read-only token may not write
    r = post(api, "/api/feedback/outcome", {"call_id": "high-call", "outcome": "converted"},
             token=READ)
    assert r.status_code == 403 and "feedback" in r.json()["detail"]
    assert post(api, "/api/queue/high-call/take", None, token=READ).status_code == 403


def test_calls_read_back_as_the_json_contract(api):
    for call_id, record in api.records.items():
        detail = get(api, f"/api/calls/{call_id}", token=PII).json()
        assert detail["record"]["turns"] == record["turns"], call_id
        assert detail["record"]["final_tier"] == record["final_tier"]
        assert detail["record"]["route"] == record["route"]
        assert len(detail["decisions"]) == len(record["turns"])
        assert [a["kind"] for a in detail["audit"]][0] == "call_started"
        assert all(a["model_version"] == "test+layer0" for a in detail["audit"])
    high = get(api, "/api/calls/high-call").json()
    assert high["final_tier"] == "high" and high["route"]["queue"] == "senior_sales"
    assert [h["source"] for h in high["tier_history"]] == ["initial", "model", "model", "model"]
    listed = get(api, "/api/calls", params={"tier": "high"}).json()
    assert [c["id"] for c in listed["items"]] == ["high-call"] and listed["total"] == 1
    plots = get(api, "/api/calls/angry-call/plots").json()
    assert plots["tier"].startswith("<svg") and "<script" not in plots["tier"] + plots["arousal"]


def test_numbers_are_masked_without_the_pii_scope(api):
    masked = get(api, "/api/calls/high-call").json()
    assert masked["phone"] == "+86 138****8000"
    quiet = get(api, "/api/calls/quiet-call").json()["record"]["turns"][0]["text"]
    assert "13700137000" not in quiet and "137****7000" in quiet
    full = get(api, "/api/calls/quiet-call", token=PII).json()
    assert "13700137000" in full["record"]["turns"][0]["text"]
    assert get(api, "/api/calls/high-call", token=PII).json()["phone"] == "+8613800138000"
    # searching by number is for pii tokens only
    assert get(api, "/api/customers", params={"q": "13800138000"}).json()["total"] == 0
    found = get(api, "/api/customers", params={"q": "13800138000"}, token=PII).json()
    assert [c["id"] for c in found["items"]] == ["C1001"]


def test_customer_search_and_detail_keep_hostile_names_as_data(api):
    hits = get(api, "/api/customers", params={"q": "华东"}).json()
    assert [c["id"] for c in hits["items"]] == ["C1001"] and hits["items"][0]["last_tier"]
    # LIKE wildcards are literal: "_" finds only the name with "__pwned" in it
    for q, n in (("' OR 1=1 --", 0), ("%", 0), ("_", 1), ("\\", 0), (INJECTION, 1)):
        r = get(api, "/api/customers", params={"q": q})
        assert r.status_code == 200
        assert r.json()["total"] == n, q
    assert get(api, "/api/customers").json()["total"] == 3  # nothing dropped
    hostile = get(api, "/api/customers/C1007").json()
    assert hostile["name"] == HOSTILE and hostile["features"]["contract_value"] == 300000
    assert [h["source"] for h in hostile["tier_history"]][0] == "initial"
    with api.db.session() as s:
        s.get(Customer, "C2000").tags = ["重点", "vip"]
    tagged = get(api, "/api/customers", params={"q": "重点"}).json()
    assert [c["id"] for c in tagged["items"]] == ["C2000"]
    assert get(api, "/api/customers/nobody").status_code == 404
    assert get(api, "/api/customers/" + "x" * 300).status_code == 422


def test_the_queue_and_taking_a_call(api):
    items = get(api, "/api/queue").json()["items"]
    assert {c["id"] for c in items} == {"high-call", "angry-call"}
    angry = next(c for c in items if c["id"] == "angry-call")
    assert angry["handoff"]["queue"] == "care" and angry["handoff"]["last_utterances"]
    assert post(api, "/api/queue/angry-call/take", None).json()["queue_state"] == "taken"
    assert post(api, "/api/queue/angry-call/take", None).status_code == 409
    assert post(api, "/api/queue/quiet-call/take", None).status_code == 409
    assert post(api, "/api/queue/nope/take", None).status_code == 404
    assert [c["id"] for c in get(api, "/api/queue").json()["items"]] == ["high-call"]


def test_feedback_reaches_the_online_learning_and_the_audit_log(api):
    r = post(api, "/api/feedback/outcome", {"call_id": "high-call", "outcome": "converted"})
    assert r.status_code == 200, r.text
    assert r.json()["pending"] == 1 and r.json()["needed"] == 20
    with api.db.session() as s:
        assert s.get(Call, "high-call").outcome == "converted"
        kinds = list(s.scalars(select(AuditEntry.kind).where(AuditEntry.call_id == "high-call")))
        assert "outcome" in kinds
    # a human tier: kept in the history; medium cannot teach the layer and says so
    r = post(api, "/api/feedback/tier", {"call_id": "quiet-call", "tier": "medium",
                                         "note": HOSTILE}).json()
    assert r["learned"] is None and "medium" in r["not_learned_because"]
    r = post(api, "/api/feedback/tier", {"call_id": "angry-call", "tier": "churn_risk"}).json()
    assert r["learned"]["pending"] == 2
    with api.db.session() as s:
        human = s.scalars(select(TierHistory).where(TierHistory.source == "human")).all()
        assert {(h.call_id, h.tier) for h in human} == {("quiet-call", "medium"),
                                                        ("angry-call", "churn_risk")}
        assert any(h.note == HOSTILE for h in human)


@pytest.mark.parametrize("body", [
    {"call_id": "high-call", "outcome": "bought"},
    {"call_id": "high-call"},
    {"call_id": "", "outcome": "lost"},
    {"call_id": "high-call", "outcome": "lost", "extra": 1},
    {"call_id": "x" * 201, "outcome": "lost"},
    ["high-call", "lost"],
])
def test_bad_bodies_are_422_and_change_nothing(api, body):
    before = _counts(api)
    r = post(api, "/api/feedback/outcome", body)
    assert r.status_code == 422, r.text
    assert _counts(api) == before


def test_unknown_calls_and_repeated_outcomes(api):
    before = _counts(api)
    assert post(api, "/api/feedback/outcome", {"call_id": "nope", "outcome": "lost"}
                ).status_code == 404
    assert post(api, "/api/feedback/tier", {"call_id": "nope", "tier": "low"}).status_code == 404
    assert _counts(api) == before


def test_oversized_and_malformed_requests_store_nothing(api):
    before = _counts(api)
    big = {"call_id": "high-call", "tier": "low", "note": "x" * (MAX_BODY + 10)}
    r = post(api, "/api/feedback/tier", big)
    assert r.status_code == 413
    r = api.post("/api/feedback/tier", content=b"{not json",
                 headers={"Authorization": f"Bearer {WRITE}",
                          "Content-Type": "application/json"})
    assert r.status_code == 422
    gbk = json.dumps({"call_id": "high-call", "tier": "low", "note": "客户说错了"},
                     ensure_ascii=False).encode("gbk")  # not UTF-8: refused, not guessed
    r = api.post("/api/feedback/tier", content=gbk,
                 headers={"Authorization": f"Bearer {WRITE}",
                          "Content-Type": "application/json"})
    assert r.status_code == 400 and "parsing the body" in r.json()["detail"]
    assert _counts(api) == before


def test_the_live_stream_replays_decisions_after_a_cursor(api):
    with api.stream("GET", "/api/live/stream", params={"after": 0},
                    headers={"Authorization": f"Bearer {READ}"}) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        events = []
        for line in r.iter_lines():
            if line.startswith("data: "):
                events.append(json.loads(line[6:]))
            if sum(e["kind"] == "call_ended" for e in events) == len(CALLS):
                break
    turns = [e for e in events if e["kind"] == "turn"]
    assert len(turns) == sum(len(t) for _, _, t in CALLS.values())
    assert [e["id"] for e in events] == sorted(e["id"] for e in events)
    high = [e["detail"]["tier"] for e in turns if e["call_id"] == "high-call"]
    assert high[-1] == "high" and len(set(high)) > 1  # the tier moved during the call
    quiet = next(e for e in turns if e["call_id"] == "quiet-call")
    assert "13700137000" not in quiet["text"]  # masked for a token without pii


def test_the_openapi_schema_is_served(api):
    schema = api.get("/openapi.json").json()
    assert {"/api/customers", "/api/calls/{call_id}", "/api/live/stream", "/api/queue",
            "/api/feedback/outcome", "/api/feedback/tier"} <= set(schema["paths"])


def _counts(api) -> tuple[int, ...]:
    with api.db.session() as s:
        return tuple(s.scalar(select(func.count()).select_from(m))
                     for m in (Customer, Call, TierHistory, AuditEntry))
