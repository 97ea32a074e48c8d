"""Telephony through livekit-api: SIP trunk set-up, outbound calls, transfers to human queues.

Everything here is a request to the LiveKit server's Twirp API (``/twirp/livekit.SIP/...``).
Transfers carry the handoff in ``X-Tierline-Tier`` / ``-Reason`` / ``-Summary`` SIP headers,
check the status in the response (a FAILED status arrives without an exception), retry once,
then fall back to the queue's fallback queue and finally to a callback ticket. Dialling maps
every way a call can fail to a small set of outcomes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import aiohttp
from google.protobuf.duration_pb2 import Duration
from livekit import api
from livekit.protocol import sip as sip_proto

from tierline.agent.dialog.compliance import DncList
from tierline.agent.livekit.config import LiveKitConfig, SipConfig
from tierline.agent.outbound import permit_dial
from tierline.agent.records import CallRecord

logger = logging.getLogger("tierline.livekit")

HEADER_SAFE = " ;=,.:()[]-_/+<>#%"
MAX_HEADER = 240

DIAL_OUTCOMES = ("answered", "busy", "no_answer", "rejected", "invalid_number",
                 "unreachable", "failed")
_SIP_OUTCOME = {486: "busy", 600: "busy", 480: "no_answer", 408: "no_answer",
                487: "no_answer", 603: "rejected", 403: "rejected", 607: "rejected",
                608: "rejected", 404: "invalid_number", 484: "invalid_number",
                604: "invalid_number", 410: "invalid_number"}


def _header(value: str) -> str:
    """A SIP-header-safe value: ASCII, percent-encoded, bounded."""
    return quote(value, safe=HEADER_SAFE)[:MAX_HEADER]


def handoff_headers(record: CallRecord) -> dict[str, str]:
    """X-Tierline-* headers summarising the call for the human who takes it."""
    route = record.route
    tier = record.final_tier
    ents: dict[str, Any] = {}
    intents: list[str] = []
    for turn in record.turns:
        ents.update({k: v for k, v in turn.entities.items() if v not in (None, "", [])})
        if turn.intent[0] not in intents:
            intents.append(turn.intent[0])
    parts = [f"tier={tier.label}", f"turns={len(record.turns)}"]
    if record.call.get("customer"):
        parts.append(f"customer={record.call['customer']}")
    if intents:
        parts.append("intents=" + ",".join(intents[:4]))
    parts += [f"{k}={v}" for k, v in sorted(ents.items())]
    dialect = record.turns[-1].dialect if record.turns else None
    if dialect and dialect != "unknown":
        parts.append(f"dialect={dialect}")
    if record.turns:
        parts.append(f"last={record.turns[-1].text}")
    return {
        "X-Tierline-Tier": tier.label,
        "X-Tierline-Reason": _header(route.reason if route else "no decision"),
        "X-Tierline-Summary": _header("; ".join(parts)),
    }


@dataclass(frozen=True)
class TransferAttempt:
    """One TransferSIPParticipant request and what came back."""

    queue: str
    target: str
    ok: bool
    status: str
    detail: str = ""
    sip_status: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"queue": self.queue, "target": self.target, "ok": self.ok,
                "status": self.status, "detail": self.detail, "sip_status": self.sip_status}


@dataclass
class TransferOutcome:
    """How a handoff ended.

    Attributes:
        queue: Queue the route decision named.
        result: ``transferred``, ``fallback_transferred``, ``callback`` (ticket filed) or
            ``not_attempted`` (no SIP leg, e.g. an offline run).
        attempts: Every request made, in order.
        headers: The X-Tierline-* headers sent.
        ticket: The callback ticket, when one was filed.
    """

    queue: str
    result: str = "not_attempted"
    attempts: list[TransferAttempt] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    ticket: dict[str, Any] | None = None
    note: str = ""

    @property
    def connected(self) -> bool:
        return self.result in ("transferred", "fallback_transferred")

    def to_dict(self) -> dict[str, Any]:
        return {"queue": self.queue, "result": self.result, "note": self.note,
                "attempts": [a.to_dict() for a in self.attempts], "headers": self.headers,
                "ticket": self.ticket}


@dataclass(frozen=True)
class DialOutcome:
    """How an outbound call ended up.

    Attributes:
        outcome: One of :data:`DIAL_OUTCOMES`.
        number: Number or SIP URI dialled.
        room: Room the callee was put in.
        sip_status: SIP response code when the call failed with one.
        detail: Server message or error.
        participant_identity: The callee's participant identity when answered.
        sip_call_id: LiveKit's SIP call id when answered.
    """

    outcome: str
    number: str
    room: str
    sip_status: int | None = None
    detail: str = ""
    participant_identity: str = ""
    sip_call_id: str = ""

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _duration(seconds: float) -> Duration:
    d = Duration()
    d.FromMilliseconds(round(seconds * 1000))
    return d


def _error_detail(exc: BaseException) -> tuple[str, int | None]:
    if isinstance(exc, api.SipCallError):
        return str(exc), exc.sip_status_code
    if isinstance(exc, api.ServerError):
        return f"{exc.code}: {exc.message}", None
    if isinstance(exc, asyncio.TimeoutError):
        return "request timed out", None
    return f"{type(exc).__name__}: {exc}", None


def dial_outcome_for(exc: BaseException) -> tuple[str, int | None, str]:
    """Map a failed CreateSIPParticipant to (outcome, SIP status, detail)."""
    detail, code = _error_detail(exc)
    if code is not None:
        return _SIP_OUTCOME.get(code, "failed"), code, detail
    if isinstance(exc, api.ServerError):
        if exc.code == api.ServerErrorCode.DEADLINE_EXCEEDED:
            return "no_answer", None, detail
        if exc.code in (api.ServerErrorCode.NOT_FOUND, api.ServerErrorCode.INVALID_ARGUMENT):
            return "invalid_number", None, detail
        return "failed", None, detail
    if isinstance(exc, asyncio.TimeoutError):
        return "no_answer", None, detail
    if isinstance(exc, aiohttp.ClientError | OSError):
        return "unreachable", None, detail
    return "failed", None, detail


class Telephony:
    """SIP operations of one deployment.

    Args:
        lkapi: A ``livekit.api.LiveKitAPI`` (URL and credentials).
        config: The LiveKit configuration (trunks, queues, timeouts).
        dnc: The do-not-call list every dial is checked against (default: the machine's).
    """

    def __init__(self, lkapi: api.LiveKitAPI, config: LiveKitConfig,
                 dnc: DncList | None = None) -> None:
        self.api = lkapi
        self.config = config
        self.dnc = dnc

    @property
    def sip(self) -> SipConfig:
        return self.config.sip

    # ------------------------------------------------------------------ transfers
    async def transfer_once(self, room: str, identity: str, queue: str, target: str,
                            headers: dict[str, str]) -> TransferAttempt:
        """One TransferSIPParticipant; the response status decides, not only exceptions."""
        req = api.TransferSIPParticipantRequest(
            room_name=room, participant_identity=identity, transfer_to=target,
            play_dialtone=self.sip.play_dialtone, headers=headers,
            ringing_timeout=_duration(self.sip.transfer_ringing_timeout_s))
        try:
            resp = await self.api.sip.transfer_sip_participant(req)
        except (api.ServerError, aiohttp.ClientError, OSError, asyncio.TimeoutError) as exc:
            detail, code = _error_detail(exc)
            return TransferAttempt(queue, target, False, "error", detail, code)
        status = sip_proto.SIPTransferStatus.Name(resp.status)
        reason = sip_proto.SIPTransferReason.Name(resp.reason)
        code = int(resp.sip_status.code) if resp.HasField("sip_status") else None
        if resp.status == sip_proto.STS_TRANSFER_FAILED:
            return TransferAttempt(queue, target, False, status, reason, code)
        if resp.status == sip_proto.STS_TRANSFER_ONGOING and resp.transfer_id:
            return TransferAttempt(queue, target, True, status, "accepted, still ongoing", code)
        if resp.status == sip_proto.STS_TRANSFER_ONGOING:
            return TransferAttempt(queue, target, True, "accepted",
                                   "server returned no transfer status", code)
        return TransferAttempt(queue, target, True, status, reason, code)

    async def transfer(self, room: str, identity: str, queue: str, headers: dict[str, str],
                       on_retry: Callable[[], Awaitable[None]] | None = None,
                       ) -> TransferOutcome:
        """Hand the caller to ``queue``: retry once, then its fallback queue, then a ticket.

        Args:
            room: Room of the call.
            identity: The caller's SIP participant identity.
            queue: Queue the route decision named.
            headers: X-Tierline-* handoff headers.
            on_retry: Awaited before the retry (e.g. to tell the caller to hold on).
        """
        outcome = TransferOutcome(queue=queue, headers=headers)
        tried: set[str] = set()
        current = queue
        while current and current not in tried:
            tried.add(current)
            q = self.config.queue(current)
            if not q.target:
                logger.error("transfer target for queue %s is missing from %s", current,
                             self.config.source)
                outcome.attempts.append(TransferAttempt(current, "", False, "no_target",
                                                        "queue has no target in the config"))
            else:
                for attempt in range(2):
                    if attempt and on_retry is not None:
                        await on_retry()
                    result = await self.transfer_once(room, identity, current, q.target,
                                                      headers)
                    outcome.attempts.append(result)
                    if result.ok:
                        outcome.result = ("transferred" if current == queue
                                          else "fallback_transferred")
                        return outcome
                    logger.warning("transfer to %s (%s) failed: %s %s", current, q.target,
                                   result.status, result.detail)
            current = q.fallback
        outcome.result = "callback"
        return outcome

    # ------------------------------------------------------------------ outbound
    async def dial(self, number: str, room: str, identity: str = "", *,
                   ringing_timeout_s: float | None = None, agent_name: str = "",
                   metadata: str = "", trunk_id: str = "") -> DialOutcome:
        """Call ``number`` into ``room`` and wait until it is answered or fails.

        Raises:
            DialRefused: ``number`` is on the do-not-call list (nothing is sent).

        The agent is dispatched to the room first (explicit dispatch by ``agent_name``), so it
        is there when the callee picks up.
        """
        permit_dial(number, self.dnc)  # before any request: a refused number is never dialled
        trunk = trunk_id or self.sip.outbound_trunk_id
        if not trunk:
            return DialOutcome("failed", number, room,
                               detail="no outbound trunk id: run `tierline sip setup` and set "
                                      "[sip] outbound_trunk_id")
        identity = identity or f"callee-{number.lstrip('+')}"
        try:
            if agent_name:
                await self.api.agent_dispatch.create_dispatch(api.CreateAgentDispatchRequest(
                    agent_name=agent_name, room=room, metadata=metadata))
            info = await self.api.sip.create_sip_participant(api.CreateSIPParticipantRequest(
                sip_trunk_id=trunk, sip_call_to=number, room_name=room,
                participant_identity=identity, participant_name=number,
                wait_until_answered=True, play_dialtone=self.sip.play_dialtone,
                ringing_timeout=_duration(ringing_timeout_s or self.sip.ringing_timeout_s)))
        except (api.ServerError, aiohttp.ClientError, OSError, asyncio.TimeoutError) as exc:
            outcome, code, detail = dial_outcome_for(exc)
            logger.warning("dial %s: %s (%s)", number, outcome, detail)
            return DialOutcome(outcome, number, room, code, detail)
        return DialOutcome("answered", number, room, participant_identity=info.participant_identity,
                           sip_call_id=info.sip_call_id)

    # ------------------------------------------------------------------ set-up
    async def setup(self, agent_name: str) -> dict[str, Any]:
        """Create (or find by name) the inbound trunk, dispatch rule and outbound trunk.

        Returns:
            Ids and whether each object was created or already existed.
        """
        s = self.sip
        if not s.inbound_numbers and not s.allowed_addresses:
            raise ValueError(f"{self.config.source}: [sip] needs inbound_numbers or "
                             "allowed_addresses for the inbound trunk")
        result: dict[str, Any] = {}
        existing = await self.api.sip.list_inbound_trunk(api.ListSIPInboundTrunkRequest())
        found = next((t for t in existing.items if t.name == s.trunk_name), None)
        if found is None:
            found = await self.api.sip.create_inbound_trunk(api.CreateSIPInboundTrunkRequest(
                trunk=api.SIPInboundTrunkInfo(
                    name=s.trunk_name, numbers=list(s.inbound_numbers),
                    allowed_addresses=list(s.allowed_addresses),
                    allowed_numbers=list(s.allowed_numbers), auth_username=s.auth_username,
                    auth_password=s.auth_password, krisp_enabled=s.krisp_enabled)))
            result["inbound_trunk"] = {"id": found.sip_trunk_id, "created": True}
        else:
            result["inbound_trunk"] = {"id": found.sip_trunk_id, "created": False}
        trunk_id = found.sip_trunk_id
        rules = await self.api.sip.list_dispatch_rule(api.ListSIPDispatchRuleRequest())
        rule = next((r for r in rules.items if r.name == s.dispatch_rule_name), None)
        if rule is None:
            rule = await self.api.sip.create_dispatch_rule(api.CreateSIPDispatchRuleRequest(
                dispatch_rule=api.SIPDispatchRuleInfo(
                    name=s.dispatch_rule_name, trunk_ids=[trunk_id],
                    rule=api.SIPDispatchRule(dispatch_rule_individual=(
                        api.SIPDispatchRuleIndividual(room_prefix=s.room_prefix))),
                    room_config=api.RoomConfiguration(
                        agents=[api.RoomAgentDispatch(agent_name=agent_name)]))))
            result["dispatch_rule"] = {"id": rule.sip_dispatch_rule_id, "created": True}
        else:
            result["dispatch_rule"] = {"id": rule.sip_dispatch_rule_id, "created": False}
        if s.outbound_address:
            outs = await self.api.sip.list_outbound_trunk(api.ListSIPOutboundTrunkRequest())
            out = next((t for t in outs.items if t.name == s.outbound_trunk_name), None)
            created = out is None
            if out is None:
                transport = getattr(sip_proto, f"SIP_TRANSPORT_{s.outbound_transport.upper()}")
                out = await self.api.sip.create_outbound_trunk(api.CreateSIPOutboundTrunkRequest(
                    trunk=api.SIPOutboundTrunkInfo(
                        name=s.outbound_trunk_name, address=s.outbound_address,
                        numbers=list(s.outbound_numbers), transport=transport,
                        auth_username=s.outbound_auth_username,
                        auth_password=s.outbound_auth_password)))
            result["outbound_trunk"] = {"id": out.sip_trunk_id, "created": created}
        return result
