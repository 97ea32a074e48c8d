"""`tierline chat`: talk to the dialog manager with typed caller turns (or a script file).

After each caller turn it prints the bot's reply, the tier with its reasons and the route;
with --json one object per turn: {"caller","reply","tier","route","ended","dnc", ...}. The
first object is the bot's opening (``"caller": null``). The call stops when the bot ends it
(goodbye, opt-out, hand-over to a human).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tierline.agent.clikit import UsageError, add_nlu_flags, emit, load_nlu

DEFAULT_KB = Path(__file__).resolve().parents[2] / "samples" / "kb" / "yunfan.yaml"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("chat", help="text conversation with the dialog manager")
    p.add_argument("--customer", metavar="C.json", help="CRM record of the caller")
    p.add_argument("--script", metavar="FILE",
                   help="one caller turn per line (# comments; an empty line is silence)")
    p.add_argument("--json", action="store_true", help="one JSON object per turn")
    p.add_argument("--kb", metavar="FILE", help=f"knowledge base YAML (default {DEFAULT_KB})")
    p.add_argument("--phone", help="caller number for the do-not-call list "
                                   "(default: the customer's \"phone\")")
    p.add_argument("--dnc", metavar="PATH",
                   help="do-not-call database, SQLite file or URL (default: the CRM database)")
    p.add_argument("--questions", choices=["active", "fixed"], default="active",
                   help="how the next qualification question is chosen (default active)")
    p.add_argument("--confidence", type=float, default=0.7,
                   help="ask questions while the top tier probability is below this")
    p.add_argument("--max-questions", type=int, default=2,
                   help="at most this many replies in a row end in a question")
    p.add_argument("--no-disclosure", action="store_true",
                   help="skip the recording/AI disclosure (only where the law allows)")
    p.add_argument("--no-llm", action="store_true", help="templates only, even with "
                                                         "TIERLINE_LLM_URL set")
    add_nlu_flags(p)
    p.set_defaults(func=run)


def _turns(args: argparse.Namespace) -> Iterator[str]:
    if args.script:
        try:
            lines = Path(args.script).read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            reason = getattr(exc, "strerror", None) or str(exc)
            raise UsageError(f"cannot read script {args.script}: {reason}") from None
        while lines and not lines[-1].strip():
            lines.pop()
        yield from (line.strip() for line in lines if not line.lstrip().startswith("#"))
        return
    interactive = sys.stdin.isatty()
    while True:
        if interactive:
            print("caller> ", end="", flush=True)
        line = sys.stdin.readline()
        if not line:
            return
        yield line.strip()


def _customer(path: str | None) -> tuple[Any, str | None]:
    from tierline.segmentation.features import CustomerProfile, load_customer

    if path is None:
        return CustomerProfile(), None
    profile = load_customer(path)
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raw = {}
    phone = raw.get("phone") if isinstance(raw, dict) else None
    return profile, str(phone) if phone else None


def _tier(update) -> dict[str, Any]:
    return {"label": update.label, "scores": update.scores, "reasons": list(update.reasons)}


def _show(caller: str | None, reply, tier, route, as_json: bool, slots: dict) -> None:
    if as_json:
        emit(sys.stdout, {
            "caller": caller, "reply": reply.text, "tier": _tier(tier), "route": route,
            "ended": reply.ended, "dnc": reply.dnc, "question_slot": reply.question_slot,
            "interruptible": reply.interruptible, "offer": reply.offer, "slots": slots})
        return
    if caller is not None and not sys.stdin.isatty():
        print(f"caller> {caller}")
    mark = "" if reply.interruptible else " [not interruptible]"
    print(f"bot>    {reply.text}{mark}")
    where = f"→ {route['queue']}" if route["action"] == "transfer" else "continue"
    top = tier.scores.get(tier.label, 0.0)
    print(f"        tier {tier.label} ({top:.2f}) · route {where} · "
          f"{'; '.join(tier.reasons) or '-'}")


def run(args: argparse.Namespace) -> int:
    from tierline.agent.dialog import DialogConfig, DialogManager, load_kb
    from tierline.agent.policy import RoutingPolicy
    from tierline.agent.session import CallSession, Models

    kb_path = Path(args.kb) if args.kb else DEFAULT_KB
    if not args.kb and not kb_path.is_file():
        raise UsageError("no knowledge base found: pass --kb FILE")
    kb = load_kb(kb_path)
    try:
        config = DialogConfig(
            confidence=args.confidence, max_questions_in_row=args.max_questions,
            questioner=args.questions, disclosure=not args.no_disclosure,
            dnc_path=Path(args.dnc) if args.dnc else None, use_llm=not args.no_llm)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    customer, phone = _customer(args.customer)
    phone = args.phone or phone
    turns = _turns(args)  # reads the script now, so a bad file fails before the call starts
    if args.script:
        turns = iter(list(turns))
    nlu = load_nlu(args)
    call = {"id": customer.id or "chat", "source": "text", "customer": customer.id or None}
    dialog = DialogManager(kb, customer=customer, phone=phone, call_id=call["id"],
                           config=config, nlu=nlu)
    session = CallSession(Models(nlu=nlu), customer, call, RoutingPolicy(), dialog=dialog)
    opening = session.open()
    start = {"action": "continue", "queue": None, "at_turn": None, "reason": "call started"}
    _show(None, opening, session.record.initial_tier, start, args.json, {})
    for i, text in enumerate(turns):
        turn = session.on_text(text, start_s=float(i), end_s=float(i))
        _show(text, turn.reply, turn.tier, turn.route.to_dict(), args.json,
              dict(dialog.slots.values))
        if turn.reply.ended:
            break
    return 0
