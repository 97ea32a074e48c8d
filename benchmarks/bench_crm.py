"""Time the CRM store spends per caller turn: one commit of the turn, its tier and its route.

Text calls (the dialogs of samples/tier/train_dialogs.csv, turns split on ``|``, read by
the real NLU and tier) are decided first, outside the timing; then each call is written as a
transport writes it (open the call, one commit per turn, close with the record) to a fresh
SQLite file and, when ``--pg URL`` (or $TIERLINE_TEST_PG_URL) names a reachable PostgreSQL,
to it. Reported per database: median and p95 of the per-turn commit and of the call's close.
Not a test: nothing is asserted. Machines here are shared and noisy: compare numbers from the
same run.

Usage: python benchmarks/bench_crm.py [--calls N] [--pg URL] [--json OUT]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

from timing import percentile

from tierline.agent.session import CallSession, Models
from tierline.crm.store import CallStore
from tierline.nlu.pipeline import Nlu
from tierline.segmentation.features import CustomerProfile

ROOT = Path(__file__).resolve().parents[1]
DIALOGS = ROOT / "samples" / "tier" / "train_dialogs.csv"


def decided_calls(n: int) -> list[CallSession]:
    """``n`` text calls decided by the real NLU and tier (cycled over the sample dialogs)."""
    with DIALOGS.open(encoding="utf-8") as f:
        texts = [[t.strip() for t in row["dialog"].split("|") if t.strip()]
                 for row in csv.DictReader(f)]
    nlu = Nlu()
    calls = []
    for i in range(n):
        session = CallSession(Models(nlu=nlu), CustomerProfile(), {"id": f"bench-{i}"})
        for text in texts[i % len(texts)]:
            session.on_text(text)
        calls.append(session)
    return calls


def write_all(store: CallStore, calls: list[CallSession]) -> dict[str, float]:
    """Write every call as a transport does; per-turn and per-close times in ms."""
    turns: list[float] = []
    closes: list[float] = []
    run = uuid.uuid4().hex[:8]
    for session in calls:
        record = session.record
        call = dict(record.call, id=f"{record.call['id']}-{run}")
        rec = store.start_call(call, CustomerProfile(), transport="text",
                               initial_tier=record.initial_tier)
        for turn in record.turns:
            t0 = time.perf_counter()
            rec.turn(turn, record.route)
            turns.append((time.perf_counter() - t0) * 1000)
        t0 = time.perf_counter()
        rec.finish(dict(record.to_dict(), call=call))
        closes.append((time.perf_counter() - t0) * 1000)
    return {"turns": len(turns), "turn_p50": statistics.median(turns),
            "turn_p95": percentile(turns, 0.95), "close_p50": statistics.median(closes),
            "close_p95": percentile(closes, 0.95)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=40)
    parser.add_argument("--pg", default=os.environ.get("TIERLINE_TEST_PG_URL"),
                        help="PostgreSQL URL (default $TIERLINE_TEST_PG_URL)")
    parser.add_argument("--json", metavar="OUT")
    args = parser.parse_args(argv)
    calls = decided_calls(args.calls)
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        results["sqlite"] = write_all(CallStore(Path(tmp) / "crm.sqlite3"), calls)
        if args.pg:
            try:
                results["postgresql"] = write_all(CallStore(args.pg), calls)
            except Exception as exc:  # noqa: BLE001 — report and go on with SQLite's numbers
                print(f"PostgreSQL skipped: {str(exc).splitlines()[0]}", file=sys.stderr)
    print(f"{args.calls} calls, {results['sqlite']['turns']} turns each database")
    print(f"{'database':<12} {'turn p50':>9} {'turn p95':>9} {'close p50':>10} {'close p95':>10}")
    for name, r in results.items():
        print(f"{name:<12} {r['turn_p50']:8.1f}  {r['turn_p95']:8.1f}  {r['close_p50']:9.1f}  "
              f"{r['close_p95']:9.1f}   ms")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
