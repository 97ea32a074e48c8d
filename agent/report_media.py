"""The audio a replay report plays: each caller turn's clip and the agent's side of stereo calls.

Clips are WAV files in a folder beside the report (``report.html`` → ``report_files/``), one
sub-folder per call, so the page stays small whatever the length of the calls. The caller's
clips are cut from the channel the replay decided on, on the same 16 kHz timeline as the
turns' ``start_s``/``end_s``, and written at the recording's own rate when it is lower (a
telephone call stays 8 kHz). In a stereo recording the other channel is what the agent (a
bot or a person) said: it is cut into utterances by the same endpointer and, when a
recogniser is given, transcribed. Files are read as a stream, so a two-hour call never sits
in memory whole.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

import numpy as np
import soundfile as sf

from tierline.audio.endpointer import EndpointingConfig, make_endpointer
from tierline.audio.errors import AudioError
from tierline.audio.io import iter_frames, probe, resample, select_channel
from tierline.audio.records import FRAME_MS, PIPELINE_RATE, Frame
from tierline.core.errors import TierlineError
from tierline.dialects.asr import ASR

MARKER = ".tierline-report"
"""A file in the clips folder saying Tierline wrote it (so a new report may replace it)."""
PAD_S = 0.25
"""Audio kept either side of a caller turn's clip."""

AgentSide = Literal["text", "audio", "off"]


class ReportError(TierlineError):
    """The report's clips folder cannot be written (one line, exit code 2)."""


@dataclass(frozen=True)
class MediaOptions:
    """How the report's audio is cut (the replay's own channel and endpointing settings).

    Attributes:
        channel: The channel the replay decided on: "caller", "agent" or an index.
        caller_channel: The caller's channel in stereo recordings.
        endpointing: How the other channel is cut into utterances.
        agent: The other channel of a stereo call: transcribed ("text", needs ``asr``),
            clips only ("audio"), or left out ("off").
        asr: Recogniser for the other channel (the replay's own, already loaded).
        on_transcribe: Told (one line) before a call's other channel is transcribed, which
            takes about as long as the caller's side did.
    """

    channel: str | int = "caller"
    caller_channel: int = 1
    endpointing: EndpointingConfig = field(default_factory=EndpointingConfig)
    agent: AgentSide = "text"
    asr: ASR | None = None
    on_transcribe: Callable[[str], None] | None = None


@dataclass(frozen=True)
class AgentUtterance:
    """One stretch of the other channel: when, its clip, and what was recognised.

    Attributes:
        start_s: Start in the call timeline, seconds.
        end_s: End, seconds.
        href: The clip, relative to the report.
        text: Transcript; None when not transcribed, "" when nothing was recognised.
    """

    start_s: float
    end_s: float
    href: str
    text: str | None


@dataclass(frozen=True)
class CallMedia:
    """The audio of one call in the report.

    Attributes:
        turns: Caller turn index → clip href.
        agent: The other channel's utterances, in time order.
        notes: What a reader should know about missing audio, one sentence each.
    """

    turns: dict[int, str] = field(default_factory=dict)
    agent: tuple[AgentUtterance, ...] = ()
    notes: tuple[str, ...] = ()


def clips_folder(report: Path) -> Path:
    """Where a report's clips go: ``NAME_files`` beside ``NAME.html``."""
    return report.with_name(report.stem + "_files")


def check_target(report: str | Path) -> None:
    """Refuse, before any work, a clips folder that exists and is not a Tierline report's.

    Raises:
        ReportError: The folder exists without :data:`MARKER`, or is not a folder.
    """
    folder = clips_folder(Path(report))
    if folder.exists() and not (folder / MARKER).is_file():
        raise ReportError(f"{folder} exists and was not written by a Tierline report: "
                          "move it away or choose another report name")


def safe_name(text: str, limit: int = 48) -> str:
    """A file name made of ``text``'s letters, digits, ``-``, ``_`` and ``.`` only."""
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("._")[:limit]
    return name or "call"


def write_call_media(result: dict[str, Any], folder: Path, href: str,
                     options: MediaOptions) -> CallMedia | None:
    """Write one call's clips into ``folder`` and say where they are.

    Args:
        result: The call's JSON record.
        folder: An empty folder for this call's clips.
        href: ``folder`` relative to the report, URL-quoted, with a trailing "/".
        options: Channels, endpointing and the other side's treatment.

    Returns:
        The call's media, or None for a call without audio (typed text, a failed file).
    """
    call = result.get("call") or {}
    audio = call.get("audio")
    if ("error" in result and "turns" not in result) or not isinstance(audio, str) or not audio:
        return None
    path = Path(audio)
    if not path.is_file():
        return CallMedia(notes=(f"The recording {audio} was not found when the report "
                                "was written, so its turns cannot be played here.",))
    try:
        info = probe(path)
        index = select_channel(info, options.channel, options.caller_channel)
    except AudioError as exc:
        return CallMedia(notes=(f"Audio not playable here: {exc}.",))
    folder.mkdir(parents=True, exist_ok=True)
    rate = min(info.sample_rate, PIPELINE_RATE)
    notes: list[str] = []
    turns: dict[int, str] = {}
    spans = [(t["index"], t["start_s"] - PAD_S, t["end_s"] + PAD_S)
             for t in result.get("turns") or [] if _timed(t)]
    try:
        for key, samples in cut(iter_frames(path, index), spans):
            name = f"turn-{key + 1:03d}.wav"
            _write_wav(folder / name, samples, rate)
            turns[key] = href + name
    except AudioError as exc:
        notes.append(f"Reading the recording again broke off ({exc}); "
                     "later turns have no audio.")
    agent: tuple[AgentUtterance, ...] = ()
    if info.channels == 2 and options.agent != "off":
        agent, problem = _other_side(path, 1 - index, folder, href, rate, options)
        if problem:
            notes.append(problem)
        elif not agent:
            notes.append("The other channel of this stereo recording has no speech.")
    elif info.channels == 2:
        notes.append("The other channel of this stereo recording was left out "
                     "(--report-agent off).")
    return CallMedia(turns, agent, tuple(notes))


def _timed(turn: Any) -> bool:
    ok = isinstance(turn, dict) and isinstance(turn.get("index"), int)
    return ok and all(isinstance(turn.get(k), (int, float)) for k in ("start_s", "end_s"))


def cut(frames: Iterable[Frame], spans: list[tuple[int, float, float]]
        ) -> Iterator[tuple[int, np.ndarray]]:
    """Cut a frame stream into the audio of each span, as the stream goes by.

    Args:
        frames: Consecutive 20 ms frames at :data:`PIPELINE_RATE`.
        spans: (key, start_s, end_s) in any order; they may overlap.

    Yields:
        (key, int16 samples) in the order the spans end; a span the stream ends inside is
        yielded with what there was.
    """
    pending = sorted(spans, key=lambda s: s[1])
    open_: dict[int, tuple[float, float, list[np.ndarray]]] = {}
    frame_s = FRAME_MS / 1000
    for frame in frames:
        t0 = frame.start_s
        while pending and pending[0][1] < t0 + frame_s:
            key, start, end = pending.pop(0)
            open_[key] = (start, end, [])
        for key, (start, end, chunks) in list(open_.items()):
            lo = max(0, round((start - t0) * PIPELINE_RATE))
            hi = min(len(frame.pcm), round((end - t0) * PIPELINE_RATE))
            if hi > lo:
                chunks.append(frame.pcm[lo:hi])
            if end <= t0 + frame_s:
                del open_[key]
                yield key, _joined(chunks)
        if not pending and not open_:
            return
    for key, (_start, _end, chunks) in open_.items():
        yield key, _joined(chunks)


def _joined(chunks: list[np.ndarray]) -> np.ndarray:
    return np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int16)


def _write_wav(path: Path, samples: np.ndarray, rate: int) -> None:
    """16-bit PCM WAV at ``rate`` from 16 kHz samples (int16 or float in [-1, 1])."""
    x = samples.astype(np.float32) / 32768.0 if samples.dtype == np.int16 else samples
    if rate != PIPELINE_RATE and len(x):
        x = resample(x, PIPELINE_RATE, rate)
    sf.write(str(path), np.clip(x, -1.0, 1.0), rate, subtype="PCM_16", format="WAV")


def _other_side(path: Path, index: int, folder: Path, href: str, rate: int,
                options: MediaOptions) -> tuple[tuple[AgentUtterance, ...], str | None]:
    """Cut (and transcribe) the other channel of a stereo recording."""
    transcribe = options.agent == "text" and options.asr is not None
    if transcribe and options.on_transcribe is not None:
        options.on_transcribe(f"report: transcribing the agent channel of {path.name}")
    endpointer = make_endpointer(replace(options.endpointing, quantity_aware=False))
    said: list[AgentUtterance] = []

    def keep(utterances: list) -> None:
        for utt in utterances:
            name = f"agent-{len(said) + 1:03d}.wav"
            _write_wav(folder / name, utt.audio, rate)
            text = options.asr.transcribe(utt.audio).text if transcribe else None
            said.append(AgentUtterance(round(utt.start_s, 2), round(utt.end_s, 2),
                                       href + name, text))

    problem = None
    try:
        for frame in iter_frames(path, index):
            keep(endpointer.push(frame))
    except AudioError as exc:
        problem = f"Reading the other channel broke off ({exc}); what came before is shown."
    keep(endpointer.flush())
    return tuple(said), problem


class ClipsFolder:
    """The report's clips folder, built aside and swapped in whole when the report is done.

    Args:
        report: The report's path.
    """

    def __init__(self, report: Path) -> None:
        check_target(report)
        self.final = clips_folder(report)
        self.work = self.final.with_name(self.final.name + ".partial")
        shutil.rmtree(self.work, ignore_errors=True)
        self.work.mkdir(parents=True)
        (self.work / MARKER).write_text("clips of a Tierline replay report\n", encoding="utf-8")
        self._used: set[str] = set()

    def for_call(self, number: int, call_id: str) -> tuple[Path, str]:
        """A fresh sub-folder for one call and its href relative to the report."""
        name = f"{number:02d}-{safe_name(call_id)}"
        while name in self._used:
            name += "_"
        self._used.add(name)
        return self.work / name, f"{quote(self.final.name)}/{quote(name)}/"

    def commit(self) -> None:
        """Put the new clips in place of the old ones."""
        if self.final.exists():
            shutil.rmtree(self.final)
        self.work.replace(self.final)

    def abandon(self) -> None:
        shutil.rmtree(self.work, ignore_errors=True)


def write_media(results: list[dict[str, Any]], report: Path,
                options: MediaOptions) -> tuple[list[CallMedia | None], ClipsFolder]:
    """Write every call's clips into the report's (not yet committed) clips folder.

    Returns:
        Each result's media (None for calls without audio) and the folder to commit once
        the page is written.
    """
    folder = ClipsFolder(report)
    try:
        media = []
        for number, result in enumerate(results, 1):
            call_id = str((result.get("call") or {}).get("id") or "call")
            call_dir, href = folder.for_call(number, call_id)
            media.append(write_call_media(result, call_dir, href, options))
    except BaseException:
        folder.abandon()
        raise
    return media, folder
