"""How likely a caller's words so far end their turn: a small learned model on the text's ending.

The endpointer asks it in a pause, with the speculative decode's transcript, to close a turn
that is plainly finished before the full hangover (``ConfirmConfig.early_close_ms``) and to keep
waiting longer on one that plainly is not (``ConfirmConfig.unfinished_hangover_ms``). Whisper
base seldom punctuates Mandarin, so the model reads the characters the text ends on, not its
punctuation: a logistic regression over the last one to three characters (digits folded to
one class), the text's length and the rules of :mod:`tierline.audio.turn_end` (inside a
number, on a conjunction or filler, a sentence-final particle).

Trained by ``tierline train turn-end`` (:mod:`tierline.audio.training.turn_end`) on written
user turns (their sentence ends are complete, cuts at word boundaries inside a sentence are
not); the weights ship as ``audio/models/turn_end.json``. Plain Python at run time.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from tierline.audio.errors import AudioError
from tierline.audio.quantity import ends_inside_quantity
from tierline.audio.turn_end import ends_turn, goes_on

MODEL_PATH = Path(__file__).resolve().parent / "models" / "turn_end.json"

_NOT_WORD = re.compile(r"[^\w]+|_")
_DIGIT = re.compile(r"[0-9０-９零〇一二两三四五六七八九十百千万亿幺]")
_LENGTHS = (1, 2, 3, 5, 8, 12, 20)


def bare(text: str) -> str:
    """The text without punctuation or spaces (what the model reads)."""
    return _NOT_WORD.sub("", text or "")


def features(text: str) -> list[str]:
    """The model's features of a transcript so far."""
    words = bare(text)  # Whisper puts a full stop wherever the audio stops: never read it
    chars = _DIGIT.sub("#", words)
    out = [f"len<={next((n for n in _LENGTHS if len(chars) <= n), 99)}"]
    for k in (1, 2, 3):
        if len(chars) >= k:
            out.append(f"s{k}:{chars[-k:]}")
    if len(chars) >= 2:
        out.append(f"p2:{chars[:2]}")  # 如果/因为/我想... open a clause the turn must close
    if ends_inside_quantity(words):
        out.append("rule:number")
    if goes_on(words):
        out.append("rule:goes_on")
    if ends_turn(words):
        out.append("rule:ends")
    return out


@dataclass(frozen=True)
class TurnEndModel:
    """A trained end-of-turn model.

    Attributes:
        weights: Feature -> weight of the logistic regression.
        bias: Its intercept.
        close_at: Probability from which a turn counts as plainly finished.
        hold_below: Probability under which a turn counts as plainly unfinished.
        trained_on: What it was trained on (for ``--json`` outputs and the results).
    """

    weights: dict[str, float]
    bias: float
    close_at: float
    hold_below: float
    trained_on: str = ""

    def complete(self, text: str | None) -> float:
        """Probability that the caller's turn is over after ``text`` (0 for no words)."""
        if not text or not bare(text):
            return 0.0
        z = self.bias + sum(self.weights.get(f, 0.0) for f in features(text))
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))

    def finished(self, text: str | None) -> bool:
        """Plainly finished: a turn the endpointer may close early (never one that stops
        inside a number: the quantity rule holds those)."""
        return self.complete(text) >= self.close_at and not ends_inside_quantity(bare(text))

    def unfinished(self, text: str | None) -> bool:
        """Plainly unfinished: a turn the endpointer keeps open longer."""
        return bool(text and bare(text)) and self.complete(text) < self.hold_below

    def to_json(self) -> dict:
        return {"bias": self.bias, "close_at": self.close_at, "hold_below": self.hold_below,
                "trained_on": self.trained_on, "weights": self.weights}


@lru_cache(maxsize=4)
def load_turn_end_model(path: str | Path | None = None) -> TurnEndModel:
    """The shipped (or a given) end-of-turn model.

    Raises:
        AudioError: the file is missing or not such a model.
    """
    where = Path(path) if path is not None else MODEL_PATH
    try:
        data = json.loads(where.read_text(encoding="utf-8"))
        return TurnEndModel({str(k): float(v) for k, v in data["weights"].items()},
                            float(data["bias"]), float(data["close_at"]),
                            float(data["hold_below"]), str(data.get("trained_on", "")))
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise AudioError(f"end-of-turn model {where} is missing or broken: {exc}") from exc
