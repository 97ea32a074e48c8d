"""A site's recordings of one dialect: a folder of audio and a transcript TSV, checked.

Layout (docs/dialects.md)::

    DATA_DIR/
      transcripts.tsv      header: path <TAB> transcript [<TAB> speaker]
      audio/...            any format audio.io reads (WAV, FLAC, OGG, MP3, raw G.711)

``path`` is relative to DATA_DIR (or absolute). ``speaker`` names who speaks; without it
every file counts as its own speaker, which overstates how well held-out callers do when one
person recorded several files (the run says so).

Nothing bad stops the run silently: a row whose audio is missing or unreadable, a row without
a transcript, a transcript that cannot belong to its audio (more than
:data:`MAX_CHARS_PER_S` or, on 2 s or more, fewer than :data:`MIN_CHARS_PER_S` characters per
second: a shifted TSV), audio longer than Whisper's 30 s window, and audio files no row
names are each skipped and counted, and the counts are printed. A folder without a usable
TSV, or with too few speakers to hold some out, is an error (exit code 2).
"""

from __future__ import annotations

import csv
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tierline.core.errors import TierlineError

TSV_NAME = "transcripts.tsv"
MAX_CHARS_PER_S = 12.0
MIN_CHARS_PER_S = 0.5
MAX_CLIP_S = 30.0
AUDIO_SUFFIXES = frozenset({".wav", ".flac", ".ogg", ".mp3", ".ul", ".ulaw", ".mu", ".al",
                            ".alaw"})
_SPOKEN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\U00020000-\U0002ffffA-Za-z0-9]")


class DatasetError(TierlineError, ValueError):
    """The training folder cannot be used (no TSV, bad header, too few speakers)."""


@dataclass(frozen=True)
class Recording:
    """One usable recording: 16 kHz float audio, its transcript and speaker."""

    path: Path
    transcript: str
    speaker: str
    audio: np.ndarray = field(repr=False, compare=False)

    @property
    def seconds(self) -> float:
        return len(self.audio) / 16_000


@dataclass
class FolderReport:
    """What was read and what was skipped, by reason."""

    used: int = 0
    skipped: Counter = field(default_factory=Counter)
    speakers_from_files: bool = False

    def lines(self) -> list[str]:
        out = [f"{self.used} recording(s) used"]
        out += [f"skipped {n}: {reason}" for reason, n in sorted(self.skipped.items())]
        if self.speakers_from_files:
            out.append("no speaker column: every file counts as its own speaker")
        return out


def spoken_chars(text: str) -> int:
    """Characters that are read aloud (CJK, Latin letters, digits)."""
    return len(_SPOKEN.findall(text))


def read_folder(folder: Path, load: Callable[[Path], np.ndarray]
                ) -> tuple[list[Recording], FolderReport]:
    """Read and check a training folder (module docstring).

    Args:
        folder: DATA_DIR.
        load: Reads an audio file as float32 16 kHz mono; raises on a bad file.

    Raises:
        DatasetError: the folder or its TSV is missing, or the TSV lacks its columns.
    """
    folder = Path(folder)
    tsv = folder / TSV_NAME
    if not folder.is_dir():
        raise DatasetError(f"training folder not found: {folder}")
    if not tsv.is_file():
        raise DatasetError(f"{folder} has no {TSV_NAME} (columns: path, transcript, "
                           "optional speaker)")
    try:
        with tsv.open(encoding="utf-8", newline="") as fh:
            reader = csv.reader(fh, delimiter="\t")
            header = next(reader, [])
            rows = list(reader)
    except UnicodeDecodeError as exc:
        raise DatasetError(f"{tsv}: not UTF-8 text ({exc.reason})") from None
    columns = [h.strip().lower() for h in header]
    if "path" not in columns or "transcript" not in columns:
        raise DatasetError(f"{tsv}: header must name the columns path and transcript "
                           f"(got {header})")
    at = {name: columns.index(name) for name in columns}
    report = FolderReport(speakers_from_files="speaker" not in at)
    out: list[Recording] = []
    named: set[Path] = set()
    for row in rows:
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(columns):
            report.skipped["row with the wrong number of columns"] += 1
            continue
        rel = row[at["path"]].strip()
        path = Path(rel) if Path(rel).is_absolute() else folder / rel
        named.add(path.resolve())
        text = row[at["transcript"]].strip()
        if not text or not spoken_chars(text):
            report.skipped["no transcript"] += 1
            continue
        if not path.is_file():
            report.skipped["audio file missing"] += 1
            continue
        try:
            audio = np.asarray(load(path), dtype=np.float32)
        except Exception:  # noqa: BLE001 — any unreadable file is counted, never fatal
            report.skipped["unreadable audio"] += 1
            continue
        seconds = len(audio) / 16_000
        if seconds <= 0.2:
            report.skipped["unreadable audio"] += 1
            continue
        if seconds > MAX_CLIP_S:
            report.skipped[f"longer than {MAX_CLIP_S:.0f} s (cut it into turns)"] += 1
            continue
        rate = spoken_chars(text) / seconds
        if rate > MAX_CHARS_PER_S or (seconds >= 2.0 and rate < MIN_CHARS_PER_S):
            report.skipped["transcript does not fit its audio (misaligned?)"] += 1
            continue
        speaker = row[at["speaker"]].strip() if "speaker" in at else ""
        out.append(Recording(path, text, speaker or path.stem, audio))
    unnamed = [p for p in folder.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES
               and p.resolve() not in named]
    if unnamed:
        report.skipped["audio file without a transcript row"] += len(unnamed)
    report.used = len(out)
    return out, report


def split_speakers(recordings: list[Recording], held_out: float, seed: int = 0
                   ) -> tuple[list[Recording], list[Recording]]:
    """(train, test) with no speaker on both sides; about ``held_out`` of the speakers (at
    least one) are tested.

    Raises:
        DatasetError: fewer than two speakers.
    """
    speakers = sorted({r.speaker for r in recordings})
    if len(speakers) < 2:
        raise DatasetError(f"{len(speakers)} speaker(s) in the folder: too few to hold one "
                           "out for testing (need at least 2; more than 10 to trust the CER)")
    rng = np.random.default_rng(seed)
    order = [speakers[i] for i in rng.permutation(len(speakers))]
    n_test = min(len(speakers) - 1, max(1, round(held_out * len(speakers))))
    test = set(order[:n_test])
    return ([r for r in recordings if r.speaker not in test],
            [r for r in recordings if r.speaker in test])
