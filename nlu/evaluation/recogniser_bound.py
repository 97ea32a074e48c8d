"""How much of a noisy copy's intent loss is the recogniser's, and how much the reader's.

Each turn of a noisy-ASR copy is put in a band by the character error rate (CER) of its
transcript against what was said (:func:`tierline.dialects.normalize.normalize_text`, as
``asr-eval`` scores), beside the intent model's two readings of it: from Whisper's beam, as a
call reads the turn, and from the clean utterance (``tierline nlu-eval`` makes both). Where
both readings are right, nothing was lost; where only the clean one is, the words are gone or
the reader missed them.

The *reader ceiling* at a band edge is the macro-F1 of a reader that reads every transcript
below the edge as well as it reads the clean utterance, and the rest as the model does now:
what perfect robustness to that much recogniser damage would buy, with the same recogniser.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from tierline.dialects.normalize import edit_distance, normalize_text
from tierline.nlu.data import Example
from tierline.nlu.evaluation.scores import score

__all__ = ["CER_EDGES", "CerBand", "RecogniserBound", "recogniser_bound", "turn_cer"]

CER_EDGES = (0.25, 0.5, 0.75)
"""Upper edges of the CER bands; the last band is everything from 0.75 up."""


@dataclass(frozen=True)
class CerBand:
    """The turns whose transcript CER lies in [low, high).

    Attributes:
        low: Lower edge (inclusive).
        high: Upper edge (exclusive; ``math.inf`` for the last band).
        turns: How many turns.
        right_heard: Turns whose intent the model reads right from what Whisper heard.
        right_clean: Turns whose intent the model reads right from what was said.
    """

    low: float
    high: float
    turns: int
    right_heard: int
    right_clean: int

    def to_dict(self) -> dict:
        return {"low": self.low, "high": None if math.isinf(self.high) else self.high,
                "turns": self.turns, "right_heard": self.right_heard,
                "right_clean": self.right_clean}


@dataclass(frozen=True)
class RecogniserBound:
    """One noisy copy, split by how much the recogniser lost.

    Attributes:
        cer: Corpus CER of the copy's transcripts (errors / reference characters).
        macro_f1_heard: The model on the transcripts, read from the beam.
        macro_f1_clean: The model on the same turns' clean utterances.
        bands: Turns per CER band (:data:`CER_EDGES`).
        ceilings: (edge, macro-F1 of a reader that reads every transcript with CER below
            the edge as well as its clean utterance), one per edge.
    """

    cer: float
    macro_f1_heard: float
    macro_f1_clean: float
    bands: tuple[CerBand, ...]
    ceilings: tuple[tuple[float, float], ...]

    def to_dict(self) -> dict:
        return {"cer": round(self.cer, 4), "macro_f1_heard": round(self.macro_f1_heard, 4),
                "macro_f1_clean": round(self.macro_f1_clean, 4),
                "bands": [b.to_dict() for b in self.bands],
                "ceilings": [{"below_cer": e, "macro_f1": round(f, 4)}
                             for e, f in self.ceilings]}


def turn_cer(said: str, heard: str) -> tuple[int, int]:
    """Character errors of one transcript and the length of its reference, after
    ``asr-eval``'s normalisation (numerals spelt out, punctuation dropped)."""
    ref = normalize_text(said)
    return edit_distance(ref, normalize_text(heard)), len(ref)


def recogniser_bound(pairs: Sequence[tuple[Example, Example]], heard: Sequence[str],
                     said: Sequence[str]) -> RecogniserBound:
    """Score a model's readings of a noisy copy band by band.

    Args:
        pairs: (clean utterance, ASR copy) rows, as :func:`tierline.nlu.data.load_noisy_pairs`
            gives them; at least one.
        heard: The model's intent for each copy, read from its beam
            (:func:`tierline.nlu.evaluation.evaluate.predict_beams`).
        said: The model's intent for each clean utterance.

    Returns:
        The copy's bands and reader ceilings.

    Raises:
        ValueError: no pairs, or readings not one per pair.
    """
    if not pairs:
        raise ValueError("recogniser_bound needs at least one (clean, heard) pair")
    if not len(heard) == len(said) == len(pairs):
        raise ValueError("recogniser_bound needs one reading heard and one said per pair")
    truth = [clean.label for clean, _ in pairs]
    errors = [turn_cer(clean.text, noisy.text) for clean, noisy in pairs]
    cer = [e / max(1, n) for e, n in errors]
    lows = (0.0, *CER_EDGES)
    highs = (*CER_EDGES, math.inf)
    bands = []
    for low, high in zip(lows, highs, strict=True):
        inside = [i for i, c in enumerate(cer) if low <= c < high]
        bands.append(CerBand(low, high, len(inside),
                             sum(heard[i] == truth[i] for i in inside),
                             sum(said[i] == truth[i] for i in inside)))
    ceilings = tuple(
        (edge, score(truth, [s if c < edge else h for s, h, c in zip(said, heard, cer,
                                                                      strict=True)]).macro_f1)
        for edge in CER_EDGES)
    return RecogniserBound(
        cer=sum(e for e, _ in errors) / max(1, sum(n for _, n in errors)),
        macro_f1_heard=score(truth, heard).macro_f1,
        macro_f1_clean=score(truth, said).macro_f1,
        bands=tuple(bands), ceilings=ceilings)
