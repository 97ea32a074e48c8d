"""The campaign runner: dial the due leads, at most N at once, inside their calling hours.

For every lead, in file order: its calling window must be open (in the lead's zone), the
do-not-call gate (:func:`tierline.agent.outbound.permit_dial`) must let it through — checked
right before each dial, so a number that opted out during the campaign is not called again —
then an attempt is committed to the store (:meth:`CampaignStore.claim`) and only then handed
to the dialer. Busy, no answer and failed dials come back after the retry policy's backoff;
the runner sleeps for them (and for windows) up to ``max_wait_s`` and otherwise stops, leaving
them pending for the next run.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Protocol

from tierline.agent.campaign.policy import CallingWindow, RetryPolicy, zone
from tierline.agent.campaign.store import CampaignStore, LeadState
from tierline.agent.dialog.compliance import DncList
from tierline.agent.outbound import DialRefused, permit_dial
from tierline.audio.answering import AmdDecision

logger = logging.getLogger("tierline.campaign")


@dataclass(frozen=True)
class DialResult:
    """How one dial ended.

    Attributes:
        outcome: answered, busy, no_answer, rejected, invalid_number, failed or unreachable.
        sip_status: The SIP final response, when there was one.
        amd: Who answered (answered calls screened by the detector).
        record: The call's record (JSON contract), for answered calls that ran the pipeline.
        detail: A note (the LiveKit room, a server message).
    """

    outcome: str
    sip_status: int | None = None
    amd: AmdDecision | None = None
    record: dict[str, Any] | None = None
    detail: str = ""


class Dialer(Protocol):
    """Places one call for a lead (SIP endpoint or LiveKit)."""

    async def dial(self, lead: LeadState, attempt: int,
                   on_answered: Callable[[], None]) -> DialResult:
        """Dial ``lead`` (attempt ``attempt``); call ``on_answered`` when the callee picks up."""
        ...


@dataclass(frozen=True)
class RunSettings:
    """How a campaign is paced.

    Attributes:
        concurrency: Calls in flight at most.
        pace_s: Seconds between two dial starts at least.
        window: Calling hours.
        retry: Retry policy.
        max_wait_s: The longest the runner sleeps for a retry or a window before it stops.
    """

    concurrency: int = 2
    pace_s: float = 1.0
    window: CallingWindow = field(default_factory=CallingWindow)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    max_wait_s: float = 3600.0


@dataclass
class RunSummary:
    """What one run did."""

    dialled: int = 0
    interrupted: list[str] = field(default_factory=list)
    refused_dnc: list[str] = field(default_factory=list)
    waiting: int = 0
    next_due: float | None = None
    outside_window: bool = False


def next_action(lead: LeadState, result: DialResult, transferred: bool, tier: str,
                route: str) -> str:
    """What a person does next with an answered lead."""
    if result.record is None and result.amd is None:
        return f"the agent worker took the call ({result.detail}): see its record"
    amd = result.amd.outcome if result.amd else "unknown"
    if amd == "voicemail":
        return "voicemail: call again another day"
    if amd == "ivr":
        return "an IVR answered: find a direct number"
    if transferred:
        return f"transferred to {route.split(':', 1)[-1]}: the queue follows up"
    if route.startswith("transfer:"):
        return f"callback ticket for {route.split(':', 1)[1]}: call back"
    return {"high": "senior sales follows up", "churn_risk": "retention team calls back",
            "medium": "nurture: send material, call again in a week",
            "low": "no follow-up"}.get(tier, "review the call")


def results_of(record: dict[str, Any] | None) -> tuple[str, str, bool, str]:
    """(tier, route, transferred, call id) of a call record."""
    if not record:
        return "", "", False, ""
    route = record.get("route") or {}
    r = "continue" if route.get("action") != "transfer" else f"transfer:{route.get('queue')}"
    transfer = ((record.get("call") or {}).get("sip") or {}).get("transfer") or {}
    moved = transfer.get("result") in ("transferred", "fallback_transferred")
    return record.get("final_tier", ""), r, moved, (record.get("call") or {}).get("id", "")


class CampaignRunner:
    """Runs one campaign of a store with a dialer.

    Args:
        store: The campaign store.
        name: The campaign.
        dialer: Places the calls.
        settings: Pacing, hours, retries.
        dnc: The do-not-call list (default: the machine's).
        clock: Wall clock (seconds since the epoch).
        sleep: How the runner waits (tests give a fake one).
        say: Progress lines (default: the log).
    """

    def __init__(self, store: CampaignStore, name: str, dialer: Dialer, settings: RunSettings,
                 dnc: DncList | None = None, clock: Callable[[], float] = time.time,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                 say: Callable[[str], None] | None = None) -> None:
        self.store = store
        self.name = name
        self.dialer = dialer
        self.settings = settings
        self.dnc = dnc or DncList()
        self.clock = clock
        self.sleep = sleep
        self.say = say or logger.info
        self._last_start = 0.0

    def _local(self, t: float, tz: str) -> str:
        return datetime.fromtimestamp(t, zone(tz or self.settings.window.tz)).strftime(
            "%Y-%m-%d %H:%M %Z")

    async def run(self) -> RunSummary:
        """Dial until every lead is done, or the next one is due beyond ``max_wait_s``."""
        summary = RunSummary()
        summary.interrupted = self.store.recover(self.name, self.clock())
        for lead_id in summary.interrupted:
            self.say(f"{lead_id}: interrupted by the previous run's stop; not dialled again")
        inflight: set[asyncio.Task] = set()
        dialled_any = False
        while True:
            now = self.clock()
            pending = self.store.leads(self.name, "pending")
            due, later = self._due(pending, now)
            while due and len(inflight) < self.settings.concurrency:
                lead = due.pop(0)
                wait = self._last_start + self.settings.pace_s - self.clock()
                if wait > 0:
                    await self.sleep(wait)
                task = await self._start(lead, summary)
                if task is not None:
                    inflight.add(task)
                    dialled_any = True
            if inflight:
                done, _ = await asyncio.wait(inflight, timeout=0.5,
                                             return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    inflight.discard(task)
                    task.result()  # a dialer bug surfaces here
                continue
            if due:
                continue
            if not later:
                return summary
            first = min(later)
            if first - now > self.settings.max_wait_s:
                summary.waiting = len(later)
                summary.next_due = first
                summary.outside_window = not dialled_any and self._all_closed(pending, now)
                return summary
            await self.sleep(max(0.05, first - now))

    def plan(self, now: float) -> tuple[list[LeadState], list[float]]:
        """The pending leads due now, and when each other pending lead is next possible
        (a lead whose calling hours are closed is marked as waiting for them)."""
        return self._due(self.store.leads(self.name, "pending"), now)

    def _due(self, pending: list[LeadState], now: float) -> tuple[list[LeadState], list[float]]:
        """Leads to dial now, and when each of the others is next possible."""
        due, later = [], []
        window = self.settings.window
        stamp = datetime.fromtimestamp(now, timezone.utc)
        for lead in pending:
            if lead.next_at > now:
                later.append(lead.next_at)
                continue
            if window.is_open(stamp, lead.tz):
                due.append(lead)
                continue
            opens = window.next_open(stamp, lead.tz).timestamp()
            self.store.defer(self.name, lead.lead_id, opens,
                             f"calling hours {window.describe(lead.tz)} closed: due "
                             f"{self._local(opens, lead.tz)}", now)
            later.append(opens)
        return due, later

    def _all_closed(self, pending: list[LeadState], now: float) -> bool:
        stamp = datetime.fromtimestamp(now, timezone.utc)
        return bool(pending) and not any(self.settings.window.is_open(stamp, p.tz)
                                         for p in pending)

    async def _start(self, lead: LeadState, summary: RunSummary) -> asyncio.Task | None:
        now = self.clock()
        try:
            permit_dial(lead.number, self.dnc)
        except DialRefused as exc:
            self.store.finish(self.name, lead.lead_id, None, now, outcome="dnc", next_at=None,
                              next_action="never call: on the do-not-call list",
                              detail=str(exc))
            summary.refused_dnc.append(lead.lead_id)
            self.say(f"{lead.lead_id}: on the do-not-call list, not dialled")
            return None
        n = self.store.claim(self.name, lead.lead_id, now)
        if n is None:
            return None
        self._last_start = self.clock()
        summary.dialled += 1
        return asyncio.ensure_future(self._call(lead, n))

    async def _call(self, lead: LeadState, n: int) -> None:
        def on_answered() -> None:
            self.store.answered(self.name, lead.lead_id, n)

        try:
            result = await self.dialer.dial(lead, n, on_answered)
        except DialRefused as exc:  # the dialer's own gate (belt and braces)
            self.store.finish(self.name, lead.lead_id, n, self.clock(), outcome="dnc",
                              next_at=None, next_action="never call: on the do-not-call list",
                              detail=str(exc))
            return
        except Exception as exc:  # a broken call must not stop the campaign
            logger.exception("lead %s: dial failed", lead.lead_id)
            result = DialResult("failed", detail=f"{type(exc).__name__}: {exc}")
        self._record(lead, n, result)

    def _record(self, lead: LeadState, n: int, result: DialResult) -> None:
        now = self.clock()
        amd = result.amd.to_dict() if result.amd else None
        if result.outcome == "answered":
            tier, route, moved, call_id = results_of(result.record)
            if result.amd is not None and result.amd.machine:
                tier, route, moved = "", "", False  # a recording is not a lead's answer
            action = next_action(lead, result, moved, tier, route)
            self.store.finish(self.name, lead.lead_id, n, now, outcome="answered",
                              next_at=None, next_action=action, sip_status=result.sip_status,
                              amd=amd, tier=tier, route=route, transferred=moved,
                              detail=result.detail, call_id=call_id)
            who = result.amd.outcome if result.amd else "answered"
            self.say(f"{lead.lead_id}: answered ({who}) tier {tier or '-'} route "
                     f"{route or '-'}")
            return
        retry = self.settings.retry.retry_in(result.outcome, n)
        if retry is None:
            action = ("none: the number does not exist or refused" if result.outcome in
                      ("rejected", "invalid_number") else
                      f"{result.outcome} after {n} attempt(s): no more dials")
            self.store.finish(self.name, lead.lead_id, n, now, outcome=result.outcome,
                              next_at=None, next_action=action, sip_status=result.sip_status,
                              amd=amd, detail=result.detail)
        else:
            due = now + retry
            self.store.finish(self.name, lead.lead_id, n, now, outcome=result.outcome,
                              next_at=due, next_action=f"retry at {self._local(due, lead.tz)}",
                              sip_status=result.sip_status, amd=amd, detail=result.detail)
        status = f" ({result.sip_status})" if result.sip_status else ""
        self.say(f"{lead.lead_id}: {result.outcome}{status}, attempt {n}")
