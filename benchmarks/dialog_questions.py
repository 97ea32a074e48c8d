"""Active vs fixed question order: caller turns until the tier is right, on generated calls.

Each generated call is a prospect with a hidden profile (true tier high, medium or low; seats,
budget, timeline, decision maker, current system, pain point consistent with the tier rules of
ARCHITECTURE.md). The opening turn is drawn from the same neutral openings for every tier, so
only the answers to the bot's questions can settle the tier. The simulated caller answers the
question the bot asks, in its own wording (phrasings here are not the KB's example answers),
and says a filler when the bot asks nothing. The full pipeline runs per turn (NLU → tier scorer
→ route → dialog manager). A call counts as settled at the first caller turn where the tier's
top probability reaches the threshold *and* its label is the caller's true tier (a scorer that
tiers callers as they stand is confidently medium before anything telling is said, so
confidence alone would settle every call at turn 1); calls not settled within --max-turns
count as --max-turns. Accuracy compares the label after the last turn with the true tier.

Usage:
    python benchmarks/dialog_questions.py [--calls 300] [--seed 2] [--scorer tier|rules]
        [--orders 40] [--max-in-row 2] [--callers a|b] [--kb YAML] [--json OUT]
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from tierline.agent.dialog import DialogConfig, DialogManager, load_kb
from tierline.agent.dialog.kb import SLOTS
from tierline.nlu.pipeline import Nlu
from tierline.segmentation.features import CustomerProfile, parse_customer

ROOT = Path(__file__).resolve().parents[1]
OPENINGS = ("你好，我想了解一下你们的CRM", "你们这个系统怎么收费？", "能介绍一下你们的产品吗",
            "我在网上看到你们的广告，想问问", "你们的软件主要是做什么的")
PAINS = ("跟进客户太乱了", "销售老是丢单", "没什么特别的问题")
_CN = {10: "十", 20: "二十", 30: "三十", 50: "五十", 80: "八十", 100: "一百", 200: "两百",
       300: "三百", 500: "五百", 1000: "一千", 2000: "两千"}


@dataclass
class Persona:
    tier: str
    seats: int
    budget_wan: float | None
    timeline: str
    boss: bool
    system: str
    pain: str
    opening: str
    customer: dict = field(default_factory=dict)


def make_persona(rng: random.Random) -> Persona:
    tier = rng.choice(("high", "medium", "low"))
    if tier == "high":
        big_seats, big_budget = rng.choice(((True, True), (True, False), (False, True)))
        seats = rng.choice((120, 200, 300, 500, 1000, 2000)) if big_seats else rng.choice(
            (30, 50, 80))
        budget = rng.choice((60, 80, 100, 200, 500)) if big_budget else rng.choice((10, 20, 30))
    elif tier == "medium":
        seats = rng.choice((8, 10, 20, 30, 50, 80))
        budget = rng.choice((3, 5, 8, 10, 20, 30))
    else:
        seats = rng.choice((1, 1, 2))
        budget = rng.choice((None, None, 0.3))
    return Persona(
        tier=tier, seats=seats, budget_wan=budget,
        timeline=rng.choice(("下个月", "今年之内", "还没定", "尽快")),
        boss=rng.random() < 0.5,
        system=rng.choice(("Excel", "钉钉", "纸质本子", "没有")),
        pain=rng.choice(PAINS),
        opening=rng.choice(OPENINGS),
        customer={"browse_duration": rng.choice((0, 10, 40)),
                  "consult_count": rng.choice((0, 1, 3))})


def _num(n: int, rng: random.Random) -> str:
    return _CN[n] if n in _CN and rng.random() < 0.5 else str(n)


@dataclass(frozen=True)
class CallerWords:
    """How one set of simulated callers words its answers (``{n}`` seats, ``{w}`` 万 CNY)."""

    alone: tuple[str, ...]
    team: tuple[str, ...]
    no_budget: tuple[str, ...]
    tiny_budget: str
    budget: tuple[str, ...]
    timeline: dict[str, str]
    boss: str
    not_boss: str
    system: dict[str, str]
    pain: dict[str, str]
    fillers: tuple[str, ...]


CALLERS = {
    "a": CallerWords(
        alone=("就我一个人用", "我自己用用"),
        team=("我们公司有{n}个人", "大概{n}个销售要用", "{n}人左右吧，都要用"),
        no_budget=("没什么预算，先看看", "暂时没有预算"), tiny_budget="预算不多，几千块吧",
        budget=("预算{w}万左右", "今年能批{w}万", "我们准备了{w}万"),
        timeline={"下个月": "下个月就要上线", "今年之内": "今年之内吧", "还没定": "时间还没定",
                  "尽快": "越快越好"},
        boss="我是老板，我说了算", not_boss="得跟领导汇报一下",
        system={"Excel": "现在在用Excel", "钉钉": "用的钉钉", "纸质本子": "都靠纸质本子记",
                "没有": "没有用系统"},
        pain={p: p for p in PAINS}, fillers=("嗯，明白", "好的，你接着说", "哦，这样啊")),
    # a second wording of the same answers, written before either run, for checking that a
    # change made while looking at the "a" callers holds for other words
    "b": CallerWords(
        alone=("就我自己，没别人", "目前就我和一个助理"),
        team=("团队{n}来号人", "差不多{n}个人要开账号", "销售部{n}个人"),
        no_budget=("这个还没考虑过", "预算的事还没申请"), tiny_budget="也就几千块钱的事",
        budget=("{w}万以内吧", "领导给了{w}万", "差不多{w}万"),
        timeline={"下个月": "争取下个月用上", "今年之内": "年底前吧", "还没定": "这个不好说",
                  "尽快": "当然越早越好"},
        boss="我就能定", not_boss="我做不了主，得领导同意",
        system={"Excel": "Excel表格记着呢", "钉钉": "钉钉上管着", "纸质本子": "拿本子记",
                "没有": "啥都没用"},
        pain=dict(zip(PAINS, ("客户一多就乱套", "单子老是跟丢", "暂时还行吧"), strict=True)),
        fillers=("嗯嗯", "行，你说", "哦，好的")),
}


def answer(p: Persona, slot: str | None, rng: random.Random,
           words: CallerWords = CALLERS["a"]) -> str:
    """The simulated caller's reply to the bot's question about ``slot``."""
    if slot == "seats":
        if p.seats <= 2:
            return rng.choice(words.alone)
        n = _num(p.seats, rng)
        return rng.choice(tuple(t.format(n=n) for t in words.team))
    if slot == "budget":
        if not p.budget_wan:
            return rng.choice(words.no_budget)
        if p.budget_wan < 1:
            return words.tiny_budget
        w = _num(int(p.budget_wan), rng)
        return rng.choice(tuple(t.format(w=w) for t in words.budget))
    if slot == "timeline":
        return words.timeline[p.timeline]
    if slot == "decision_maker":
        return words.boss if p.boss else words.not_boss
    if slot == "current_system":
        return words.system[p.system]
    if slot == "pain_point":
        return words.pain[p.pain]
    return rng.choice(words.fillers)


def run_call(p: Persona, config: DialogConfig, kb, nlu: Nlu, threshold: float, max_turns: int,
             rng: random.Random, words: CallerWords = CALLERS["a"]) -> tuple[int, str | None, int]:
    """Turns until confidently right (max_turns if never), the last label, questions asked."""
    from tierline.agent.session import CallSession, Models

    customer = parse_customer(p.customer) if p.customer else CustomerProfile()
    dm = DialogManager(kb, customer=customer, config=config, nlu=nlu)
    session = CallSession(Models(nlu=nlu), customer, {"id": "bench"}, dialog=dm)
    text = p.opening
    label = None
    for turn_no in range(1, max_turns + 1):
        turn = session.on_text(text)
        label = turn.tier.label
        top = max(turn.tier.scores.values())
        if top >= threshold and label == p.tier:
            return turn_no, label, len(dm.slots.asked)
        if turn.reply.ended:
            break
        text = answer(p, turn.reply.question_slot, rng, words)
    return max_turns, label, len(dm.slots.asked)


def evaluate(personas, config, kb, nlu, threshold, max_turns, seed,
             words: CallerWords = CALLERS["a"]) -> dict:
    turns, right, settled, asked = [], 0, 0, []
    for i, p in enumerate(personas):
        n, label, q = run_call(p, config, kb, nlu, threshold, max_turns,
                               random.Random(seed * 100_003 + i), words)
        turns.append(n)
        asked.append(q)
        settled += n < max_turns or label == p.tier
        right += label == p.tier
    return {"mean_turns": statistics.fmean(turns), "median_turns": statistics.median(turns),
            "settled": settled / len(personas), "accuracy": right / len(personas),
            "questions": statistics.fmean(asked)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=300)
    ap.add_argument("--seed", type=int, default=2)
    ap.add_argument("--scorer", choices=["tier", "rules"], default="tier",
                    help="tier: the shipped TierScorer; rules: the hand-weighted baseline")
    ap.add_argument("--orders", type=int, default=40,
                    help="random fixed orders sampled besides the two named ones")
    ap.add_argument("--threshold", type=float, default=0.7)
    ap.add_argument("--max-turns", type=int, default=8)
    ap.add_argument("--max-in-row", type=int, default=2)
    ap.add_argument("--callers", choices=sorted(CALLERS), default="a",
                    help="simulated callers' wording (b: a second set, for held-out checks)")
    ap.add_argument("--kb", metavar="YAML", default=str(ROOT / "samples" / "kb" / "yunfan.yaml"))
    ap.add_argument("--json", metavar="OUT")
    args = ap.parse_args(argv)
    if args.scorer == "rules":
        import tierline.agent.session as session_module
        from tierline.segmentation.rules import RuleTierScorer

        session_module.TierScorer = RuleTierScorer  # the session has no scorer parameter
    kb = load_kb(args.kb)
    nlu = Nlu()
    rng = random.Random(args.seed)
    personas = [make_persona(rng) for _ in range(args.calls)]
    dnc = Path(tempfile.mkdtemp()) / "dnc.sqlite3"
    base = {"confidence": args.threshold, "max_questions_in_row": args.max_in_row,
            "dnc_path": dnc, "use_llm": False, "disclosure": False}
    bant = ("budget", "decision_maker", "pain_point", "timeline", "seats", "current_system")
    perms = list(itertools.permutations(SLOTS))
    random.Random(args.seed + 7).shuffle(perms)
    strategies = [("active", DialogConfig(questioner="active", **base)),
                  ("fixed: slot order " + ",".join(SLOTS),
                   DialogConfig(questioner="fixed", fixed_order=SLOTS, **base)),
                  ("fixed: BANT " + ",".join(bant),
                   DialogConfig(questioner="fixed", fixed_order=bant, **base))]
    strategies += [("fixed: random " + ",".join(o), DialogConfig(questioner="fixed",
                                                                fixed_order=o, **base))
                   for o in perms[:args.orders]]
    results = {}
    t0 = time.perf_counter()
    for name, config in strategies:
        results[name] = evaluate(personas, config, kb, nlu, args.threshold, args.max_turns,
                                 args.seed, CALLERS[args.callers])
    elapsed = time.perf_counter() - t0
    tiers = {t: sum(p.tier == t for p in personas) for t in ("high", "medium", "low")}
    randoms = [r for n, r in results.items() if n.startswith("fixed: random")]
    fixed_all = {n: r for n, r in results.items() if n.startswith("fixed")}
    best = min(fixed_all, key=lambda n: (fixed_all[n]["mean_turns"], -fixed_all[n]["accuracy"]))
    summary = {
        "calls": args.calls, "seed": args.seed, "tiers": tiers, "scorer": args.scorer,
        "callers": args.callers, "kb": args.kb,
        "threshold": args.threshold, "max_turns": args.max_turns,
        "max_in_row": args.max_in_row, "seconds": round(elapsed, 1),
        "active": results["active"],
        "fixed_slot_order": results[strategies[1][0]],
        "fixed_bant": results[strategies[2][0]],
        "fixed_random_mean": {k: statistics.fmean(r[k] for r in randoms)
                              for k in results["active"]} if randoms else None,
        "fixed_best_in_hindsight": {"order": best, **fixed_all[best]},
        "active_beats_fixed_orders": sum(results["active"]["mean_turns"] < r["mean_turns"]
                                         for r in fixed_all.values()),
        "fixed_orders": len(fixed_all),
    }
    print(f"{args.calls} generated calls (seed {args.seed}; {tiers}), scorer={args.scorer}, "
          f"callers {args.callers}, "
          f"confident = top tier p >= {args.threshold}, cap {args.max_turns} turns, "
          f"at most {args.max_in_row} questions in a row ({elapsed:.0f} s)")
    print(f"{'strategy':<60} {'mean':>5} {'median':>6} {'settled':>8} {'acc':>5} {'asked':>5}")
    rows = [("active (information gain)", results["active"]),
            ("fixed: slot order", summary["fixed_slot_order"]),
            ("fixed: BANT", summary["fixed_bant"])]
    if randoms:
        rows.append((f"fixed: mean of {len(randoms)} random orders",
                     summary["fixed_random_mean"]))
    rows.append((f"fixed best in hindsight ({best.split(' ', 2)[-1]})", fixed_all[best]))
    for name, r in rows:
        print(f"{name[:60]:<60} {r['mean_turns']:5.2f} {r['median_turns']:6.1f} "
              f"{r['settled']:8.1%} {r['accuracy']:5.1%} {r['questions']:5.2f}")
    print(f"active needs fewer turns than {summary['active_beats_fixed_orders']} of "
          f"{summary['fixed_orders']} fixed orders")
    if args.json:
        Path(args.json).write_text(json.dumps(summary, ensure_ascii=False, indent=1),
                                   encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
