"""One phone call on the SIP endpoint, from the INVITE (in or out) to the record.

A :class:`SipCall` owns the call's RTP leg, its decision thread (:mod:`.pipeline`), its
recording, and what the bot says: the opening, a reply after every turn the bot keeps, and —
when the route transfers — the handoff line and the transfer (:mod:`.transfer`). It ends on a
BYE from either side, a CANCEL, no RTP for ``no_rtp_timeout_s``, or the longest call length;
ending waits for the decision thread to decide the turn still open, so a caller who hangs up
mid-turn keeps every earlier turn and that last one too.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from tierline.agent.livekit.agent import file_callback
from tierline.agent.livekit.prompts import Line, Prompts
from tierline.agent.livekit.telephony import TransferOutcome, handoff_headers
from tierline.agent.session import CallSession
from tierline.agent.sip import sdp
from tierline.agent.sip.media import RtpLeg
from tierline.agent.sip.message import SipMessage
from tierline.agent.sip.pipeline import CallPipeline, DigitDecided, TurnDecided
from tierline.agent.sip.recording import CallRecorder
from tierline.agent.sip.transfer import SipTelephony, sipfrag_status
from tierline.agent.sip.ua import Dialog, UserAgent
from tierline.audio.bargein import StopPrompt

if TYPE_CHECKING:
    from tierline.agent.sip.config import SipEndpointConfig
    from tierline.agent.sip.server import CallManager

logger = logging.getLogger("tierline.sip")


class PromptCache:
    """Rendered prompts (8 kHz int16) by text: the greeting is synthesised once per process."""

    def __init__(self, voice: str, speed_wpm: int, size: int = 64) -> None:
        self.voice = voice
        self.speed_wpm = speed_wpm
        self.size = size
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()

    async def render(self, text: str) -> np.ndarray:
        from tierline.agent.livekit.tts import espeak_pcm

        if (pcm := self._cache.get(text)) is not None:
            self._cache.move_to_end(text)
            return pcm
        pcm = await espeak_pcm(text, 8000, self.voice, self.speed_wpm)
        self._cache[text] = pcm
        while len(self._cache) > self.size:
            self._cache.popitem(last=False)
        return pcm


class SipCall:
    """One call: media, decisions, prompts, transfer and record.

    Args:
        manager: The endpoint's call manager.
        session: The call's session (its record is the call record).
        dialog: The SIP dialog with the caller (callee, for an outbound call).
        leg: The caller's RTP leg (bound, not yet connected).
        direction: "inbound" or "outbound".
    """

    def __init__(self, manager: CallManager, session: CallSession, dialog: Dialog,
                 leg: RtpLeg, direction: str) -> None:
        self.manager = manager
        self.config: SipEndpointConfig = manager.config
        self.ua: UserAgent = manager.ua
        self.session = session
        self.dialog = dialog
        self.leg = leg
        self.direction = direction
        self.loop = asyncio.get_running_loop()
        self.prompts = Prompts(self.config.shared, session)
        self.pipeline = CallPipeline(session, manager.endpointing, self._post,
                                     self.config.shared.dtmf)
        self.recorder = CallRecorder(self.config.server.recordings_dir, session.record.call["id"])
        self.info: dict[str, Any] = session.record.call.setdefault("sip", {})
        self.info.update({"direction": direction, "bot": [], "dtmf": [], "barge_ins": 0})
        self.refer_result: asyncio.Future | None = None
        self.agent_leg: RtpLeg | None = None
        self.agent_dialog: Dialog | None = None
        self.transferring = False
        self.ended = asyncio.Event()
        self.started = time.monotonic()
        self._ending = False
        self._interruptible: set[str] = set()
        self._prompt_seq = 0
        self._tasks: set[asyncio.Task] = set()
        self.audio_taps: list[Callable[[np.ndarray], None]] = []  # e.g. answering-machine
        self.muted = False  # True: turns are still decided, the bot no longer answers them
        leg.on_audio = self._on_audio
        leg.on_sent = lambda pcm: self.recorder.write("bot", pcm)
        leg.on_digit = self._on_digit
        leg.player.on_start = self._prompt_started
        leg.player.on_end = self._prompt_ended

    @property
    def call_id(self) -> str:
        return self.dialog.call_id

    @property
    def short_id(self) -> str:
        return self.call_id[:12]

    # ------------------------------------------------------------------ running
    def start(self, negotiated: sdp.Negotiated, greet: bool = True) -> None:
        """Media flows: start the line clock, the decision thread, the watchdog, the opening
        (unless ``greet`` is False: an outbound campaign call listens for who answered first
        and says the opening itself)."""
        self.leg.connect(negotiated)
        self.info["codec"] = negotiated.codec.name
        self.info["dtmf_pt"] = negotiated.dtmf_pt
        self.pipeline.start()
        self.leg.start()
        self._spawn(self._watchdog())
        if greet:
            self._spawn(self.say(self.prompts.opening()))

    def _spawn(self, coro) -> asyncio.Task:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("call %s: task failed: %r", self.short_id, task.exception())

    async def _watchdog(self) -> None:
        server = self.config.server
        while not self._ending:
            await asyncio.sleep(0.5)
            quiet = time.monotonic() - self.leg.last_rx
            if quiet > server.no_rtp_timeout_s and self.agent_leg is None:
                logger.warning("call %s: no RTP for %.0f s, hanging up", self.short_id, quiet)
                await self.hangup(f"no RTP for {server.no_rtp_timeout_s:g} s")
            elif time.monotonic() - self.started > server.max_call_s:
                await self.hangup(f"longest call length {server.max_call_s:g} s reached")

    def _on_audio(self, pcm: np.ndarray, arrived: float) -> None:
        self.recorder.write("caller", pcm)
        self.pipeline.audio(pcm, arrived)
        for tap in self.audio_taps:
            tap(pcm)
        if self.agent_leg is not None:
            self.agent_leg.player.bridge.append(pcm)

    def _on_digit(self, digit: str) -> None:
        logger.info("call %s: DTMF %s", self.short_id, digit)
        self.pipeline.digit(digit)

    def _post(self, event: object) -> None:
        """From the decision thread: hand ``event`` to the event loop."""
        with contextlib.suppress(RuntimeError):  # loop closed at shutdown
            self.loop.call_soon_threadsafe(self._on_event, event)

    def _on_event(self, event: object) -> None:
        if isinstance(event, StopPrompt):
            if self.leg.player.playing in self._interruptible:
                self.leg.player.stop()
                self.info["barge_ins"] += 1
                logger.info("call %s: barge-in stopped %s", self.short_id, event.prompt_id)
        elif isinstance(event, TurnDecided):
            turn = event.turn
            logger.info("call %s: turn %d tier %s route %s %s", self.short_id, turn.index,
                        turn.tier.label, turn.route.action, turn.route.queue or "")
            self.manager.turn_decided(self, turn)
            self._act(turn.index, turn)
        elif isinstance(event, DigitDecided):
            self.info["dtmf"].append({"digit": event.digit, "intent": event.intent,
                                      "route": event.decision.to_dict()
                                      if event.decision else None})
            decision = event.decision
            if decision is not None and self.session.record.route is decision:
                self._act(decision.at_turn)

    def _act(self, index: int | None, turn=None) -> None:
        """After a decision at turn ``index``: hand off, or reply, or stay quiet."""
        route = self.session.record.route
        if self._ending or self.muted:
            return
        if (route is not None and route.action == "transfer" and route.at_turn == index
                and not self.transferring):
            self.transferring = True
            self._spawn(self.hand_off(route.queue or "general"))
        elif turn is not None and not self.transferring:
            self._spawn(self.say(self.prompts.reply(turn)))

    # ------------------------------------------------------------------ speaking
    async def say(self, lines: list[Line]) -> bool:
        """Play ``lines`` in order; True when all played out (False: barge-in or hang-up)."""
        played = True
        for line in lines:
            if self._ending:
                return False
            try:
                pcm = await self.manager.prompts.render(line.text)
            except Exception as exc:  # no TTS must not end the call
                logger.error("call %s: TTS failed: %s", self.short_id, exc)
                return False
            self._prompt_seq += 1
            prompt_id = f"p{self._prompt_seq}"
            if line.interruptible:
                self._interruptible.add(prompt_id)
            self.info["bot"].append({"text": line.text, "at_turn": len(self.session.record.turns),
                                     "interruptible": line.interruptible,
                                     "at_s": round(self.pipeline.position_s, 2)})
            played = await self.leg.player.play(prompt_id, pcm)
            if not played:
                self.info["bot"][-1]["stopped"] = True
                return False
        return played

    def _prompt_started(self, prompt_id: str) -> None:
        if prompt_id in self._interruptible:
            self.pipeline.prompt(prompt_id)

    def _prompt_ended(self, prompt_id: str, played: bool) -> None:
        if prompt_id in self._interruptible:
            self._interruptible.discard(prompt_id)
            self.pipeline.prompt(None)

    # ------------------------------------------------------------------ transfer
    async def hand_off(self, queue: str) -> TransferOutcome:
        """Announce the queue, transfer (retry, fallback, ticket), record the outcome."""
        await self.say(self.prompts.handoff(queue))
        headers = handoff_headers(self.session.record)
        try:
            outcome = await SipTelephony(self).transfer(
                "", "", queue, headers, on_retry=lambda: self.say(self.prompts.retry()))
        except Exception as exc:  # never let a transfer bug drop the call record
            logger.exception("call %s: transfer to %s crashed", self.short_id, queue)
            outcome = TransferOutcome(queue, "callback", headers=headers,
                                      note=f"transfer crashed: {exc}")
        if outcome.result == "callback":
            outcome.ticket = file_callback(self.session.record, queue, headers, outcome,
                                           self.info.get("from"),
                                           self.config.server.callbacks_file)
            await self.say(self.prompts.fallback(queue))
        self.info["transfer"] = {**outcome.to_dict(), "mode": self.config.transfer.mode}
        if outcome.connected and self.agent_leg is None:  # REFER done: the caller left us
            await asyncio.sleep(0.5)
            await self.hangup("transferred by REFER")
        return outcome

    def bridge_to(self, agent: RtpLeg, dialog: Dialog) -> None:
        """The agent answered a bridged transfer: relay both ways (the bot keeps listening)."""
        self.agent_leg = agent
        self.agent_dialog = dialog
        self.leg.player.stop()

    # ------------------------------------------------------------------ SIP in the dialog
    def on_request(self, req: SipMessage, addr: tuple[str, int]) -> None:
        """A request inside this call's dialogs (caller's or, when bridged, the agent's)."""
        method = req.method
        agent_side = self.agent_dialog is not None and req.call_id == self.agent_dialog.call_id
        if method == "BYE":
            self.ua.respond(req, addr, 200)
            who = "agent hung up" if agent_side else (
                "caller hung up" if self.direction == "inbound" else "callee hung up")
            self._spawn(self.end(who, bye_caller=agent_side, bye_agent=not agent_side))
        elif method == "NOTIFY":
            self._notify(req, addr)
        elif method == "INVITE":
            self._reinvite(req, addr)
        elif method == "INFO":
            self.ua.respond(req, addr, 200)
            body = req.body.decode("utf-8", "replace")
            for line in body.splitlines():
                key, _, value = line.partition("=")
                if key.strip().lower() == "signal" and value.strip():
                    self._on_digit(value.strip()[0])
        elif method in ("OPTIONS", "UPDATE"):
            self.ua.respond(req, addr, 200)
        elif method == "REFER":
            self.ua.respond(req, addr, 603)  # the bot does not let callers transfer it
        else:
            self.ua.respond(req, addr, 405, headers=[("Allow", "INVITE, ACK, CANCEL, BYE, "
                                                              "OPTIONS, REFER, NOTIFY, INFO")])

    def _notify(self, req: SipMessage, addr: tuple[str, int]) -> None:
        self.ua.respond(req, addr, 200)
        if (req.get("event") or "").split(";")[0].strip().lower() != "refer":
            return
        status = sipfrag_status(req.body)
        self.info.setdefault("notify", []).append(status)
        if (status is not None and status >= 200 and self.refer_result is not None
                and not self.refer_result.done()):
            self.refer_result.set_result(status)

    def _reinvite(self, req: SipMessage, addr: tuple[str, int]) -> None:
        """A re-INVITE (hold, codec change, refresh): answer with our stream again."""
        try:
            negotiated = sdp.negotiate(sdp.parse(req.body), self.config.trunk.codecs) \
                if req.body else self.leg.negotiated
        except sdp.SdpError:
            self.ua.respond(req, addr, 488, to_tag=self.dialog.local_tag)
            return
        if negotiated is not None:
            self.leg.connect(negotiated)
        codec = (negotiated or self.leg.negotiated).codec  # type: ignore[union-attr]
        body = sdp.build(self.ua.advertised, self.leg.port, [codec],
                         self.leg.negotiated.dtmf_pt if self.leg.negotiated else None,
                         version=2)
        self.ua.respond(req, addr, 200, to_tag=self.dialog.local_tag, body=body)

    # ------------------------------------------------------------------ ending
    async def hangup(self, reason: str) -> None:
        """We end the call: BYE to the caller (and the agent leg), then the record."""
        await self.end(reason, bye_caller=True, bye_agent=True)

    async def _bye(self, dialog: Dialog) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(
                self.ua.request(dialog.request(self.ua, "BYE"), dialog.destination()), 5)

    async def end(self, reason: str, bye_caller: bool = False, bye_agent: bool = True) -> None:
        """End the call once: stop media, decide the open turn, store the record."""
        if self._ending:
            return
        self._ending = True
        logger.info("call %s ends: %s", self.short_id, reason)
        self.leg.player.stop()
        byes = []
        if bye_caller:
            byes.append(self._bye(self.dialog))
        if self.agent_leg is not None:
            self.agent_leg.close()
            if bye_agent and self.agent_dialog is not None:
                byes.append(self._bye(self.agent_dialog))
        self.leg.close()
        if self.refer_result is not None and not self.refer_result.done():
            self.refer_result.set_result(487)
        await asyncio.gather(*byes)
        self.pipeline.finish()
        finished = await asyncio.to_thread(self.pipeline.join, 300)
        record = self.session.record
        record.call["duration_s"] = round(time.monotonic() - self.started, 2)
        record.call["ended_at"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        self.info["end_reason"] = reason
        self.info["rtp"] = self.leg.stats()
        self.info["recordings"] = self.recorder.close()
        self.info["heard_s"] = round(self.pipeline.position_s, 2)
        if self.pipeline.errors:
            record.call["error"] = "; ".join(self.pipeline.errors)[:500]
        if not finished:
            record.call["error"] = "decision thread still busy at the end of the call"
        for task in list(self._tasks):
            if task is not asyncio.current_task():
                task.cancel()
        self.manager.finished(self)
        self.ended.set()
