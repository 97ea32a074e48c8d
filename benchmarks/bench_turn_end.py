"""What the look-ahead in a pause buys and costs: speculative final decode and early close.

Real speech: the AISHELL-1 sample in ../shared/data (one read sentence per clip, 16 kHz). Each
clip is trimmed to its speech (Silero), and a caller's turn is built from two parts with a pause
of 300-900 ms between them, then 2 s of silence (every turn is its own stream, so the next turn
is always >= 1.5 s away):

* ``sentences``: two clips of the same speaker (speaker = chars 6-10 of the utt_id), the pause
  between two finished sentences;
* ``mid``: one clip split at its quietest 20 ms frame in the middle 30-70 %, the pause inside
  a sentence.

A little line noise (-60 dBFS) runs under the whole stream. The turns go through the real
two-stage endpointer (webrtcvad + Silero) and real Whisper base (``load_whisper``, no readings),
with one memoising recogniser per stream as a call session has.

(a) cut-offs, offline (frames pushed as fast as they go, so every decision is deterministic):
    how often a turn is split at its inner pause, early close off (600 ms hangover) against on
    (``--early-ms``), per pause length; and at the turn's real end, the endpointer's wait
    (last voiced frame -> turn closed) off/on and how often the early close fired there.
(b) latency, paced at 1x (the last ``--paced-s`` of speech and the closing silence arrive at
    the pace of a phone line, in the same run, conditions interleaved turn by turn): the
    caller's last voiced frame -> transcript ready (the turn's final transcript returned, as the
    session asks for it), median and p95, speculative decode off / on / on with early close.

Usage: python benchmarks/bench_turn_end.py [--pairs N] [--pauses 300,450,600,750,900]
       [--early-ms 300] [--latency-turns N] [--json OUT]
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import sys
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from timing import percentile

from tierline.audio.endpointer import ConfirmConfig, TwoStageEndpointer
from tierline.audio.io import load_audio
from tierline.audio.records import Frame
from tierline.audio.silero import speech_probabilities
from tierline.audio.turn_clock import FrameClock
from tierline.audio.vad import EndpointerConfig
from tierline.dialects.asr import load_whisper
from tierline.dialects.memo import MemoASR

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "aishell1_sample"
RATE = 16000
LEAD_S, TAIL_S = 0.5, 2.0
NOISE = 0.001  # -60 dBFS line noise


@dataclass(frozen=True)
class Turn:
    """A caller's turn with an inner pause: where each part lies on its stream's timeline."""

    kind: str
    name: str
    pause_ms: int
    audio: np.ndarray
    first_end_s: float
    second_start_s: float
    speech_end_s: float


def trim(audio: np.ndarray) -> np.ndarray:
    """The clip from its first to its last Silero speech window (32 ms windows)."""
    probs = speech_probabilities(audio)
    voiced = np.flatnonzero(probs >= 0.5)
    if not len(voiced):
        return audio
    return audio[voiced[0] * 512 : (voiced[-1] + 1) * 512]


def quietest_split(audio: np.ndarray) -> int:
    """Sample index of the quietest 20 ms frame in the middle 30-70 % of a clip."""
    frames = len(audio) // 320
    lo, hi = int(frames * 0.3), max(int(frames * 0.3) + 1, int(frames * 0.7))
    rms = [float(np.sqrt(np.mean(audio[i * 320 : (i + 1) * 320] ** 2))) for i in range(lo, hi)]
    return (lo + int(np.argmin(rms))) * 320


def build(kind: str, name: str, first: np.ndarray, second: np.ndarray, pause_ms: int,
          seed: int) -> Turn:
    pause = np.zeros(int(pause_ms * RATE / 1000), np.float32)
    lead, tail = np.zeros(int(LEAD_S * RATE), np.float32), np.zeros(int(TAIL_S * RATE), np.float32)
    audio = np.concatenate([lead, first, pause, second, tail])
    audio = audio + np.random.default_rng(seed).normal(0, NOISE, len(audio)).astype(np.float32)
    first_end = LEAD_S + len(first) / RATE
    second_start = first_end + pause_ms / 1000
    return Turn(kind, name, pause_ms, audio, first_end, second_start,
                second_start + len(second) / RATE)


def frames(audio: np.ndarray) -> list[Frame]:
    pcm = np.clip(np.round(audio * 32768), -32768, 32767).astype(np.int16)
    pcm = np.concatenate([pcm, np.zeros(-len(pcm) % 320, np.int16)])
    return [Frame(pcm[i : i + 320], i / RATE) for i in range(0, len(pcm), 320)]


def endpointer(memo: MemoASR, speculate_ms: int, early_ms: int,
               hold_ms: int = 0) -> TwoStageEndpointer:
    return TwoStageEndpointer(EndpointerConfig(),
                              ConfirmConfig(speculate_ms=speculate_ms, early_close_ms=early_ms,
                                            unfinished_hangover_ms=hold_ms),
                              partial=lambda audio: memo.transcribe(audio).text)


def cutoffs(turn: Turn, memo: MemoASR, early_ms: int, hold_ms: int = 0) -> dict:
    """Offline: was the turn split at its inner pause? The endpointer's wait at the real end."""
    ep = endpointer(memo, 0, early_ms, hold_ms)
    utts = [u for f in frames(turn.audio) for u in ep.push(f)] + ep.flush()
    for u in utts:
        memo.transcribe(u.audio)  # as the session does (a memo hit)
    cut = any(u.end_s <= turn.second_start_s + 0.01 for u in utts)
    last = [u for u in utts if u.end_s > turn.second_start_s]
    wait = (last[-1].detected_at_s - last[-1].end_s) * 1000 if last else None
    return {"cut": cut, "utterances": len(utts), "end_wait_ms": wait}


def latency(turn: Turn, asr, speculate_ms: int, early_ms: int, paced_s: float,
            hold_ms: int = 0) -> dict | None:
    """Paced tail: last voiced frame -> the final transcript in hand, in wall time."""
    memo = MemoASR(asr)
    ep = endpointer(memo, speculate_ms, early_ms, hold_ms)
    clock = FrameClock()
    pace_from = max(0.0, turn.speech_end_s - paced_s)
    t0 = None
    out = []
    for f in frames(turn.audio):
        if f.end_s > pace_from:
            if t0 is None:
                t0 = time.perf_counter() - (f.end_s - pace_from)
            delay = t0 + (f.end_s - pace_from) - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
        arrived = time.perf_counter()
        clock.arrived(f.end_s, arrived)
        for utt in ep.push(f):
            declared = time.perf_counter()
            transcript = memo.transcribe(utt.audio)
            ready = time.perf_counter()
            timing = clock.timing(utt, declared)
            out.append({"end_s": utt.end_s, "text": transcript.text,
                        "endpoint_ms": timing.endpoint_ms,
                        "ready_ms": (ready - timing.voiced_end_at) * 1000,
                        "decode_ms": transcript.compute_ms,
                        "speculated": ep.speculated, "decodes": memo.decodes})
    if ep.speculation is not None:
        ep.speculation.exception()  # let a late speculative decode finish before the next turn
    last = [o for o in out if o["end_s"] > turn.second_start_s]
    return last[-1] if last else None


def load_turns(data: Path, pairs: int, pauses: list[int]) -> list[Turn]:
    with (data / "selected_60.tsv").open(encoding="utf-8") as f:
        ids = [r["utt_id"] for r in csv.DictReader(f, delimiter="\t")]
    by_speaker: dict[str, list[str]] = defaultdict(list)
    for utt_id in ids:
        by_speaker[utt_id[6:11]].append(utt_id)
    couples = []
    for speaker in sorted(by_speaker):
        clips = by_speaker[speaker]
        couples += [(clips[i], clips[i + 1]) for i in range(0, len(clips) - 1, 2)]
    # alternate speakers so a subset covers both
    half = (len(couples) + 1) // 2
    order = [c for pair in zip(couples[:half], couples[half:], strict=False) for c in pair]
    order += couples[2 * min(half, len(couples) - half):]
    order = order[:pairs]
    audio = {i: trim(load_audio(data / "wav" / f"{i}.wav")) for c in order for i in c}
    turns = []
    for n, (a, b) in enumerate(order):
        cut = quietest_split(audio[a])
        for pause in pauses:
            seed = n * 1000 + pause
            turns.append(build("sentences", f"{a}+{b}", audio[a], audio[b], pause, seed))
            turns.append(build("mid", f"{a}/split", audio[a][:cut], audio[a][cut:], pause,
                               seed + 1))
    return turns


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(DATA))
    parser.add_argument("--pairs", type=int, default=30, help="clip pairs (30: all 60 clips)")
    parser.add_argument("--pauses", default="300,450,600,750,900", help="inner pauses, ms")
    parser.add_argument("--early-ms", type=int, default=300, help="early close after this")
    parser.add_argument("--hold-ms", type=int, default=1000,
                        help="hangover of a turn the end-of-turn model calls unfinished")
    parser.add_argument("--speculate-ms", type=int, default=200)
    parser.add_argument("--latency-turns", type=int, default=30,
                        help="turns (450 ms inner pause, sentences) paced for (b)")
    parser.add_argument("--paced-s", type=float, default=1.0,
                        help="seconds of speech before the end that arrive at 1x")
    parser.add_argument("--json", help="write the numbers here")
    args = parser.parse_args()
    data = Path(args.data)
    if not (data / "selected_60.tsv").is_file():
        print(f"bench_turn_end: {data / 'selected_60.tsv'} not found", file=sys.stderr)
        return 2
    try:
        pauses = [int(p) for p in args.pauses.split(",")]
    except ValueError:
        print(f"bench_turn_end: --pauses must be integers, not {args.pauses!r}", file=sys.stderr)
        return 2
    started = time.perf_counter()
    turns = load_turns(data, args.pairs, pauses)
    asr = load_whisper(readings=False)
    asr.transcribe(turns[0].audio[: RATE * 2])  # warm-up

    # (a) cut-offs, offline
    settings = {"600 ms": (0, 0), "early": (args.early_ms, 0),
                "early+hold": (args.early_ms, args.hold_ms)}
    rows: dict[tuple[str, int], dict[str, list]] = defaultdict(lambda: defaultdict(list))
    for turn in turns:
        memo = MemoASR(asr)  # one per stream, shared by the settings (same audio, decoded once)
        for label, (early, hold) in settings.items():
            r = cutoffs(turn, memo, early, hold)
            rows[(turn.kind, turn.pause_ms)][f"cut {label}"].append(r["cut"])
            if r["end_wait_ms"] is not None:
                rows[(turn.kind, turn.pause_ms)][f"wait {label}"].append(r["end_wait_ms"])
    print(f"\n(a) turns split at the inner pause and the wait at the real end (mean), per "
          f"setting: 600 ms hangover; early close from {args.early_ms} ms; early close + "
          f"{args.hold_ms} ms hangover when unfinished; {args.pairs} clip pairs, offline")
    print(f"{'kind':<10} {'pause':>6} {'n':>4} " + " ".join(
        f"{'cut ' + k:>15} {'wait ' + k:>16}" for k in settings))
    table_a = []
    for (kind, pause), r in sorted(rows.items()):
        n = len(r["cut 600 ms"])
        row = {"kind": kind, "pause_ms": pause, "n": n}
        for k in settings:
            row[f"cut {k}"] = sum(r[f"cut {k}"]) / n
            row[f"wait {k} ms"] = statistics.mean(r[f"wait {k}"]) if r[f"wait {k}"] else None
            row[f"closed early at end {k}"] = (sum(w < 550 for w in r[f"wait {k}"])
                                               / max(1, len(r[f"wait {k}"])))
        table_a.append(row)
        print(f"{kind:<10} {pause:>6} {n:>4} " + " ".join(
            f"{row['cut ' + k]:>15.0%} {row['wait ' + k + ' ms'] or 0:>13.0f} ms"
            for k in settings), flush=True)
    for k in settings:
        waits = [w for key, r in rows.items() for w in r[f"wait {k}"]]
        print(f"  {k}: wait at the real end, all turns: median {statistics.median(waits):.0f} "
              f"ms, p95 {percentile(waits, 95):.0f} ms, closed before 550 ms "
              f"{sum(w < 550 for w in waits) / len(waits):.0%}")

    # (b) latency, paced, conditions interleaved turn by turn
    conditions = {"speculate off": (0, 0, 0), "speculate on": (args.speculate_ms, 0, 0),
                  "speculate + early close": (args.speculate_ms, args.early_ms, 0),
                  "speculate + early + hold": (args.speculate_ms, args.early_ms, args.hold_ms)}
    paced = [t for t in turns if t.kind == "sentences" and t.pause_ms == 450]
    if not paced:
        paced = [t for t in turns if t.kind == "sentences"]
    paced = paced[: args.latency_turns]
    results: dict[str, list[dict]] = defaultdict(list)
    for turn in paced:
        for name, (spec, early, hold) in conditions.items():
            r = latency(turn, asr, spec, early, args.paced_s, hold)
            if r is not None:
                results[name].append(r)
    print(f"\n(b) caller's last voiced frame -> final transcript ready, paced at 1x over the "
          f"last {args.paced_s:g} s; {len(paced)} turns (450 ms inner pause)")
    print(f"{'condition':<24} {'n':>3} {'p50':>7} {'p95':>7} {'endpoint p50':>13} "
          f"{'decode p50':>11} {'speculated':>11} {'decodes/turn':>13}")
    table_b = {}
    for name, rs in results.items():
        ready = [r["ready_ms"] for r in rs]
        row = {"n": len(rs), "ready_p50_ms": statistics.median(ready),
               "ready_p95_ms": percentile(ready, 95),
               "endpoint_p50_ms": statistics.median(r["endpoint_ms"] for r in rs),
               "decode_p50_ms": statistics.median(r["decode_ms"] for r in rs),
               "speculated_turns": sum(r["speculated"] > 0 for r in rs),
               "decodes_per_turn": statistics.mean(r["decodes"] for r in rs)}
        table_b[name] = row
        print(f"{name:<24} {row['n']:>3} {row['ready_p50_ms']:>4.0f} ms "
              f"{row['ready_p95_ms']:>4.0f} ms "
              f"{row['endpoint_p50_ms']:>10.0f} ms {row['decode_p50_ms']:>8.0f} ms "
              f"{row['speculated_turns']:>11} {row['decodes_per_turn']:>13.2f}")
    texts_agree = all(a["text"] == b["text"] for a, b in
                      zip(results["speculate off"], results["speculate on"], strict=False))
    print(f"\nsame final transcripts with speculation on and off: {texts_agree}")
    wall = time.perf_counter() - started
    print(f"wall {wall:.0f} s; command: python benchmarks/bench_turn_end.py "
          + " ".join(sys.argv[1:]))
    if args.json:
        Path(args.json).write_text(json.dumps(
            {"a": table_a, "b": table_b, "texts_agree": texts_agree, "wall_s": round(wall),
             "args": vars(args)}, indent=1, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
