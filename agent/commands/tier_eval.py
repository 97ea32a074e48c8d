"""`tierline tier-eval`: the tier model vs text-blind vs RFM rules vs hand rules, one run."""

from __future__ import annotations

import argparse
import json
import sys

from tierline.agent.clikit import UsageError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("tier-eval", help="evaluate the tier model against its baselines")
    p.add_argument("--generated", type=int, default=2000, metavar="N",
                   help="held-out generated dialogs (test template pool; default 2000)")
    p.add_argument("--seed", type=int, help="generator seed (default: the evaluation seed)")
    p.add_argument("--dialogs", metavar="CSV", help="seed-format dialogs to score as well")
    p.add_argument("--numerical", metavar="CSV")
    p.add_argument("--labels", metavar="CSV")
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tierline.segmentation.evaluation.evaluate import (
        EVAL_SEED,
        calibration,
        format_table,
        generated_cases,
        score,
        seed_cases,
    )
    from tierline.segmentation.seedfmt import load_seed

    given = [args.dialogs, args.numerical, args.labels]
    if any(given) and not all(given):
        raise UsageError("--dialogs, --numerical and --labels go together")
    if args.generated < 0:
        raise UsageError("--generated must be >= 0")
    seed = EVAL_SEED if args.seed is None else args.seed
    results: dict = {}
    calibrated = None
    if args.generated:
        cases = generated_cases(args.generated, seed)
        results["generated"] = score(cases)
        calibrated = calibration(cases)
    if args.dialogs:
        results["seed-sample"] = score(seed_cases(load_seed(*given)))
    if not results:
        raise UsageError("nothing to evaluate: --generated 0 and no seed files")
    if args.json:
        json.dump({"seed": seed, **results, "calibration": calibrated}, sys.stdout,
                  ensure_ascii=False)
        print()
    else:
        print(f"held-out generated dialogs: test template pool, seed {seed}")
        print(format_table(results))
        if calibrated:
            print(f"model calibration on generated turns: ECE {calibrated['ece']:.3f} "
                  f"(mean confidence {calibrated['mean_confidence']:.3f}, "
                  f"accuracy {calibrated['accuracy']:.3f}, {calibrated['turns']} turns)")
    return 0
