"""Tier + route inference time per caller turn (target: p95 <= 2 ms).

Feeds held-out generated dialogs (NLU already done, as in a call the NLU stage runs before)
through :class:`tierline.segmentation.tier.TierScorer` and the routing policy, timing
``scorer.update(evidence)`` + ``policy.decide(...)`` per turn, on one thread. Model loading is
excluded (once per process); the per-call scorer construction is reported separately.

Usage: python benchmarks/bench_tier.py [--dialogs 500] [--seed 1]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dialogs", type=int, default=500)
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args()

    from tierline.agent.policy import RoutingPolicy
    from tierline.segmentation.model import load_model
    from tierline.segmentation.outcome_layer import Adapter
    from tierline.segmentation.tier import TierScorer
    from tierline.segmentation.training.generator import DialogGenerator

    dialogs = DialogGenerator(split="test").generate(args.dialogs, seed=args.seed)
    model = load_model()
    policy = RoutingPolicy()
    TierScorer(dialogs[0].customer, model, Adapter(), llm=False).initial()  # warm-up
    turn_ms, start_ms = [], []
    for d in dialogs:
        t0 = time.perf_counter()
        scorer = TierScorer(d.customer, model, Adapter(), llm=False)
        scorer.initial()
        start_ms.append((time.perf_counter() - t0) * 1000)
        for i, ev in enumerate(d.evidence):
            t0 = time.perf_counter()
            tier = scorer.update(ev)
            policy.decide(i, tier.label, ev.intent, ev.emotion,
                          tier.reasons[0] if tier.reasons else "")
            turn_ms.append((time.perf_counter() - t0) * 1000)
    q = statistics.quantiles(turn_ms, n=100)
    print(f"tier model {model.version}; {len(dialogs)} dialogs, {len(turn_ms)} turns, 1 thread")
    print(f"tier + route per turn: median {statistics.median(turn_ms):.3f} ms, "
          f"p95 {q[94]:.3f} ms, p99 {q[98]:.3f} ms, max {max(turn_ms):.3f} ms "
          f"(target p95 <= 2 ms: {'met' if q[94] <= 2 else 'NOT met'})")
    print(f"per-call start (scorer + CRM-only tier): median "
          f"{statistics.median(start_ms):.3f} ms, p95 "
          f"{statistics.quantiles(start_ms, n=100)[94]:.3f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
