"""NLU inference latency per utterance on one core, and the shipped model size.

Runs the pipeline's NLU stage (``Nlu().analyze``: normalisation, trained intent model,
entities, trained sentiment model, anger) and the intent model alone over the held-out test
utterances (clean and noisy-ASR), pinned to one CPU core with onnxruntime using one intra-op
thread. Prints median / p95 / p99 / max in milliseconds and the total size of the shipped
model files. ``analyze_beam`` times a whole caller turn as a call reads it, from every reading
of Whisper's final beam (the Kokoro test copy's recorded beams: up to 5 readings, the distinct
ones classified once each).

Usage: python benchmarks/bench_nlu.py [--rounds 3] [--core 0] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

from timing import median, percentile


def _stats(ms: list[float]) -> dict[str, float]:
    return {"n": len(ms), "median_ms": round(median(ms), 3),
            "p95_ms": round(percentile(ms, 95), 3), "p99_ms": round(percentile(ms, 99), 3),
            "max_ms": round(max(ms), 3)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--core", type=int, default=0, help="CPU core to pin to (-1: no pin)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.core >= 0 and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {args.core})

    from tierline.nlu.data import load_intents, load_noisy_intents
    from tierline.nlu.models import INTENT_MODEL, SENTIMENT_MODEL
    from tierline.nlu.pipeline import Nlu, normalize

    nlu = Nlu()
    texts = [e.text for e in load_intents("test")] + [
        e.text for e in load_noisy_intents("test") if e.text]
    beams = [e for e in load_noisy_intents("test", "kokoro") if len(e.beam) > 1]
    for t in texts[:50]:  # warm-up: first calls allocate
        nlu.analyze(t)
    full: list[float] = []
    intent_only: list[float] = []
    for _ in range(args.rounds):
        for t in texts:
            t0 = time.perf_counter()
            nlu.analyze(t)
            full.append((time.perf_counter() - t0) * 1000)
            clean = normalize(t)
            t0 = time.perf_counter()
            nlu.intents.classify(clean)
            intent_only.append((time.perf_counter() - t0) * 1000)
    by_beam: list[float] = []
    for _ in range(args.rounds):
        for e in beams:
            t0 = time.perf_counter()
            nlu.analyze(e.text, e.beam)
            by_beam.append((time.perf_counter() - t0) * 1000)
    sizes = {p.name: p.stat().st_size for p in (INTENT_MODEL, SENTIMENT_MODEL) if p.is_file()}
    report = {
        "utterances": len(texts), "rounds": args.rounds,
        "core": args.core, "intent_model": type(nlu.intents).__name__,
        "sentiment_model": type(nlu.sentiment).__name__,
        "analyze": _stats(full), "intent_only": _stats(intent_only),
        **({"analyze_beam": _stats(by_beam)} if by_beam else {}),
        "model_bytes": sizes, "model_mb_total": round(sum(sizes.values()) / 1e6, 3),
    }
    if args.json:
        print(json.dumps(report, ensure_ascii=False))
    else:
        print(f"{report['utterances']} utterances x {args.rounds} rounds on core {args.core}, "
              f"intent {report['intent_model']}, sentiment {report['sentiment_model']}")
        for key in ("analyze", "intent_only", "analyze_beam"):
            if key not in report:
                continue
            s = report[key]
            print(f"{key:<12} median {s['median_ms']:.3f} ms  p95 {s['p95_ms']:.3f} ms  "
                  f"p99 {s['p99_ms']:.3f} ms  max {s['max_ms']:.3f} ms")
        print(f"shipped models: {report['model_mb_total']:.2f} MB "
              + ", ".join(f"{k} {v / 1e6:.2f} MB" for k, v in sizes.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
