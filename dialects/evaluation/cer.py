"""Character error rate (CER) of a recogniser over a TSV manifest.

The manifest has a header row with at least the columns ``path`` and ``transcript``;
relative paths are resolved against the manifest's folder. Any sample rate is accepted.
"""

from __future__ import annotations

import csv
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tierline.core.errors import TierlineError
from tierline.dialects.asr import ASR
from tierline.dialects.normalize import edit_distance, normalize_text


class ManifestError(TierlineError, ValueError):
    """The manifest cannot be read or lacks the required columns."""


@dataclass(frozen=True)
class ManifestRow:
    path: Path
    transcript: str


@dataclass(frozen=True)
class ClipScore:
    """Score of one clip: normalised reference/hypothesis and their edit distance."""

    path: str
    reference: str
    hypothesis: str
    errors: int
    ref_chars: int
    seconds: float
    audio_s: float


def read_manifest(path: str | Path) -> list[ManifestRow]:
    """Read a ``path``/``transcript`` TSV manifest.

    Raises:
        ManifestError: the file is missing, empty, or lacks the two columns.
    """
    path = Path(path)
    if not path.is_file():
        raise ManifestError(f"manifest not found: {path}")
    try:
        with path.open(encoding="utf-8", newline="") as f:
            reader = csv.DictReader(f, delimiter="\t")
            fields = reader.fieldnames or []
            if "path" not in fields or "transcript" not in fields:
                raise ManifestError(
                    f"{path}: header must have columns 'path' and 'transcript' (got {fields})"
                )
            rows = [
                ManifestRow(path.parent / r["path"], r["transcript"] or "")
                for r in reader
                if r.get("path")
            ]
    except UnicodeDecodeError as exc:
        raise ManifestError(f"{path}: not UTF-8 text ({exc.reason})") from None
    if not rows:
        raise ManifestError(f"{path}: no rows")
    return rows


def score_clips(
    asr: ASR,
    rows: list[ManifestRow],
    load: Callable[[Path], np.ndarray],
) -> Iterator[ClipScore]:
    """Transcribe each clip and yield its score.

    Args:
        asr: The recogniser.
        rows: Manifest rows.
        load: Reads one clip as float32 16 kHz mono (may add a telephone round trip).
    """
    for row in rows:
        audio = load(row.path)
        t0 = time.perf_counter()
        hyp = asr.transcribe(audio).text
        seconds = time.perf_counter() - t0
        ref_n, hyp_n = normalize_text(row.transcript), normalize_text(hyp)
        yield ClipScore(
            path=str(row.path),
            reference=ref_n,
            hypothesis=hyp_n,
            errors=edit_distance(ref_n, hyp_n),
            ref_chars=len(ref_n),
            seconds=seconds,
            audio_s=len(audio) / asr.sample_rate,
        )


def corpus_cer(scores: list[ClipScore]) -> float:
    """Total edits over total reference characters."""
    chars = sum(s.ref_chars for s in scores)
    return sum(s.errors for s in scores) / chars if chars else 0.0
