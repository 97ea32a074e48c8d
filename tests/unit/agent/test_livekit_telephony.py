"""livekit-api requests over HTTP to a local Twirp-compatible server that records them.

The server speaks LiveKit's Twirp wire format (POST /twirp/livekit.<Service>/<Method>,
protobuf bodies, JSON errors with ``meta``); the requests are asserted field by field, so
these tests check what a real LiveKit server would receive from `tierline`.
"""

from __future__ import annotations

import asyncio
import json
import threading
from dataclasses import dataclass, field

import jwt
import pytest
from aiohttp import web
from helpers import paths
from livekit import api
from livekit.protocol import agent_dispatch, sip

from tierline.agent.cli import main
from tierline.agent.livekit.config import parse_config
from tierline.agent.livekit.telephony import Telephony, handoff_headers
from tierline.agent.policy import RouteDecision
from tierline.agent.records import CallRecord
from tierline.segmentation.records import TierUpdate

KEY, SECRET = "devkey", "a-secret-long-enough-for-hs256-signing!!"

REQUESTS = {
    "TransferSIPParticipant": sip.TransferSIPParticipantRequest,
    "CreateSIPParticipant": sip.CreateSIPParticipantRequest,
    "CreateSIPInboundTrunk": sip.CreateSIPInboundTrunkRequest,
    "CreateSIPOutboundTrunk": sip.CreateSIPOutboundTrunkRequest,
    "CreateSIPDispatchRule": sip.CreateSIPDispatchRuleRequest,
    "ListSIPInboundTrunk": sip.ListSIPInboundTrunkRequest,
    "ListSIPOutboundTrunk": sip.ListSIPOutboundTrunkRequest,
    "ListSIPDispatchRule": sip.ListSIPDispatchRuleRequest,
    "CreateDispatch": agent_dispatch.CreateAgentDispatchRequest,
}


@dataclass
class Seen:
    service: str
    method: str
    headers: dict[str, str]
    request: object


@dataclass
class TwirpServer:
    """A Twirp endpoint on 127.0.0.1 with scripted answers per method."""

    answers: dict[str, list] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)
    port: int = 0

    def methods(self) -> list[str]:
        return [s.method for s in self.seen]

    async def handle(self, request: web.Request) -> web.Response:
        service, method = request.match_info["service"], request.match_info["method"]
        body = await request.read()
        message = REQUESTS[method].FromString(body)
        self.seen.append(Seen(service, method, dict(request.headers), message))
        queue = self.answers.get(method) or []
        answer = queue.pop(0) if queue else None
        if answer is None:
            return web.json_response({"code": "unimplemented", "msg": f"no answer for {method}"},
                                     status=501)
        if isinstance(answer, tuple):  # (http status, code, msg, meta)
            status, code, msg, meta = answer
            return web.json_response({"code": code, "msg": msg, "meta": meta}, status=status)
        return web.Response(body=answer.SerializeToString(),
                            content_type="application/protobuf")


@pytest.fixture
def twirp():
    server = TwirpServer()
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    state: dict = {}

    async def start() -> None:
        app = web.Application()
        app.router.add_post("/twirp/{service}/{method}", server.handle)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        server.port = site._server.sockets[0].getsockname()[1]
        state["runner"] = runner

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(start())
        ready.set()
        loop.run_forever()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert ready.wait(10)
    yield server
    asyncio.run_coroutine_threadsafe(state["runner"].cleanup(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)


CONFIG = {
    "worker": {"agent_name": "tierline-test"},
    "queues": {
        "senior_sales": {"target": "sip:senior@pbx.test", "fallback": "general"},
        "general": {"target": "tel:+861000000009"},
        "retention": {"fallback": ""},
    },
    "sip": {"inbound_numbers": ["+861000000000"], "allowed_addresses": ["192.0.2.0/24"],
            "outbound_address": "sip.provider.test", "outbound_numbers": ["+861000000000"],
            "outbound_trunk_id": "ST_out", "ringing_timeout_s": 20,
            "transfer_ringing_timeout_s": 25},
}


def run(port: int, action, dnc=None):
    """Run ``action(telephony)`` against the test server (the API client needs a loop)."""
    async def go():
        lkapi = api.LiveKitAPI(f"http://127.0.0.1:{port}", KEY, SECRET)
        try:
            return await action(Telephony(lkapi, parse_config(CONFIG, "test.toml"), dnc))
        finally:
            await lkapi.aclose()
    return asyncio.run(go())


def claims(seen: Seen) -> dict:
    token = seen.headers["Authorization"].removeprefix("Bearer ")
    return jwt.decode(token, SECRET, algorithms=["HS256"])


def record() -> CallRecord:
    tier = TierUpdate("high", {"high": 0.8, "medium": 0.1, "low": 0.05, "churn_risk": 0.05},
                      ("预算一百二十万",))
    rec = CallRecord(call={"id": "c1", "customer": "C1001"}, initial_tier=tier)
    rec.route = RouteDecision("transfer", "senior_sales", 1, "high-value caller (预算一百二十万)",
                              "sip:senior@pbx.test")
    return rec


def ok_transfer() -> sip.TransferSIPParticipantResponse:
    return sip.TransferSIPParticipantResponse(transfer_id="TR_1",
                                             status=sip.STS_TRANSFER_SUCCESSFUL,
                                             reason=sip.STR_COMPLETED)


def test_handoff_headers_are_ascii_and_carry_tier_reason_summary():
    headers = handoff_headers(record())
    assert headers["X-Tierline-Tier"] == "high"
    assert set(headers) == {"X-Tierline-Tier", "X-Tierline-Reason", "X-Tierline-Summary"}
    for value in headers.values():
        value.encode("ascii")  # SIP headers: percent-encoded, never raw UTF-8
    assert "high-value caller" in headers["X-Tierline-Reason"]
    assert "%E9%A2%84%E7%AE%97" in headers["X-Tierline-Reason"]  # 预算, percent-encoded
    assert "tier=high" in headers["X-Tierline-Summary"]
    assert "customer=C1001" in headers["X-Tierline-Summary"]


def test_transfer_sends_target_headers_timeout_and_admin_grant(twirp):
    twirp.answers["TransferSIPParticipant"] = [ok_transfer()]
    headers = handoff_headers(record())
    outcome = run(twirp.port,
                   lambda t: t.transfer("call-1", "sip_caller", "senior_sales", headers))
    assert outcome.result == "transferred"
    assert twirp.methods() == ["TransferSIPParticipant"]
    seen = twirp.seen[0]
    assert seen.service == "livekit.SIP"
    req = seen.request
    assert (req.room_name, req.participant_identity, req.transfer_to) == (
        "call-1", "sip_caller", "sip:senior@pbx.test")
    assert dict(req.headers) == headers
    assert req.ringing_timeout.seconds == 25
    grants = claims(seen)
    assert grants["sip"]["call"] is True
    assert grants["video"]["roomAdmin"] is True and grants["video"]["room"] == "call-1"


def test_failed_status_without_exception_is_retried_once(twirp):
    failed = sip.TransferSIPParticipantResponse(
        transfer_id="TR_1", status=sip.STS_TRANSFER_FAILED, reason=sip.STR_RINGING_TIMEOUT,
        sip_status=sip.SIPStatus(code=sip.SIP_STATUS_REQUEST_TIMEOUT))
    twirp.answers["TransferSIPParticipant"] = [failed, ok_transfer()]
    retries = []

    async def on_retry() -> None:
        retries.append(1)

    outcome = run(twirp.port, lambda t: t.transfer(
        "call-1", "sip_caller", "senior_sales", {}, on_retry))
    assert outcome.result == "transferred"
    assert [a.status for a in outcome.attempts] == ["STS_TRANSFER_FAILED",
                                                    "STS_TRANSFER_SUCCESSFUL"]
    assert outcome.attempts[0].detail == "STR_RINGING_TIMEOUT"
    assert outcome.attempts[0].sip_status == 408
    assert retries == [1]
    assert len(twirp.seen) == 2


def test_two_failures_fall_back_to_the_fallback_queue(twirp):
    err = (400, "failed_precondition", "transfer failed",
           {"sip_status_code": "486", "sip_status": "Busy Here",
            "sip_transfer_reason": "STR_REJECTED"})
    twirp.answers["TransferSIPParticipant"] = [err, err, ok_transfer()]
    outcome = run(twirp.port,
                   lambda t: t.transfer("call-1", "sip_caller", "senior_sales", {}))
    assert outcome.result == "fallback_transferred"
    targets = [s.request.transfer_to for s in twirp.seen]
    assert targets == ["sip:senior@pbx.test", "sip:senior@pbx.test", "tel:+861000000009"]
    assert outcome.attempts[0].sip_status == 486 and not outcome.attempts[0].ok


def test_missing_target_files_a_callback_without_any_request(twirp):
    outcome = run(twirp.port,
                   lambda t: t.transfer("call-1", "sip_caller", "retention", {}))
    assert outcome.result == "callback"
    assert [a.status for a in outcome.attempts] == ["no_target"]
    assert twirp.seen == []


def test_dial_dispatches_the_agent_then_waits_for_answer(twirp):
    twirp.answers["CreateDispatch"] = [agent_dispatch.AgentDispatch(id="AD_1")]
    twirp.answers["CreateSIPParticipant"] = [sip.SIPParticipantInfo(
        participant_identity="callee", room_name="out-1", sip_call_id="SCL_1")]
    outcome = run(twirp.port, lambda t: t.dial(
        "+8613800000000", "out-1", "callee", agent_name="tierline-test",
        metadata='{"customer": {"id": "C9"}}'))
    assert outcome.outcome == "answered" and outcome.sip_call_id == "SCL_1"
    assert twirp.methods() == ["CreateDispatch", "CreateSIPParticipant"]
    dispatch = twirp.seen[0].request
    assert (dispatch.agent_name, dispatch.room) == ("tierline-test", "out-1")
    assert json.loads(dispatch.metadata) == {"customer": {"id": "C9"}}
    req = twirp.seen[1].request
    assert (req.sip_trunk_id, req.sip_call_to, req.room_name, req.participant_identity) == (
        "ST_out", "+8613800000000", "out-1", "callee")
    assert req.wait_until_answered is True
    assert req.ringing_timeout.seconds == 20


@pytest.mark.parametrize(("code", "outcome"), [
    ("486", "busy"), ("480", "no_answer"), ("603", "rejected"), ("404", "invalid_number"),
    ("500", "failed"),
])
def test_dial_failures_map_to_outcomes(twirp, code, outcome):
    twirp.answers["CreateSIPParticipant"] = [
        (400, "unavailable", "call failed", {"sip_status_code": code, "sip_status": "x"})]
    result = run(twirp.port,
                  lambda t: t.dial("+8613800000000", "out-1", ringing_timeout_s=5))
    assert result.outcome == outcome
    assert result.sip_status == int(code)
    assert twirp.seen[0].request.ringing_timeout.seconds == 5


def test_sip_setup_cli_creates_trunks_and_dispatch_rule_once(twirp, tmp_path, monkeypatch,
                                                             capsys):
    cfg = tmp_path / "lk.toml"
    cfg.write_text('[worker]\nagent_name = "tierline-test"\n[sip]\n'
                   'inbound_numbers = ["+861000000000"]\nroom_prefix = "call-"\n'
                   'outbound_address = "sip.provider.test"\n', encoding="utf-8")
    monkeypatch.setenv("LIVEKIT_URL", f"ws://127.0.0.1:{twirp.port}")
    monkeypatch.setenv("LIVEKIT_API_KEY", KEY)
    monkeypatch.setenv("LIVEKIT_API_SECRET", SECRET)
    twirp.answers = {
        "ListSIPInboundTrunk": [sip.ListSIPInboundTrunkResponse()],
        "CreateSIPInboundTrunk": [sip.SIPInboundTrunkInfo(sip_trunk_id="ST_in",
                                                          name="tierline-inbound")],
        "ListSIPDispatchRule": [sip.ListSIPDispatchRuleResponse()],
        "CreateSIPDispatchRule": [sip.SIPDispatchRuleInfo(sip_dispatch_rule_id="SDR_1")],
        "ListSIPOutboundTrunk": [sip.ListSIPOutboundTrunkResponse()],
        "CreateSIPOutboundTrunk": [sip.SIPOutboundTrunkInfo(sip_trunk_id="ST_out")],
    }
    assert main(["sip", "setup", "--config", str(cfg)]) == 0
    out = capsys.readouterr().out
    assert "created inbound_trunk" in out and "ST_in" in out and "SDR_1" in out
    by_method = {s.method: s.request for s in twirp.seen}
    trunk = by_method["CreateSIPInboundTrunk"].trunk
    assert list(trunk.numbers) == ["+861000000000"]
    rule = by_method["CreateSIPDispatchRule"].dispatch_rule
    assert list(rule.trunk_ids) == ["ST_in"]
    assert rule.rule.dispatch_rule_individual.room_prefix == "call-"
    assert [a.agent_name for a in rule.room_config.agents] == ["tierline-test"]
    assert by_method["CreateSIPOutboundTrunk"].trunk.address == "sip.provider.test"
    assert claims(twirp.seen[0])["sip"]["admin"] is True

    # second run: everything exists, nothing is created again
    twirp.seen.clear()
    twirp.answers = {
        "ListSIPInboundTrunk": [sip.ListSIPInboundTrunkResponse(items=[
            sip.SIPInboundTrunkInfo(sip_trunk_id="ST_in", name="tierline-inbound")])],
        "ListSIPDispatchRule": [sip.ListSIPDispatchRuleResponse(items=[
            sip.SIPDispatchRuleInfo(sip_dispatch_rule_id="SDR_1", name="tierline-dispatch")])],
        "ListSIPOutboundTrunk": [sip.ListSIPOutboundTrunkResponse(items=[
            sip.SIPOutboundTrunkInfo(sip_trunk_id="ST_out", name="tierline-outbound")])],
    }
    assert main(["sip", "setup", "--config", str(cfg)]) == 0
    assert [m for m in twirp.methods() if m.startswith("Create")] == []


def test_sip_commands_without_server_exit_2(monkeypatch, capsys, tmp_path):
    for name in ("LIVEKIT_URL", "LIVEKIT_API_KEY", "LIVEKIT_API_SECRET"):
        monkeypatch.delenv(name, raising=False)
    assert main(["sip", "setup", "--config", str(paths.LIVEKIT_TOML)]) == 2
    assert "LIVEKIT_URL" in capsys.readouterr().err
    bad = tmp_path / "bad.toml"
    bad.write_text("[queues.vip]\ntarget = 'sip:x@y'\n", encoding="utf-8")
    assert main(["sip", "setup", "--config", str(bad)]) == 2
    assert "unknown queue 'vip'" in capsys.readouterr().err


@pytest.mark.parametrize("listed", ["13800000000", "+86 138-0000-0000"])
def test_dial_refuses_a_do_not_call_number_before_any_request(twirp, tmp_path, listed):
    from tierline.agent.dialog.compliance import DncList
    from tierline.agent.outbound import DialRefused

    dnc = DncList(tmp_path / "dnc.sqlite3")
    dnc.add(listed, call_id="c1", phrase="以后别再打过来了")
    with pytest.raises(DialRefused, match="do-not-call"):
        run(twirp.port, lambda t: t.dial("+8613800000000", "out-1", agent_name="x"), dnc)
    with pytest.raises(DialRefused):
        run(twirp.port, lambda t: t.dial("sip:+8613800000000@trunk.test", "out-1"), dnc)
    assert twirp.seen == []  # nothing reached the server
