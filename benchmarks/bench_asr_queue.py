"""Turns per second through the shared inference queue: parallel decodes against one lock.

K simulated calls (threads) each send the same list of real turns (AISHELL-1 clips over the
8 kHz line) to one recogniser as fast as its answers come back; every call's turns are closed
turns (finals), and with ``--partials`` each call also sends an open-turn look-ahead before
each final, as quantity-aware endpointing does. Reported per setting: turns/s and the
per-turn wait (submit → transcript, the queue's wait included) p50/p95 of the finals. The
settings share the run (one after the other on the same clips):

* ``lock``: the recogniser before (one decode at a time, both threads, 30 s window);
* ``dynamic-lock``: the dynamic window, one decode at a time with both threads;
* ``dynamic-parallel``: the dynamic window, two decodes at once with one thread each.

Usage: python benchmarks/bench_asr_queue.py [--calls K] [--turns N] [--partials] [--json OUT]
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import statistics
import sys
import threading
import time
from pathlib import Path

import numpy as np
from timing import percentile

from tierline.audio.io import load_audio, telephone_round_trip
from tierline.dialects.asr import TODAY, AsrConfig, WhisperASR
from tierline.dialects.inference_queue import InferenceQueue
from tierline.dialects.models import resolve_asr_model, resolve_readings_model

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
SETTINGS = {
    "lock": TODAY,
    "dynamic-lock": AsrConfig(workers=1, cpu_threads=2),
    "dynamic-parallel": AsrConfig(workers=2, cpu_threads=2),
}


def run_setting(asr: WhisperASR, turns: list[np.ndarray], calls: int,
                partials: bool) -> dict:
    """K calls sending their turns at once; the finals' waits and the turns per second."""
    waits: list[float] = []
    lock = threading.Lock()

    def call(k: int) -> None:
        order = turns[k % len(turns):] + turns[: k % len(turns)]  # calls start apart
        for audio in order:
            if partials:
                asr.transcribe(audio[: len(audio) * 2 // 3], partial=True)
            t0 = time.perf_counter()
            asr.transcribe(audio)
            with lock:
                waits.append((time.perf_counter() - t0) * 1000)

    threads = [threading.Thread(target=call, args=(k,)) for k in range(calls)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    decodes = len(waits) * (2 if partials else 1)
    return {"calls": calls, "finals": len(waits), "decodes": decodes, "wall_s": round(wall, 2),
            "finals_per_s": round(len(waits) / wall, 2),
            "decodes_per_s": round(decodes / wall, 2),
            "final_ms_p50": round(statistics.median(waits), 1),
            "final_ms_p95": round(percentile(waits, 95), 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=4, help="simultaneous calls")
    parser.add_argument("--turns", type=int, default=12, help="turns per call")
    parser.add_argument("--partials", action="store_true",
                        help="each final is preceded by a partial of its first two thirds")
    parser.add_argument("--readings", action="store_true",
                        help="with the call-centre decoder's readings, as calls run")
    parser.add_argument("--settings", default=",".join(SETTINGS))
    parser.add_argument("--json", help="write the result here")
    args = parser.parse_args()
    listing = DATA / "aishell1_sample" / "selected_60.tsv"
    if not listing.is_file():
        print(f"bench_asr_queue: {listing} not found", file=sys.stderr)
        return 2
    with listing.open(encoding="utf-8") as f:
        ids = [r["utt_id"] for r in csv.DictReader(f, delimiter="\t")][: args.turns]
    turns = [telephone_round_trip(load_audio(DATA / "aishell1_sample" / "wav" / f"{i}.wav"))
             for i in ids]
    reader = resolve_readings_model(None) if args.readings else None
    result = {"audio_s_per_turn": round(float(np.mean([len(t) for t in turns])) / 16000, 2),
              "partials": args.partials, "readings": args.readings, "settings": {}}
    for name in args.settings.split(","):
        config = SETTINGS[name]
        asr = WhisperASR(resolve_asr_model(None), config, reader,
                         queue=InferenceQueue(config.parallel))
        asr.transcribe(turns[0])  # warm-up
        out = run_setting(asr, turns, args.calls, args.partials)
        out["config"] = {k: v for k, v in dataclasses.asdict(config).items()
                         if k in ("window", "workers", "cpu_threads")}
        result["settings"][name] = out
        print(f"{name:<17} {out['finals_per_s']:5.2f} turns/s ({out['decodes_per_s']:.2f} "
              f"decodes/s)  final wait p50 {out['final_ms_p50']:7.0f} ms  "
              f"p95 {out['final_ms_p95']:7.0f} ms", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
