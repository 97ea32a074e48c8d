"""Transfers to the human queues over SIP: blind (REFER) or bridged (B2BUA).

The retry-once / fallback-queue / callback-ticket policy is the LiveKit path's
(:meth:`tierline.agent.livekit.telephony.Telephony.transfer`); only the single attempt differs,
so :class:`SipTelephony` overrides :meth:`transfer_once`:

* **refer** — REFER to the caller with ``Refer-To: <queue URI>`` and the X-Tierline-*
  headers on the REFER itself (a PBX that performs the REFER passes them on; phones such as
  baresip fail a Refer-To that carries URI headers, so none are put there); the attempt
  succeeds when a NOTIFY carries a 2xx
  sipfrag, fails on a non-2xx sipfrag or a REFER rejection, and times out after
  ``[transfer] timeout_s``. The caller's phone then talks to the agent; we hang up.
* **bridge** — we call the queue's URI ourselves (INVITE with the X-Tierline-* headers) and,
  once it answers, relay audio both ways. The bot *keeps listening*: the caller's audio still
  runs through the call's pipeline, so tiering goes on and the record keeps growing, but the
  bot says nothing more. Either side hanging up ends both legs.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from tierline.agent.livekit.telephony import Telephony, TransferAttempt
from tierline.agent.sip import sdp
from tierline.agent.sip.media import RtpLeg
from tierline.agent.sip.message import SipMessage, host_port, user_of
from tierline.agent.sip.ua import Dialog

if TYPE_CHECKING:
    from tierline.agent.sip.call import SipCall

logger = logging.getLogger("tierline.sip")


def sip_target(target: str, trunk: str) -> str:
    """A SIP URI for a queue target: ``sip:`` as is, a number via the trunk's address."""
    if target.startswith(("sip:", "sips:")):
        return target
    number = target[4:] if target.startswith("tel:") else target
    if not trunk:
        raise ValueError(f"queue target {target} is a number but [trunk] address is not set")
    return f"sip:{number}@{trunk}"


def sipfrag_status(body: bytes) -> int | None:
    """The status code of a message/sipfrag NOTIFY body ("SIP/2.0 200 OK")."""
    first = body.decode("utf-8", "replace").strip().splitlines()
    if not first:
        return None
    parts = first[0].split()
    if len(parts) >= 2 and parts[0].upper().startswith("SIP/") and parts[1].isdigit():
        return int(parts[1])
    return None


class SipTelephony(Telephony):
    """The LiveKit path's transfer policy over this endpoint's SIP.

    Args:
        call: The call being transferred.
    """

    def __init__(self, call: SipCall) -> None:
        super().__init__(None, call.config.shared)  # type: ignore[arg-type]
        self.call = call

    async def transfer_once(self, room: str, identity: str, queue: str, target: str,
                            headers: dict[str, str]) -> TransferAttempt:
        try:
            uri = sip_target(target, self.call.config.trunk.address)
        except ValueError as exc:
            return TransferAttempt(queue, target, False, "no_route", str(exc))
        if self.call.config.transfer.mode == "bridge":
            return await bridge(self.call, queue, uri, headers)
        return await refer(self.call, queue, uri, headers)


async def refer(call: SipCall, queue: str, target: str,
                headers: dict[str, str]) -> TransferAttempt:
    """One blind transfer attempt: REFER, then wait for the final sipfrag NOTIFY."""
    timeout = call.config.transfer.timeout_s
    dialog = call.dialog
    req = dialog.request(call.ua, "REFER", headers=[
        ("Refer-To", f"<{target}>"), ("Referred-By", call.ua.contact()),
        *headers.items()])
    call.refer_result = asyncio.get_running_loop().create_future()
    resp = await call.ua.request(req, dialog.destination())
    if not 200 <= (resp.status or 0) < 300:
        return TransferAttempt(queue, target, False, "rejected",
                               f"REFER answered {resp.status} {resp.reason}", resp.status)
    try:
        status = await asyncio.wait_for(asyncio.shield(call.refer_result), timeout)
    except asyncio.TimeoutError:
        return TransferAttempt(queue, target, False, "timeout",
                               f"no final NOTIFY within {timeout:.0f} s")
    finally:
        call.refer_result = None
    if 200 <= status < 300:
        return TransferAttempt(queue, target, True, "transferred", f"sipfrag {status}", status)
    return TransferAttempt(queue, target, False, "failed", f"sipfrag {status}", status)


async def bridge(call: SipCall, queue: str, target: str,
                 headers: dict[str, str]) -> TransferAttempt:
    """One bridged transfer attempt: call the queue and relay audio once it answers."""
    cfg = call.config
    agent = RtpLeg(on_audio=lambda pcm, _t: call.leg.player.bridge.append(pcm),
                   jitter_depth=max(1, cfg.server.jitter_ms // 20))
    await agent.open(call.ua.host, (cfg.server.rtp_port_min, cfg.server.rtp_port_max))
    offer = sdp.build(call.ua.advertised, agent.port, sdp.offer_codecs(cfg.trunk.codecs),
                      sdp.DTMF_PT)
    from_uri = f"sip:{cfg.trunk.from_user}@{call.ua.advertised}:{call.ua.port}"
    invite = call.ua.new_invite(target, from_uri, list(headers.items()), offer)
    call.manager.adopt(invite.call_id, call)
    try:
        dest = host_port(target)
        resp = await asyncio.wait_for(call.ua.request(invite, dest), cfg.transfer.timeout_s)
    except asyncio.TimeoutError:
        resp = SipMessage(status=408, reason="no answer")
    if not 200 <= (resp.status or 0) < 300:
        agent.close()
        call.manager.disown(invite.call_id)
        return TransferAttempt(queue, target, False, "failed",
                               f"agent answered {resp.status} {resp.reason}", resp.status)
    dialog = Dialog.for_uac(invite, resp)
    call.ua.ack_2xx(dialog, invite)
    try:
        negotiated = sdp.negotiate(sdp.parse(resp.body), cfg.trunk.codecs)
    except sdp.SdpError as exc:
        agent.close()
        await call.ua.request(dialog.request(call.ua, "BYE"), dialog.destination())
        call.manager.disown(invite.call_id)
        return TransferAttempt(queue, target, False, "failed", f"agent SDP: {exc}", 488)
    agent.connect(negotiated)
    agent.start()
    call.bridge_to(agent, dialog)
    logger.info("call %s bridged to queue %s (%s)", call.short_id, queue, user_of(target))
    return TransferAttempt(queue, target, True, "bridged", "agent answered", resp.status)
