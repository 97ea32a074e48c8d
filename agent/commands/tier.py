"""`tierline tier --dialog D.json`: the tier and route logic on text turns (no audio).

With ``--baseline rfm`` the trained tier model is replaced by the RFM-rules baseline (the
"traditional CRM": the tier comes from the CRM record alone); the JSON contract is the same.
Each finished call is stored under its id for ``tierline feedback`` (not with a baseline, or
with ``--no-store``).
"""

from __future__ import annotations

import argparse
import sys

from tierline.agent.clikit import add_nlu_flags, emit, load_nlu, summary_line, turn_line


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("tier", help="tier text dialogs (no audio)")
    p.add_argument("--dialog", required=True, metavar="D.json",
                   help='{"id","customer","utterances"} or a list of them')
    p.add_argument("--json", action="store_true", help="one replay-style object per dialog")
    p.add_argument("--baseline", choices=["rfm"],
                   help="tier with the RFM-rules baseline instead of the trained model")
    p.add_argument("--no-store", action="store_true",
                   help="do not keep the calls for `tierline feedback`")
    add_nlu_flags(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tierline.agent.policy import RoutingPolicy
    from tierline.agent.session import CallSession, Models
    from tierline.agent.text_dialogs import load_dialogs
    from tierline.segmentation.outcomes import remember_call
    from tierline.segmentation.rfm import RfmTierScorer

    dialogs = load_dialogs(args.dialog)
    models = Models(nlu=load_nlu(args))
    for dialog in dialogs:
        call = {"id": dialog.id, "source": "text", "customer": dialog.customer.id or None}
        if args.baseline:
            call["tier_model"] = "rfm-rules"
        session = CallSession(models, dialog.customer, call, RoutingPolicy())
        if args.baseline == "rfm":
            session.scorer = RfmTierScorer(dialog.customer)
            session.record.initial_tier = session.scorer.initial()
        for i, text in enumerate(dialog.utterances):
            turn = session.on_text(text, start_s=float(i), end_s=float(i))
            if not args.json:
                print(turn_line(turn))
        result = {"id": dialog.id, **session.record.to_dict()}
        if args.json:
            emit(sys.stdout, result)
        else:
            print(summary_line(dialog.id, result))
            print("   reasons: " + "; ".join(session.record.final_tier.reasons))
        if not (args.baseline or args.no_store):
            problem = remember_call(dialog.id, session.scorer, dialog.customer.id or None,
                                    turns=len(session.record.turns))
            if problem:
                print(f"tierline: warning: {problem}", file=sys.stderr)
    return 0
