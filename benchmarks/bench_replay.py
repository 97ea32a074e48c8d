"""Wall time per caller utterance through the whole pipeline, on this machine, in one run.

Replays the bundled sample calls (8 kHz μ-law, espeak-ng Mandarin) in-process, as fast as
possible, and reports medians and p95 of the per-turn stage times (ASR, NLU, tier) and of the
time from the end of the caller's speech being detected to the route decision. Models load
once before timing starts; the first call is replayed twice and its first pass discarded
(warm-up). Machines here are shared and noisy: compare medians from the same run.

Usage: python benchmarks/bench_replay.py [--repeat N] [--threads T] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

from tierline.agent.policy import RoutingPolicy
from tierline.agent.replay import replay_file
from tierline.agent.session import CallSession, Models
from tierline.audio.io import probe
from tierline.dialects.asr import AsrConfig, load_whisper
from tierline.nlu.pipeline import Nlu
from tierline.segmentation.features import CustomerProfile, load_customer

SAMPLES = Path(__file__).resolve().parent.parent / "samples" / "calls"


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


def summarise(values: list[float]) -> dict[str, float]:
    return {"median": round(statistics.median(values), 1), "p95": round(percentile(values, 95), 1),
            "n": len(values)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=2, help="replays of the whole sample set")
    parser.add_argument("--threads", type=int, default=2, help="ASR CPU threads")
    parser.add_argument("--json", help="also write the result as JSON here")
    parser.add_argument("--no-readings", action="store_true",
                        help="Whisper base alone, without the call-centre decoder's readings")
    args = parser.parse_args()

    calls = sorted(SAMPLES.glob("*.wav"))
    t0 = time.perf_counter()
    models = Models(nlu=Nlu(), asr=load_whisper(None, AsrConfig(cpu_threads=args.threads),
                                                readings=not args.no_readings))
    load_s = time.perf_counter() - t0

    def replay(path: Path) -> tuple[list, float, float]:
        sibling = path.with_name(path.stem + ".customer.json")
        customer = load_customer(sibling) if sibling.is_file() else CustomerProfile()
        session = CallSession(models, customer, {"id": path.stem}, RoutingPolicy())
        start = time.perf_counter()
        record, _ = replay_file(path, session)
        return record.turns, time.perf_counter() - start, probe(path).duration_s

    replay(calls[0])  # warm-up
    stages: dict[str, list[float]] = {"asr": [], "nlu": [], "tier": [], "decision": []}
    wall = audio = 0.0
    for _ in range(args.repeat):
        for path in calls:
            turns, seconds, duration = replay(path)
            wall += seconds
            audio += duration
            for turn in turns:
                for key in stages:
                    stages[key].append(turn.latency_ms[key])
    result = {
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "asr_threads": args.threads, "model_load_s": round(load_s, 2),
        "calls": len(calls) * args.repeat, "audio_s": round(audio, 1), "wall_s": round(wall, 1),
        "real_time_factor": round(wall / audio, 3),
        "per_utterance_ms": {k: summarise(v) for k, v in stages.items()},
    }
    per = result["per_utterance_ms"]
    print(f"{result['calls']} calls, {audio:.0f} s of audio in {wall:.1f} s "
          f"(real-time factor {result['real_time_factor']}); model load {load_s:.1f} s")
    for key in stages:
        print(f"  {key:<9} median {per[key]['median']:7.1f} ms   p95 {per[key]['p95']:7.1f} ms"
              f"   (n={per[key]['n']})")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
