"""The Tierline agent on livekit-agents: every committed caller turn → NLU → tier → route.

``on_user_turn_completed`` is where the decision happens: the transcripts the STT filed for
the turn (with their place in the call) go through the transport-independent
:class:`~tierline.agent.session.CallSession`, the turn record goes to our own store (livekit's
session history omits turns that never reach an LLM), and the bot speaks the reply or
announces and performs the transfer. Without an LLM the hook ends with ``StopResponse``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from livekit.agents import Agent, llm
from livekit.agents.voice import SpeechHandle

from tierline.agent.livekit.ledger import CallLedger, HeardUtterance
from tierline.agent.livekit.prompts import Line, Prompts
from tierline.agent.livekit.telephony import TransferAttempt, TransferOutcome, handoff_headers
from tierline.agent.records import CallRecord, TurnRecord
from tierline.agent.session import CallSession
from tierline.audio.turn_clock import TurnTiming

logger = logging.getLogger("tierline.livekit")

TransferFn = Callable[[str, dict[str, str], Callable[[], Awaitable[None]]],
                      Awaitable[TransferOutcome]]
INSTRUCTIONS = ("You are a polite Mandarin call-centre assistant for a B2B software vendor. "
                "Answer briefly in Simplified Chinese.")


def merge_heard(items: list[HeardUtterance]) -> dict[str, Any]:
    """One turn from the utterances livekit committed together (usually exactly one; the
    recogniser's other readings are kept only then, they cannot be joined)."""
    return {
        "text": "".join(i.text for i in items),
        "start_s": items[0].start_s,
        "end_s": items[-1].end_s,
        "language": items[0].language,
        "dialect": items[0].dialect,
        "asr_ms": sum(i.asr_ms for i in items),
        "timing": items[-1].timing,
        "asr_confidence": sum(i.confidence for i in items) / len(items),
        "alternatives": items[0].alternatives if len(items) == 1 else (),
    }


class TierlineAgent(Agent):
    """Caller tiering and routing as a livekit ``Agent``.

    Args:
        call: The call's session (models, customer, policy, record).
        ledger: What the VAD/STT plugins learnt about this call's utterances.
        prompts: The bot's lines.
        transfer: Performs a SIP transfer (None when the call has no SIP leg, e.g. offline).
        callbacks_file: JSONL file that receives callback tickets.
        on_turn: Called with every decided turn (e.g. to print it).
        with_llm: An LLM is configured: it answers turns the bot keeps.
    """

    def __init__(self, call: CallSession, ledger: CallLedger, prompts: Prompts,
                 transfer: TransferFn | None = None, callbacks_file: str | None = None,
                 on_turn: Callable[[TurnRecord], None] | None = None,
                 with_llm: bool = False) -> None:
        super().__init__(instructions=INSTRUCTIONS)
        self.call = call
        self.ledger = ledger
        self.prompts = prompts
        self.transfer_fn = transfer
        self.callbacks_file = callbacks_file
        self.on_turn = on_turn
        self.with_llm = with_llm
        self.transferring = False
        self.tasks: set[asyncio.Task[Any]] = set()
        self.info: dict[str, Any] = call.record.call.setdefault("livekit", {})
        self.info.setdefault("turn_metrics", [])
        self.info.setdefault("bot", [])

    # ------------------------------------------------------------------ speaking
    def speak(self, lines: list[Line], settle: int = 0,
              then: Callable[[], Any] | None = None) -> SpeechHandle | None:
        """Say ``lines``; when the last one has played, settle utterances and run ``then``."""
        handle = None
        for line in lines:
            handle = self.session.say(line.text, allow_interruptions=line.interruptible)
            self.info["bot"].append({"text": line.text, "at_turn": len(self.call.record.turns),
                                     "interruptible": line.interruptible})
        if handle is None:
            self._after(settle, then)
            return None
        handle.add_done_callback(lambda _h: self._after(settle, then))
        return handle

    def _after(self, settle: int, then: Callable[[], Any] | None) -> None:
        if settle:
            self.ledger.settle(settle)
        if then is not None:
            result = then()
            if asyncio.iscoroutine(result):
                task = asyncio.ensure_future(result)
                self.tasks.add(task)
                task.add_done_callback(self.tasks.discard)

    async def on_enter(self) -> None:
        self.ledger.released += 1  # the caller waits for the opening
        self.ledger.ready.set()
        self.speak(self.prompts.opening(), settle=1)

    # ------------------------------------------------------------------ deciding
    async def on_user_turn_completed(self, turn_ctx: llm.ChatContext,
                                     new_message: llm.ChatMessage) -> None:
        items = self.ledger.take_turn()
        if items:
            heard = merge_heard(items)
        else:  # transcript from an STT that is not ours: no call timeline
            heard = {"text": new_message.text_content or "", "start_s": 0.0, "end_s": 0.0,
                     "language": "zh", "dialect": None, "asr_ms": 0.0,
                     "timing": TurnTiming.now(),
                     "asr_confidence": new_message.transcript_confidence}
        if not heard["text"]:
            raise llm.StopResponse()
        turn = await asyncio.to_thread(self._decide, items, heard)
        if turn is None:
            self.ledger.settle(len(items))
            raise llm.StopResponse()
        metrics = dict(new_message.metrics or {})
        self.info["turn_metrics"].append({
            "turn": turn.index,
            "transcription_delay": metrics.get("transcription_delay"),
            "end_of_turn_delay": metrics.get("end_of_turn_delay"),
            "utterances": len(items),
        })
        logger.info("turn %d: tier %s, route %s %s", turn.index, turn.tier.label,
                    turn.route.action, turn.route.queue or "")
        if self.on_turn is not None:
            self.on_turn(turn)
        self.act(turn.index, settle=len(items), turn=turn)

    def _decide(self, items: list[HeardUtterance], heard: dict[str, Any]) -> TurnRecord | None:
        """The call session decides; one utterance goes the way `tierline replay` sends it."""
        if len(items) == 1 and items[0].utterance is not None:
            # the session's recogniser is the call's memo: this is no second decode
            return self.call.on_utterance(items[0].utterance, items[0].timing,
                                          asr_ms=items[0].asr_ms)
        return self.call.on_text(**heard)

    def act(self, index: int, settle: int = 0, turn: TurnRecord | None = None) -> None:
        """Speak and/or transfer after a decision taken at turn ``index``."""
        route = self.call.record.route
        if (route is not None and route.action == "transfer" and route.at_turn == index
                and not self.transferring):
            self.transferring = True
            queue = route.queue or "general"
            self.speak(self.prompts.handoff(queue), settle=settle,
                       then=lambda: self.hand_off(queue))
            raise llm.StopResponse()
        if self.transferring:
            self.ledger.settle(settle)  # transfer under way: the bot stays quiet
            raise llm.StopResponse()
        if self.with_llm:
            self.ledger.settle(settle)
            return  # the LLM answers
        self.speak(self.prompts.reply(turn), settle=settle)
        raise llm.StopResponse()

    # ------------------------------------------------------------------ DTMF
    def on_dtmf(self, digit: str) -> None:
        """A keypad digit from the caller (``sip_dtmf_received``), read into the policy."""
        intent = self.prompts.config.dtmf.get(digit)
        entry: dict[str, Any] = {"digit": digit, "intent": intent}
        self.info.setdefault("dtmf", []).append(entry)
        if intent is None:
            logger.info("DTMF %s has no meaning in the config; ignored", digit)
            return
        decision = self.call.on_digit(digit, intent)
        entry["route"] = decision.to_dict()
        if decision.action == "transfer" and self.call.record.route is decision:
            with contextlib.suppress(llm.StopResponse):
                self.act(decision.at_turn)

    # ------------------------------------------------------------------ transfers
    async def hand_off(self, queue: str) -> TransferOutcome:
        """Transfer to ``queue`` (retry once, fallback queue, callback ticket); recorded."""
        headers = handoff_headers(self.call.record)
        if self.transfer_fn is None:
            outcome = self._offline_outcome(queue, headers)
        else:
            async def tell_retry() -> None:
                await self._say_and_wait(self.prompts.retry())

            try:
                outcome = await self.transfer_fn(queue, headers, tell_retry)
            except Exception as exc:  # never let a telephony bug drop the call record
                logger.exception("transfer to %s crashed", queue)
                outcome = TransferOutcome(queue, "callback", headers=headers,
                                          note=f"transfer crashed: {exc}")
        if outcome.result == "callback":
            outcome.ticket = self.file_callback(queue, headers, outcome)
            await self._say_and_wait(self.prompts.fallback(queue))
        self.info["transfer"] = outcome.to_dict()
        return outcome

    def _offline_outcome(self, queue: str, headers: dict[str, str]) -> TransferOutcome:
        """No SIP leg: resolve the targets the transfer would use, send nothing."""
        outcome = TransferOutcome(queue, headers=headers, note="no SIP participant (offline)")
        current, seen = queue, set()
        while current and current not in seen:
            seen.add(current)
            q = self.prompts.config.queue(current)
            if q.target:
                outcome.attempts.append(TransferAttempt(current, q.target, False, "offline"))
                outcome.result = "not_attempted"
                return outcome
            logger.error("transfer target for queue %s is missing from %s", current,
                         self.prompts.config.source)
            outcome.attempts.append(TransferAttempt(current, "", False, "no_target",
                                                    "queue has no target in the config"))
            current = q.fallback
        outcome.result = "callback"
        return outcome

    async def _say_and_wait(self, lines: list[Line]) -> None:
        handle = self.speak(lines)
        if handle is not None:
            try:
                await handle.wait_for_playout()
            except Exception:  # the caller may be gone already
                logger.debug("prompt not played out", exc_info=True)

    def file_callback(self, queue: str, headers: dict[str, str],
                      outcome: TransferOutcome) -> dict[str, Any]:
        """Append a callback ticket (JSON line) for a handoff that did not connect."""
        return file_callback(self.call.record, queue, headers, outcome,
                             self.info.get("caller_number"), self.callbacks_file)


def file_callback(record: CallRecord, queue: str, headers: dict[str, str],
                  outcome: TransferOutcome, phone: str | None,
                  callbacks_file: str | None) -> dict[str, Any]:
    """Append a callback ticket (JSON line) for a handoff that did not connect; every
    transport (LiveKit, the built-in SIP endpoint) files the same ticket."""
    ticket = {"created_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
              "call": record.call.get("id"), "customer": record.call.get("customer"),
              "phone": phone, "queue": queue,
              "tier": record.final_tier.label, "headers": headers,
              "attempts": [a.to_dict() for a in outcome.attempts]}
    if callbacks_file:
        try:
            path = Path(callbacks_file)
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("a", encoding="utf-8") as f:
                f.write(json.dumps(ticket, ensure_ascii=False) + "\n")
            ticket["file"] = str(path)
        except OSError as exc:
            logger.error("cannot write callback ticket to %s: %s", callbacks_file, exc)
    logger.warning("callback ticket filed for %s (queue %s)", record.call.get("id"), queue)
    return ticket
