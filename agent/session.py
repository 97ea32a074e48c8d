"""One call's pipeline: utterance → ASR → NLU → emotion → tier → route, turn after turn.

Transport-independent: replay, the SIP endpoint and LiveKit all feed a :class:`CallSession`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from tierline.agent.policy import RouteDecision, RoutingPolicy
from tierline.agent.records import CallRecord, TurnRecord
from tierline.audio.arousal import CallerVoice
from tierline.audio.emotion import fuse_emotion
from tierline.audio.records import Utterance, VoiceAffect
from tierline.audio.turn_clock import TurnTiming
from tierline.dialects.asr import ASR
from tierline.dialects.memo import MemoASR
from tierline.nlu.pipeline import Nlu, normalize
from tierline.nlu.records import IntentScore, NluResult
from tierline.nlu.vocab import INTENTS, LANGUAGES
from tierline.segmentation.features import CustomerProfile
from tierline.segmentation.records import TurnEvidence
from tierline.segmentation.tier import TierScorer

if TYPE_CHECKING:
    from tierline.agent.dialog import DialogManager, Reply


@dataclass(frozen=True)
class Models:
    """Models loaded once per process and shared by every call."""

    nlu: Nlu
    asr: ASR | None = None


class CallSession:
    """Decides tier and route after every caller turn of one call.

    Args:
        models: Shared models.
        customer: CRM record of the caller.
        call: Call metadata copied into the record.
        policy: Routing policy.
        dialog: Optional dialog manager; when given, every turn record carries the bot's
            reply (``TurnRecord.reply``), chosen after the route decision.
    """

    def __init__(self, models: Models, customer: CustomerProfile, call: dict,
                 policy: RoutingPolicy | None = None,
                 dialog: DialogManager | None = None) -> None:
        self.models = models
        # one memoising recogniser per call, shared by the endpointer's partial transcripts,
        # a transport's STT and the turn itself, so each stretch of audio is decoded once
        # (a recogniser that tracks the caller, such as their dialect, gives each call its own)
        self.asr: MemoASR | None = (MemoASR(models.asr.for_call(str(call.get("id", ""))))
                                    if models.asr is not None else None)
        self.policy = policy or RoutingPolicy()
        self.scorer = TierScorer(customer)
        self.record = CallRecord(call=call, initial_tier=self.scorer.initial())
        self.dialog = dialog
        self.voice = CallerVoice()  # this caller's prosody baseline, turn by turn

    def open(self) -> Reply | None:
        """The bot's opening (disclosure + greeting), recorded in the call; None without dialog."""
        if self.dialog is None:
            return None
        self.record.opening = self.dialog.opening()
        return self.record.opening

    @property
    def route(self) -> RouteDecision | None:
        return self.record.route

    def hear(self, audio) -> str:
        """What the recogniser hears in ``audio`` (an open turn, for quantity-aware
        endpointing); remembered, so the turn that closes on the same audio is not decoded
        again."""
        if self.asr is None:
            raise RuntimeError("this session has no ASR model")
        return self.asr.transcribe(audio).text

    def idle(self) -> bool:
        """Whether the call's recogniser would start a decode at once (the endpointer's
        look-ahead asks before it speculates)."""
        return self.asr is not None and self.asr.idle()

    def on_utterance(self, utt: Utterance, timing: TurnTiming | None = None,
                     asr_ms: float | None = None) -> TurnRecord | None:
        """Transcribe one utterance and decide on it.

        Args:
            utt: Utterance closed by the endpointer.
            timing: When the caller's last voiced frame arrived and when the endpointer
                closed the turn (:meth:`tierline.audio.turn_clock.FrameClock.timing`); the
                decision latency runs from the first (default: now, for both).
            asr_ms: The recognition time the transport measured, when it transcribed the
                utterance itself (default: the decode's own ``compute_ms``).

        Returns:
            The turn record, or None when the recogniser heard no words.
        """
        if self.asr is None:
            raise RuntimeError("this session has no ASR model")
        timing = timing or TurnTiming.now()
        transcript = self.asr.transcribe(utt.audio)
        if asr_ms is None:
            asr_ms = transcript.compute_ms  # the decode's cost, even when the endpointer paid it
        if not transcript.text:
            return None
        voice = self.voice.observe(utt.audio, utt.sample_rate, transcript.text)
        return self.on_text(
            transcript.text, utt.start_s, utt.end_s, transcript.language, transcript.dialect,
            asr_ms=asr_ms, timing=timing, asr_confidence=transcript.confidence,
            voice=voice, alternatives=transcript.alternatives,
            language_prob=transcript.language_prob,
            dialect_confidence=transcript.dialect_confidence,
        )

    def on_text(self, text: str, start_s: float = 0.0, end_s: float = 0.0,
                language: str = "zh", dialect: str | None = None, asr_ms: float = 0.0,
                timing: TurnTiming | None = None,
                asr_confidence: float | None = None,
                voice: VoiceAffect | None = None,
                alternatives: tuple[tuple[str, float], ...] = (),
                language_prob: float | None = None,
                dialect_confidence: float | None = None) -> TurnRecord:
        """Decide on one caller turn given as text (``voice``: the turn's vocal affect;
        ``alternatives``: the recogniser's other readings, see :meth:`Nlu.analyze`;
        ``timing``: when the turn ended, see :meth:`on_utterance`; ``dialect``: the caller's
        dialect so far, which picks the queue that speaks it)."""
        timing = timing or TurnTiming.now()
        t0 = time.perf_counter()
        if language in LANGUAGES:
            nlu = self.models.nlu.analyze(text, alternatives)
        else:  # words the NLU never learnt to read: no intent, entity or sentiment evidence
            nlu = _unread(text)
        t1 = time.perf_counter()
        scores = nlu.scores
        emotion = fuse_emotion(voice, nlu.sentiment, nlu.anger, scores.get("hesitation", 0.0))
        evidence = TurnEvidence(
            intent_scores=scores,
            budget_cny=nlu.entities.budget_cny,
            seats=nlu.entities.seats,
            sentiment=nlu.sentiment,
            anger=nlu.anger,
            emotion=emotion.label,
            arousal=emotion.arousal,
            competitor=nlu.entities.competitor,
            text=text,
        )
        tier = self.scorer.update(evidence)
        t2 = time.perf_counter()
        index = len(self.record.turns)
        decision = self.policy.decide(
            index, tier.label, nlu.intent.label, emotion.label,
            tier.reasons[0] if tier.reasons else "", nlu.intent.score, language, dialect)
        t3 = time.perf_counter()
        self.record.route = self.policy.in_force(self.record.route, decision)
        turn = TurnRecord(
            index=index, start_s=start_s, end_s=end_s, text=text, language=language,
            dialect=dialect, intent=(nlu.intent.label, nlu.intent.score),
            intents=tuple((i.label, i.score) for i in nlu.intents),
            entities=nlu.entities.to_dict(), emotion=emotion, tier=tier, route=decision,
            latency_ms={"endpoint": timing.endpoint_ms, "asr": asr_ms,
                        "nlu": (t1 - t0) * 1000, "tier": (t2 - t1) * 1000,
                        "decision": (t3 - timing.voiced_end_at) * 1000},
            asr_confidence=asr_confidence,
            also_heard=_other_readings(text, alternatives),
            language_prob=language_prob, dialect_confidence=dialect_confidence,
        )
        if self.dialog is not None:
            turn = self._reply(turn, evidence)
        self.record.turns.append(turn)
        return turn

    def on_digit(self, digit: str, intent: str | None) -> RouteDecision | None:
        """A keypad digit the configuration reads as ``intent``, decided by the policy.

        Returns:
            The decision on the digit (None when the digit means nothing); the call's route
            takes it unless a transfer was already decided.
        """
        if intent is None:
            return None
        index = max(0, len(self.record.turns) - 1)
        dialect = self.record.turns[-1].dialect if self.record.turns else None
        decision = self.policy.decide(index, self.record.final_tier.label, intent, "neutral",
                                      f"DTMF {digit}", dialect=dialect)
        self.record.route = self.policy.in_force(self.record.route, decision)
        return decision

    def _reply(self, turn: TurnRecord, evidence: TurnEvidence) -> TurnRecord:
        """Attach the dialog manager's reply; a transfer the caller accepted becomes the route."""
        t0 = time.perf_counter()
        reply = self.dialog.respond(turn, scorer=self.scorer, evidence=evidence,
                                    nlu=self.models.nlu)
        route = turn.route
        if reply.transfer:
            offered = self.policy.for_dialect(
                RouteDecision("transfer", reply.transfer, turn.index,
                              "caller accepted the bot's offer of a human",
                              self.policy.queues.get(reply.transfer)), turn.dialect)
            self.record.route = self.policy.in_force(self.record.route, offered)
            if self.record.route is offered:
                route = offered
        latency = {**turn.latency_ms, "reply": (time.perf_counter() - t0) * 1000}
        return replace(turn, reply=reply, route=route, latency_ms=latency)


def _unread(text: str) -> NluResult:
    """What a turn in a language the NLU does not read tells: nothing (``other``)."""
    other = IntentScore("other", 1.0)
    return NluResult(text, other, (other,), scores={i: float(i == "other") for i in INTENTS})


def _other_readings(text: str, alternatives: tuple[tuple[str, float], ...]) -> tuple[str, ...]:
    """The beam's readings that differ from ``text`` once normalised as the NLU reads them
    (so "我很生气，" and "我很生气," count once), distinct and best first; empty for a
    single reading."""
    if len(alternatives) < 2:
        return ()
    seen = {normalize(text)}
    out = []
    for reading, _ in alternatives:
        key = normalize(reading)
        if key and key not in seen:
            seen.add(key)
            out.append(reading)
    return tuple(out)
