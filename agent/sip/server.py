"""The endpoint: a user agent, the calls it carries, and their records.

:class:`CallManager` is the user agent's handler. An INVITE from an allowed address with an
acceptable offer gets 100, 180 and — after ``answer_after_s`` — 200 with our SDP; beyond
``max_calls``, or while the recogniser's shared queue is full (``ASR.busy``), it gets 503;
without a usable codec 488. Each call's record (the replay JSON
contract plus ``call.sip``: Call-ID, masked From/To, codec, DTMF, transfer outcome, RTP
counters, recordings, why it ended) is appended to ``<records_dir>/calls.jsonl`` when it ends.

:func:`serve` runs the endpoint until interrupted; :func:`dial` places one outbound call
(after :func:`tierline.agent.outbound.permit_dial`) and returns its record.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tierline.agent.livekit.telephony import _SIP_OUTCOME
from tierline.agent.outbound import permit_dial
from tierline.agent.records import TurnRecord
from tierline.agent.session import CallSession, Models
from tierline.agent.sip import sdp
from tierline.agent.sip.call import PromptCache, SipCall
from tierline.agent.sip.config import SipEndpointConfig
from tierline.agent.sip.media import RtpLeg
from tierline.agent.sip.message import (
    SipMessage,
    host_port,
    masked,
    new_tag,
    uri_of,
    user_of,
)
from tierline.agent.sip.recording import prune, safe_name
from tierline.agent.sip.ua import Dialog, UserAgent
from tierline.audio.endpointer import EndpointingConfig
from tierline.segmentation.features import CustomerProfile, load_customer

logger = logging.getLogger("tierline.sip")

ANSWER_AFTER_S = 0.2


class CallManager:
    """Owns the user agent and every call on it.

    Args:
        config: The endpoint configuration.
        models: Shared models (NLU, Whisper).
        endpointing: How turns are cut (default: replay's settings).
        on_turn: Called with (call, turn) after every decided turn.
        on_record: Called with every finished call's record (JSON contract).
        answer_after_s: Ringing time before an inbound call is answered.
        store: The CRM store every call is written to as it happens (turn by turn); None
            writes only ``calls.jsonl``.
    """

    def __init__(self, config: SipEndpointConfig, models: Models,
                 endpointing: EndpointingConfig | None = None,
                 on_turn: Callable[[SipCall, TurnRecord], None] | None = None,
                 on_record: Callable[[dict[str, Any]], None] | None = None,
                 answer_after_s: float = ANSWER_AFTER_S, port: int | None = None,
                 store: Any | None = None) -> None:
        self.config = config
        self.store = store
        self._recorders: dict[str, Any] = {}
        self.models = models
        self.endpointing = endpointing or EndpointingConfig()
        self.on_turn = on_turn
        self.on_record = on_record
        self.answer_after_s = answer_after_s
        s = config.server
        self.ua = UserAgent(self, s.host, s.port if port is None else port,
                            s.advertised_address or None)
        self.prompts = PromptCache(config.shared.tts.voice, config.shared.tts.speed_wpm)
        self.calls: dict[str, SipCall] = {}
        self._pending: dict[str, asyncio.Task] = {}
        self._legs: dict[str, SipCall] = {}
        self.records: list[dict[str, Any]] = []
        self.rejected: dict[int, int] = {}
        self._retention: asyncio.Task | None = None

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        await self.ua.start()
        self._retention = asyncio.create_task(self._keep_retention())

    async def _keep_retention(self) -> None:
        s = self.config.server
        while True:
            await asyncio.to_thread(prune, s.recordings_dir, s.retention_days)
            await asyncio.sleep(3600)

    async def stop(self) -> None:
        """Hang up every call (their records are written), then close the socket."""
        for task in list(self._pending.values()):
            task.cancel()
        await asyncio.gather(*(c.hangup("endpoint stopping") for c in list(self.calls.values())),
                             return_exceptions=True)
        if self._retention is not None:
            self._retention.cancel()
        self.ua.close()

    @property
    def active(self) -> int:
        return len(self.calls) + len(self._pending)

    # ------------------------------------------------------------------ inbound
    def _reject(self, req: SipMessage, addr: tuple[str, int], status: int, why: str,
                headers: list[tuple[str, str]] | None = None) -> None:
        self.rejected[status] = self.rejected.get(status, 0) + 1
        logger.info("INVITE from %s rejected %d: %s", masked(req.get("from")), status, why)
        self.ua.respond(req, addr, status, headers=headers)

    def on_invite(self, req: SipMessage, addr: tuple[str, int]) -> None:
        if req.call_id in self.calls or req.call_id in self._pending:
            return  # a retransmission with a new branch: the call is already being set up
        if not self.config.allowed(addr[0]):
            self._reject(req, addr, 403, f"{addr[0]} is not in [trunk] allowed_addresses")
            return
        if self.active >= self.config.server.max_calls:
            self._reject(req, addr, 503, "max_calls reached", [("Retry-After", "5")])
            return
        if self.models.asr is not None and self.models.asr.busy():
            # the recogniser's queue is already behind: a new caller would slow every call
            self._reject(req, addr, 503, "recogniser busy", [("Retry-After", "5")])
            return
        ctype = (req.get("content-type") or "application/sdp").split(";")[0].strip().lower()
        if not req.body or ctype != "application/sdp":
            self._reject(req, addr, 488, "no SDP offer")
            return
        try:
            negotiated = sdp.negotiate(sdp.parse(req.body), self.config.trunk.codecs)
        except sdp.SdpError as exc:
            self._reject(req, addr, 488, str(exc),
                         [("Warning", f'304 tierline "{str(exc)[:80]}"')])
            return
        self.ua.respond(req, addr, 100)
        tag = new_tag()
        self._pending[req.call_id] = asyncio.create_task(self._answer(req, addr, tag,
                                                                      negotiated))

    async def _answer(self, req: SipMessage, addr: tuple[str, int], tag: str,
                      negotiated: sdp.Negotiated) -> None:
        call_id = req.call_id
        try:
            self.ua.respond(req, addr, 180, to_tag=tag)
            await asyncio.sleep(self.answer_after_s)
            leg = self._new_leg()
            await leg.open(self.ua.host, self._rtp_ports())
            session = self._session(req, "inbound")
            call = SipCall(self, session, Dialog.for_uas(req, tag, addr), leg, "inbound")
            body = sdp.build(self.ua.advertised, leg.port, [negotiated.codec],
                             negotiated.dtmf_pt)
            self.calls[call_id] = call
            self.ua.respond(req, addr, 200, to_tag=tag, body=body)
            call.start(negotiated)
            logger.info("call %s answered from %s (%s)", call.short_id, masked(req.get("from")),
                        negotiated.codec.name)
        except asyncio.CancelledError:
            if self.ua.tx.final_status(req) is None:
                self.ua.respond(req, addr, 487, to_tag=tag)
            if call_id not in self.calls:  # cancelled while ringing: a record all the same
                session = self._session(req, "inbound")
                session.record.call["sip"].update({"direction": "inbound",
                                                   "end_reason": "cancelled while ringing"})
                self._store(session.record.to_dict())
            raise
        except OSError as exc:
            logger.error("cannot answer %s: %s", call_id[:12], exc)
            self._reject(req, addr, 503, str(exc))
        finally:
            self._pending.pop(call_id, None)

    def _new_leg(self) -> RtpLeg:
        s = self.config.server
        return RtpLeg(lambda *_: None, jitter_depth=max(1, s.jitter_ms // 20), latch=s.latch_rtp)

    def _rtp_ports(self) -> tuple[int, int]:
        return self.config.server.rtp_port_min, self.config.server.rtp_port_max

    def _customer(self, user: str) -> CustomerProfile:
        folder = self.config.server.customers_dir
        if folder and user:
            path = Path(folder) / f"{safe_name(user)}.json"
            if path.is_file():
                try:
                    return load_customer(path)
                except Exception as exc:  # a bad CRM file must not refuse the call
                    logger.error("customer file %s unreadable: %s", path, exc)
        return CustomerProfile()

    def _session(self, invite: SipMessage, direction: str,
                 customer: CustomerProfile | None = None) -> CallSession:
        remote = invite.get("from") if direction == "inbound" else invite.get("to")
        customer = customer or self._customer(user_of(uri_of(remote or "")))
        call = {"id": safe_name(invite.call_id)[:48], "customer": customer.id or None,
                "transport": "sip", "sample_rate": 8000, "channels": 1,
                "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "sip": {"call_id": invite.call_id, "from": masked(invite.get("from")),
                        "to": masked(invite.get("to"))}}
        policy = self.config.shared.policy()
        session = CallSession(self.models, customer, call, policy)
        if self.store is not None:
            try:
                self._recorders[call["id"]] = self.store.for_session(
                    session, customer, transport="sip", direction=direction,
                    phone=user_of(uri_of(remote or "")) or None)
            except Exception as exc:  # the store must never cost a call
                logger.error("call %s not written to the CRM store: %s", call["id"], exc)
        return session

    def on_ack(self, req: SipMessage, addr: tuple[str, int]) -> None:
        call = self.calls.get(req.call_id)
        if call is not None:
            call.info["acked"] = True

    def on_cancel(self, invite: SipMessage) -> None:
        task = self._pending.get(invite.call_id)
        if task is not None:
            task.cancel()
            self.rejected[487] = self.rejected.get(487, 0) + 1
            logger.info("INVITE %s cancelled while ringing", invite.call_id[:12])

    def on_request(self, req: SipMessage, addr: tuple[str, int]) -> None:
        call = self.calls.get(req.call_id) or self._legs.get(req.call_id)
        if call is None:
            if req.method != "ACK":
                self.ua.respond(req, addr, 481)
            return
        call.on_request(req, addr)

    def on_ack_timeout(self, call_id: str) -> None:
        call = self.calls.get(call_id)
        if call is not None:
            asyncio.ensure_future(call.hangup("no ACK for our 200 OK"))

    # ------------------------------------------------------------------ bridged legs
    def adopt(self, call_id: str, call: SipCall) -> None:
        """Requests in dialog ``call_id`` (a bridged agent leg) belong to ``call``."""
        self._legs[call_id] = call

    def disown(self, call_id: str) -> None:
        self._legs.pop(call_id, None)

    # ------------------------------------------------------------------ results
    def turn_decided(self, call: SipCall, turn: TurnRecord) -> None:
        recorder = self._recorders.get(call.session.record.call["id"])
        if recorder is not None:  # committed as it happens: a crash keeps what was said
            recorder.turn(turn, call.session.route)
        if self.on_turn is not None:
            self.on_turn(call, turn)

    def finished(self, call: SipCall) -> None:
        """A call ended: drop it and store its record."""
        self.calls.pop(call.call_id, None)
        if call.agent_dialog is not None:
            self.disown(call.agent_dialog.call_id)
        record = call.session.record.to_dict()
        recorder = self._recorders.pop(record["call"]["id"], None)
        if recorder is not None:
            recorder.finish(record)
        self._store(record)

    def _store(self, record: dict[str, Any]) -> None:
        """Append a call record to the JSON lines file and hand it to ``on_record``."""
        self.records.append(record)
        path = Path(self.config.server.records_dir) / "calls.jsonl"
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("a", encoding="utf-8") as f:
                f.write(json.dumps(record, ensure_ascii=False) + "\n")
        except OSError as exc:
            logger.error("cannot write call record to %s: %s", path, exc)
        if self.on_record is not None:
            self.on_record(record)

    # ------------------------------------------------------------------ outbound
    async def dial(self, target: str, customer: CustomerProfile | None = None,
                   ringing_timeout_s: float = 30.0, greet: bool = True,
                   ) -> tuple[str, SipCall | None, int | None]:
        """Call ``target`` (a SIP URI); return (outcome, the call when answered, SIP status).

        The do-not-call gate is asked first: a refused target raises
        :class:`~tierline.agent.outbound.DialRefused` before anything is sent. ``greet`` False
        leaves the opening to the caller of this method.
        """
        permit_dial(target)
        if target.startswith(("sip:", "sips:")):
            uri = target
        elif self.config.trunk.address:
            uri = f"sip:{target}@{self.config.trunk.address}"
        else:
            raise ValueError(f"{target} is a number: set [trunk] address to dial numbers")
        dest = host_port(uri)
        leg = self._new_leg()
        await leg.open(self.ua.host, self._rtp_ports())
        offer = sdp.build(self.ua.advertised, leg.port, sdp.offer_codecs(self.config.trunk.codecs),
                          sdp.DTMF_PT)
        from_uri = f"sip:{self.config.trunk.from_user}@{self.ua.advertised}:{self.ua.port}"
        invite = self.ua.new_invite(uri, from_uri, [], offer)
        try:
            resp = await asyncio.wait_for(self.ua.request(invite, dest), ringing_timeout_s)
        except asyncio.TimeoutError:
            cancel = SipMessage(method="CANCEL", uri=invite.uri)
            cancel.headers = [(n, v) for n, v in invite.headers
                              if n.lower() in ("via", "from", "to", "call-id", "route")]
            cancel.headers += [("CSeq", f"{invite.cseq[0]} CANCEL"), ("Max-Forwards", "70")]
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.ua.request(cancel, dest), 5)
            leg.close()
            return "no_answer", None, None
        status = resp.status or 0
        if not 200 <= status < 300:
            leg.close()
            return _SIP_OUTCOME.get(status, "failed"), None, status
        dialog = Dialog.for_uac(invite, resp)
        self.ua.ack_2xx(dialog, invite)
        session = self._session(invite, "outbound", customer)
        call = SipCall(self, session, dialog, leg, "outbound")
        try:
            negotiated = sdp.negotiate(sdp.parse(resp.body), self.config.trunk.codecs)
        except sdp.SdpError as exc:
            logger.error("callee answered with an unusable SDP: %s", exc)
            self.calls[invite.call_id] = call
            await call.hangup(f"callee SDP unusable: {exc}")
            return "failed", call, status
        self.calls[invite.call_id] = call
        call.start(negotiated, greet)
        return "answered", call, status


async def serve(manager: CallManager, ready: Callable[[], None] | None = None) -> None:
    """Run the endpoint until SIGINT/SIGTERM; every call in progress is hung up and recorded."""
    await manager.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    if ready is not None:
        ready()
    try:
        await stop.wait()
    finally:
        await manager.stop()


class BackgroundEndpoint:
    """The endpoint on its own event loop in a background thread (tests, benchmarks, a host
    program that is not asyncio).

    Args:
        manager: The call manager to run (started here).
    """

    def __init__(self, manager: CallManager) -> None:
        import threading

        self.manager = manager
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="sip-endpoint",
                                        daemon=True)
        self._thread.start()
        self.run(manager.start())

    @property
    def port(self) -> int:
        return self.manager.ua.port

    def run(self, coro, timeout: float = 60):
        """Run ``coro`` on the endpoint's loop; its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def wait_records(self, count: int, timeout: float) -> list[dict[str, Any]]:
        """Wait until ``count`` calls have ended; their records (TimeoutError when late)."""
        deadline = time.monotonic() + timeout
        while len(self.manager.records) < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(self.manager.records)} of {count} call records "
                                   f"after {timeout:.0f} s")
            time.sleep(0.2)
        return list(self.manager.records)

    def close(self) -> None:
        """Hang up what is left (records written), stop the loop."""
        try:
            self.run(self.manager.stop(), timeout=120)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(10)
