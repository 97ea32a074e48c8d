"""Wall time per caller utterance through the whole pipeline, on this machine, in one run.

Replays the bundled sample calls (8 kHz μ-law, espeak-ng Mandarin) in-process, as fast as
possible, and reports medians and p95 of the per-turn stage times (ASR, NLU, tier) and of the
time from the end of the caller's speech being detected to the route decision, and the replay
throughput in audio seconds per wall second. ``--window both`` replays every call with the 30 s
window as before (``today``: one decode at a time, both threads) and with the dynamic window
(the default: two decodes at once, one thread each), call by call in the same run, so a busy
machine slows them alike; ``--parallel N`` replays N calls at once (the throughput of a batch
replay on the shared decode queue). Models load once before timing starts; the first call is
replayed once per setting and discarded (warm-up). Machines here are shared and noisy:
compare numbers from the same run.

Usage: python benchmarks/bench_replay.py [--repeat N] [--threads T] [--window W] [--parallel N]
           [--no-readings] [--json OUT]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from timing import summary as summarise

from tierline.agent.policy import RoutingPolicy
from tierline.agent.replay import replay_file
from tierline.agent.session import CallSession, Models
from tierline.audio.io import probe
from tierline.dialects.asr import TODAY, AsrConfig, load_whisper
from tierline.dialects.inference_queue import InferenceQueue
from tierline.nlu.pipeline import Nlu
from tierline.segmentation.features import CustomerProfile, load_customer

SAMPLES = Path(__file__).resolve().parent.parent / "samples" / "calls"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=2, help="replays of the whole sample set")
    parser.add_argument("--threads", type=int, default=2, help="ASR CPU threads")
    parser.add_argument("--window", choices=["dynamic", "fixed", "both"], default="dynamic",
                        help="encoder window: dynamic (default), fixed (30 s, as before), or "
                             "both in the same run")
    parser.add_argument("--parallel", type=int, default=1, help="calls replayed at once")
    parser.add_argument("--json", help="also write the result as JSON here")
    parser.add_argument("--no-readings", action="store_true",
                        help="Whisper base alone, without the call-centre decoder's readings")
    args = parser.parse_args()

    calls = sorted(SAMPLES.glob("*.wav"))
    configs = {"fixed": dataclasses.replace(TODAY, cpu_threads=args.threads),
               "dynamic": AsrConfig(cpu_threads=args.threads)}
    names = ["fixed", "dynamic"] if args.window == "both" else [args.window]
    t0 = time.perf_counter()
    nlu = Nlu()
    models = {}
    for name in names:
        config = configs[name]
        asr = load_whisper(None, config, readings=not args.no_readings)
        asr.queue = InferenceQueue(config.parallel)  # each setting its own decode slots
        models[name] = Models(nlu=nlu, asr=asr)
    load_s = time.perf_counter() - t0

    def replay(name: str, path: Path) -> tuple[list, float, float]:
        sibling = path.with_name(path.stem + ".customer.json")
        customer = load_customer(sibling) if sibling.is_file() else CustomerProfile()
        session = CallSession(models[name], customer, {"id": path.stem}, RoutingPolicy())
        start = time.perf_counter()
        record, _ = replay_file(path, session)
        return record.turns, time.perf_counter() - start, probe(path).duration_s

    for name in names:
        replay(name, calls[0])  # warm-up
    stages = {name: {"asr": [], "nlu": [], "tier": [], "decision": []} for name in names}
    totals = {name: {"wall": 0.0, "audio": 0.0} for name in names}
    jobs = [path for _ in range(args.repeat) for path in calls]
    with ThreadPoolExecutor(max_workers=args.parallel) as pool:
        for name in names:  # a setting at a time when parallel; else call by call
            if args.parallel == 1 and len(names) > 1:
                continue
            start = time.perf_counter()
            for turns, _, duration in pool.map(lambda p, n=name: replay(n, p), jobs):
                totals[name]["audio"] += duration
                for turn in turns:
                    for key in stages[name]:
                        stages[name][key].append(turn.latency_ms[key])
            totals[name]["wall"] = time.perf_counter() - start
        if args.parallel == 1 and len(names) > 1:
            for path in jobs:
                for name in names:
                    turns, seconds, duration = replay(name, path)
                    totals[name]["wall"] += seconds
                    totals[name]["audio"] += duration
                    for turn in turns:
                        for key in stages[name]:
                            stages[name][key].append(turn.latency_ms[key])
    result = {
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "asr_threads": args.threads, "parallel": args.parallel,
        "readings": not args.no_readings, "model_load_s": round(load_s, 2),
        "calls": len(jobs), "settings": {},
    }
    for name in names:
        wall, audio = totals[name]["wall"], totals[name]["audio"]
        cfg = configs[name]
        result["settings"][name] = {
            "window": cfg.window, "workers": cfg.parallel,
            "threads_per_decode": cfg.threads_per_decode,
            "audio_s": round(audio, 1), "wall_s": round(wall, 1),
            "real_time_factor": round(wall / audio, 3),
            "times_real_time": round(audio / wall, 1),
            "per_utterance_ms": {k: summarise(v) for k, v in stages[name].items()},
        }
    print(f"{len(jobs)} calls per setting, {args.parallel} at a time; model load {load_s:.1f} s")
    for name, res in result["settings"].items():
        per = res["per_utterance_ms"]
        print(f"[{name}] {res['audio_s']:.0f} s of audio in {res['wall_s']:.1f} s "
              f"({res['times_real_time']}x real time)")
        for key in per:
            print(f"  {key:<9} median {per[key]['median']:7.1f} ms   p95 {per[key]['p95']:7.1f} ms"
                  f"   (n={per[key]['n']})")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
