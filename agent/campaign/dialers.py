"""The two ways a campaign places calls: the built-in SIP endpoint, or LiveKit SIP.

* :class:`SipDialer` — :meth:`CallManager.dial <tierline.agent.sip.server.CallManager.dial>`
  on this box: the callee's first seconds are screened for an answering machine
  (:mod:`.screening`), a person's call then runs the endpoint's whole pipeline (dialog,
  tiering, routing, transfer) and its record comes back with the result.
* :class:`LiveKitDialer` — CreateSIPParticipant through
  :meth:`Telephony.dial <tierline.agent.livekit.telephony.Telephony.dial>`, with the agent
  dispatched to the lead's room (``camp-<campaign>-<lead>-<attempt>``) and the lead's customer
  profile and campaign in the dispatch metadata; the worker runs the call and writes its
  record, so the campaign keeps the dial outcome and the room.

Both ask the do-not-call gate again themselves (their own ``permit_dial``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from tierline.agent.campaign.runner import DialResult
from tierline.agent.campaign.screening import ScreeningConfig, after_screening, screen
from tierline.agent.campaign.store import LeadState
from tierline.segmentation.features import CustomerProfile, parse_customer


def profile_of(lead: LeadState) -> CustomerProfile:
    """The lead's customer profile (its CRM columns and customer file), with its id."""
    data: dict[str, Any] = dict(lead.customer)
    data.setdefault("id", lead.lead_id)
    if lead.name:
        data.setdefault("name", lead.name)
    return parse_customer(data)


def dial_string(number: str) -> str:
    """A SIP URI as written; a phone number without its spaces and dashes (+86… or digits)."""
    number = number.strip()
    if number.lower().startswith(("sip:", "sips:")):
        return number
    return re.sub(r"[^\d+]", "", number)


class SipDialer:
    """Dials through a started :class:`~tierline.agent.sip.server.CallManager` (same loop).

    Args:
        manager: The endpoint's call manager.
        screening: Answering-machine handling.
        ringing_timeout_s: Seconds to ring before CANCEL (outcome ``no_answer``).
    """

    def __init__(self, manager, screening: ScreeningConfig, ringing_timeout_s: float) -> None:
        self.manager = manager
        self.screening = screening
        self.ringing_timeout_s = ringing_timeout_s

    async def dial(self, lead: LeadState, attempt: int,
                   on_answered: Callable[[], None]) -> DialResult:
        outcome, call, status = await self.manager.dial(
            dial_string(lead.number), profile_of(lead), self.ringing_timeout_s, greet=False)
        if call is None:
            return DialResult(outcome, status)
        on_answered()
        if outcome != "answered":  # answered with an unusable SDP: the call was hung up
            await call.ended.wait()
            return DialResult(outcome, status, record=call.session.record.to_dict())
        call.session.record.call["campaign"] = {"lead": lead.lead_id, "attempt": attempt}
        decision = await screen(call, self.screening)
        await after_screening(call, decision, self.screening)
        await call.ended.wait()
        return DialResult("answered", status, decision, call.session.record.to_dict(),
                          detail=call.info.get("end_reason", ""))


class LiveKitDialer:
    """Dials through LiveKit SIP (CreateSIPParticipant), the worker taking the call.

    Args:
        telephony: A :class:`~tierline.agent.livekit.telephony.Telephony`.
        campaign: The campaign's name (room names, metadata).
        agent_name: The worker's agent name (explicit dispatch).
        ringing_timeout_s: Seconds to ring.
    """

    def __init__(self, telephony, campaign: str, agent_name: str,
                 ringing_timeout_s: float | None = None) -> None:
        self.telephony = telephony
        self.campaign = campaign
        self.agent_name = agent_name
        self.ringing_timeout_s = ringing_timeout_s

    def room(self, lead: LeadState, attempt: int) -> str:
        safe = re.sub(r"[^A-Za-z0-9_-]+", "-", f"{self.campaign}-{lead.lead_id}")
        return f"camp-{safe}-{attempt}"[:120]

    async def dial(self, lead: LeadState, attempt: int,
                   on_answered: Callable[[], None]) -> DialResult:
        room = self.room(lead, attempt)
        customer = {**lead.customer, "id": lead.customer.get("id") or lead.lead_id}
        metadata = json.dumps({"customer": customer, "campaign": {
            "name": self.campaign, "lead": lead.lead_id, "attempt": attempt}},
            ensure_ascii=False)
        number = lead.number.strip()
        out = await self.telephony.dial(number, room, ringing_timeout_s=self.ringing_timeout_s,
                                        agent_name=self.agent_name, metadata=metadata)
        if out.outcome == "answered":
            on_answered()
        return DialResult(out.outcome, out.sip_status,
                          detail=f"room {room}" + (f": {out.detail}" if out.detail else ""))
