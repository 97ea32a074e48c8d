"""The first seconds of an answered campaign call: who answered, and what the bot does then.

The call starts without its opening (``greet=False``). The callee's audio goes to the
answering-machine detector (:mod:`tierline.audio.answering`) through the call's audio tap;
the bot says its opening into the callee's first pause, as a person calling would, and the
detector hears whether the callee waits for it and answers (a person) or talks on (a
machine). Then:

* **human** (or unknown) — the call goes on as any call of the endpoint: dialog, tiering,
  routing, transfer; the runner waits for its end.
* **voicemail** — the opening is cut, the configured voicemail message is said after the beep
  (or nothing, with ``voicemail_message`` empty), and the bot hangs up.
* **ivr** — the bot hangs up.

The decision goes into the call record as ``call.amd``.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from tierline.agent.livekit.prompts import Line
from tierline.audio.answering import AmdConfig, AmdDecision, AnsweringMachineDetector

logger = logging.getLogger("tierline.campaign")


@dataclass(frozen=True)
class ScreeningConfig:
    """What answered calls do.

    Attributes:
        amd: Detector thresholds (its ``window_s`` bounds the screening).
        voicemail_message: Said after a voicemail box's beep; "" hangs up at once.
        max_call_s: A screened call is hung up after this long (it usually ends sooner).
    """

    amd: AmdConfig = AmdConfig()
    voicemail_message: str = ("您好，这里是星辰科技客户服务，我们稍后会再联系您，"
                              "也欢迎您回电，谢谢。")
    max_call_s: float = 600.0


async def screen(call, config: ScreeningConfig) -> AmdDecision:
    """Run the detector on ``call`` (a started :class:`~tierline.agent.sip.call.SipCall`
    with ``greet=False``) until it decides; say the opening into the first pause."""
    det = AnsweringMachineDetector(config.amd)
    decided = asyncio.Event()
    opening: asyncio.Task | None = None

    async def speak_opening() -> None:
        det.bot_started()
        try:
            await call.say(call.prompts.opening())
        finally:
            det.bot_stopped()

    def tap(pcm) -> None:
        nonlocal opening
        if decided.is_set():
            return
        if det.push(pcm) is not None:
            decided.set()
        elif opening is None and det.paused:
            opening = asyncio.ensure_future(speak_opening())

    call.audio_taps.append(tap)
    try:
        ended = asyncio.ensure_future(call.ended.wait())
        waiter = asyncio.ensure_future(decided.wait())
        await asyncio.wait({ended, waiter}, timeout=config.amd.window_s + 2,
                           return_when=asyncio.FIRST_COMPLETED)
        for task in (ended, waiter):
            task.cancel()
    finally:
        call.audio_taps.remove(tap)
    decision = det.finish()
    call.session.record.call["amd"] = decision.to_dict()
    logger.info("call %s: %s (%.2f) %s", call.short_id, decision.outcome,
                decision.confidence, "; ".join(decision.reasons))
    if decision.machine:
        call.muted = True  # a recording gets no replies and no transfer
        call.leg.player.stop()
        if opening is not None:
            opening.cancel()
    elif opening is None and not call.ended.is_set():
        await speak_opening_now(call, det)
    return decision


async def speak_opening_now(call, det: AnsweringMachineDetector) -> None:
    """The callee never paused before the decision: start the opening now (not awaited to
    its end; the call runs on)."""
    det.bot_started()
    asyncio.ensure_future(call.say(call.prompts.opening()))


async def after_screening(call, decision: AmdDecision, config: ScreeningConfig) -> None:
    """Leave the voicemail message or hang up on a machine; let a person's call run."""
    if call.ended.is_set():
        return
    if decision.outcome == "voicemail":
        if config.voicemail_message:
            call.info.setdefault("voicemail", {})["message"] = config.voicemail_message
            await call.say([Line(config.voicemail_message, interruptible=False)])
            await call.hangup("voicemail: message left")
        else:
            await call.hangup("voicemail: hung up without a message")
        return
    if decision.outcome == "ivr":
        await call.hangup("an IVR answered: hung up")
        return
    try:
        await asyncio.wait_for(call.ended.wait(), config.max_call_s)
    except asyncio.TimeoutError:
        await call.hangup(f"campaign call longer than {config.max_call_s:g} s")
