"""Run the answering-machine detector over constructed calls and score it per outcome.

Each case is streamed 20 ms at a time as a campaign call would deliver it. The bot behaves as
the campaign runner does: it speaks (``BOT_S`` of prompt) into the callee's first pause; a
human case with a reply starts it ``REPLY_DELAY_S`` after the bot stops. The detector decides
when it is sure or when its window ends.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from tierline.audio.answering import (
    FRAME,
    OUTCOMES,
    AmdConfig,
    AmdDecision,
    AnsweringMachineDetector,
)
from tierline.audio.evaluation.amd_cases import Case

BOT_S = 1.6
REPLY_DELAY_S = 0.5


@dataclass(frozen=True)
class Result:
    """One case's decision."""

    case: Case
    decision: AmdDecision

    @property
    def correct(self) -> bool:
        return self.decision.outcome == self.case.label


def run_case(case: Case, config: AmdConfig | None = None) -> AmdDecision:
    """Stream ``case`` through a fresh detector, with the bot speaking into the first pause."""
    det = AnsweringMachineDetector(config)
    audio = case.audio.copy()
    bot_from: float | None = None
    bot_to: float | None = None
    window = det.config.window_s
    pos = 0
    while pos + FRAME <= len(audio) and det.position_s < window:
        if det.push(audio[pos : pos + FRAME]) is not None:
            return det.decision  # type: ignore[return-value]
        pos += FRAME
        now = pos / 8000
        if bot_from is None and det.paused:
            bot_from = now
            det.bot_started()
        if bot_from is not None and bot_to is None and now >= bot_from + BOT_S:
            bot_to = now
            det.bot_stopped()
            if case.reply is not None:
                at = pos + int(REPLY_DELAY_S * 8000)
                end = min(len(audio), at + len(case.reply))
                audio[at:end] = case.reply[: end - at]
    return det.finish()


def evaluate(cases: list[Case], config: AmdConfig | None = None) -> list[Result]:
    return [Result(c, run_case(c, config)) for c in cases]


def scores(results: list[Result]) -> dict[str, dict[str, float]]:
    """Precision, recall and support per outcome (``unknown`` counts as a miss)."""
    out: dict[str, dict[str, float]] = {}
    for label in OUTCOMES:
        said = [r for r in results if r.decision.outcome == label]
        truth = [r for r in results if r.case.label == label]
        hit = sum(1 for r in said if r.case.label == label)
        out[label] = {"precision": hit / len(said) if said else float("nan"),
                      "recall": hit / len(truth) if truth else float("nan"),
                      "said": len(said), "support": len(truth)}
    return out


def confusion(results: list[Result]) -> dict[str, Counter]:
    table: dict[str, Counter] = {}
    for r in results:
        table.setdefault(r.case.label, Counter())[r.decision.outcome] += 1
    return table


def decision_times(results: list[Result]) -> dict[str, float]:
    """Median seconds of callee audio heard before deciding, per true label."""
    out = {}
    for label in ("human", "voicemail", "ivr"):
        t = [r.decision.at_s for r in results if r.case.label == label]
        if t:
            out[label] = float(np.median(t))
    return out

