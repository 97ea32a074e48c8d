"""`tierline feedback`: teach the tiers from what became of a call, with guards and rollback.

    tierline feedback --call ID --outcome converted|lost|churned
    tierline feedback --status
    tierline feedback --rollback [--to N]
"""

from __future__ import annotations

import argparse
import json
import sys

from tierline.agent.clikit import UsageError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("feedback", help="record a call's outcome; the tiers learn from them")
    p.add_argument("--call", metavar="ID", help="call id (as stored by replay / tier)")
    p.add_argument("--outcome", choices=["converted", "lost", "churned"])
    p.add_argument("--status", action="store_true", help="show versions and pending outcomes")
    p.add_argument("--rollback", action="store_true",
                   help="reactivate the previous version of the learned layer")
    p.add_argument("--to", type=int, metavar="N", help="with --rollback: version to activate "
                   "(0 = the untouched model)")
    p.add_argument("--store", metavar="DB", help="outcome store (default "
                   "$TIERLINE_HOME/tier/outcomes.sqlite)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=run)


def _print(args: argparse.Namespace, obj: dict, text: str) -> None:
    print(json.dumps(obj, ensure_ascii=False) if args.json else text)


def run(args: argparse.Namespace) -> int:
    from tierline.segmentation.outcomes import OutcomeStore

    modes = sum([bool(args.call or args.outcome), args.status, args.rollback])
    if modes != 1:
        raise UsageError("give --call ID --outcome O, or --status, or --rollback")
    if args.to is not None and not args.rollback:
        raise UsageError("--to goes with --rollback")
    if args.to is not None and args.to < 0:
        raise UsageError(f"--to must be a version >= 0, not {args.to}")
    store = OutcomeStore(args.store)
    if args.status:
        st = store.status()
        lines = [f"store {st['path']}: {st['calls']} calls, {st['pending_outcomes']} outcomes "
                 f"pending (a new version needs {st['min_outcomes']}), active version "
                 f"{st['active']}"]
        lines += [f"  v{v['version']}: {v['created_at']}, {v['outcomes']} outcomes, drift "
                  f"{v['drift']}, from v{v['parent']}, model {v['model_version']}"
                  + (f", check accuracy {v['check']['candidate']:.3f} vs "
                     f"{v['check']['active']:.3f} before" if v["check"] else "")
                  + (" (candidate, not live)" if v["candidate_only"] else "")
                  for v in st["versions"]]
        _print(args, st, "\n".join(lines))
        return 0
    if args.rollback:
        before, after = store.rollback(args.to)
        _print(args, {"previous": before, "active": after},
               f"active version {before} -> {after}")
        return 0
    if not (args.call and args.outcome):
        raise UsageError("--call and --outcome go together")
    r = store.feedback(args.call, args.outcome)
    check = (f" (check set of {r.check['n']}: accuracy {r.check['candidate']:.3f} against "
             f"{r.check['active']:.3f} for the active version)" if r.check else "")
    if r.went_live:
        text = (f"call {r.call_id}: {r.outcome} recorded; new version {r.new_version} learned "
                f"and active{check}")
    elif r.new_version is not None:
        text = (f"call {r.call_id}: {r.outcome} recorded; new version {r.new_version} learned "
                f"but kept as a candidate: it would lose accuracy{check}; version {r.active} "
                f"stays active (`tierline feedback --rollback --to {r.new_version}` makes it "
                "live anyway)")
    else:
        text = (f"call {r.call_id}: {r.outcome} recorded; {r.pending}/{r.needed} outcomes "
                f"pending before the tiers change (active version {r.active})")
    _print(args, {"call": r.call_id, "outcome": r.outcome, "pending": r.pending,
                  "needed": r.needed, "new_version": r.new_version, "active": r.active,
                  "check": r.check}, text)
    if r.new_version is None and r.pending == 0:
        print("note: this call was scored by another tier model version; its outcome is kept "
              "but not learned from", file=sys.stderr)
    return 0
