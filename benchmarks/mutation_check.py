"""Mutation check: break one product rule at a time and see whether the tests notice.

Each mutation is a one-line change of a core rule (the first transfer is final, routing
precedence, the do-not-call gate, ...) applied to a throw-away copy of the repository; the
tests that guard the rule run against that copy. A mutation the tests do not fail *survived*:
the rule is unguarded. The score is killed / total.

    python benchmarks/mutation_check.py            # every mutation
    python benchmarks/mutation_check.py --only first_transfer_final,precedence_angry

Add a mutation for every new rule: ``Mutation(name, file, old line, new line, tests)``; the
old text must occur exactly once in the file. Runs on the CPU for a few minutes (each mutation
runs only its own tests, fast unit tests where they exist).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("agent", "audio", "core", "dialects", "nlu", "segmentation", "crm", "dashboard")


@dataclass(frozen=True)
class Mutation:
    """One-line break of a rule.

    Attributes:
        name: Short id.
        file: Path from the repository root.
        old: Text that occurs once in the file.
        new: What it becomes.
        tests: pytest node ids (or files) that must fail.
    """

    name: str
    file: str
    old: str
    new: str
    tests: tuple[str, ...]


ROUTING = "tests/unit/agent/test_routing_policy.py"
MUTATIONS = (
    Mutation("first_transfer_final", "agent/policy.py",
             "return current if self.is_final(current) else proposed", "return proposed",
             (ROUTING,)),
    Mutation("session_bypasses_policy", "agent/session.py",
             "self.record.route = self.policy.in_force(self.record.route, decision)\n        turn",
             "self.record.route = decision\n        turn", (ROUTING,)),
    Mutation("digit_bypasses_policy", "agent/session.py",
             "self.record.route = self.policy.in_force(self.record.route, decision)\n"
             "        return decision",
             "self.record.route = decision\n        return decision", (ROUTING,)),
    Mutation("dialog_offer_bypasses_policy", "agent/session.py",
             "self.record.route = self.policy.in_force(self.record.route, offered)",
             "self.record.route = offered", ("tests/unit/agent/test_dialog_manager.py",)),
    Mutation("precedence_high_before_angry", "agent/policy.py",
             'if emotion == "angry":', 'if emotion == "angry" and tier != "high":', (ROUTING,)),
    Mutation("precedence_human_before_churn", "agent/policy.py",
             'if tier == "churn_risk":',
             'if tier == "churn_risk" and intent != "request_human":', (ROUTING,)),
    Mutation("request_human_threshold", "agent/policy.py",
             "if intent_score >= REQUEST_HUMAN_MIN_SCORE:", "if True:", (ROUTING,)),
    Mutation("out_of_language_read", "agent/session.py",
             "if language in LANGUAGES:", "if True:", (ROUTING,)),
    Mutation("dnc_gate_open", "agent/outbound.py",
             "if dnc.contains_key(key):", "if False:",
             ("tests/unit/agent/test_outbound_gate.py",
              "tests/unit/agent/test_livekit_telephony.py")),
    Mutation("high_without_large_value", "segmentation/tier.py",
             "if not self._state.large_value(self.customer.is_existing_customer):",
             "if False:", ("tests/unit/agent/test_long_call_tier.py",)),
    Mutation("seats_smallest_wins", "segmentation/state.py",
             "self.seats = max(self.seats or 0, int(ev.seats))",
             "self.seats = min(self.seats or 10**9, int(ev.seats))",
             ("tests/unit/segmentation/test_tier_rules_and_state.py",)),
    Mutation("anger_from_one_word", "nlu/anger.py",
             "return AngerReading(round(min(lexical, UNBACKED), 4)",
             "return AngerReading(round(lexical, 4)", ("tests/model/test_nlu_anger.py",)),
    Mutation("correction_ignored", "segmentation/state.py",
             "if corrects_earlier(ev.text):", "if False:",
             ("tests/unit/segmentation/test_tier_rules_and_state.py",
              "tests/unit/nlu/test_nlu_amounts.py")),
    Mutation("outcome_gate_open", "segmentation/outcomes.py",
             'live = check is None or check["candidate"] >= check["active"]', "live = True",
             ("tests/model/test_outcome_check.py",)),
    Mutation("outcome_overwrites", "core/database.py",
             "return _on_conflict(conn, table, values, update=False)",
             "return _on_conflict(conn, table, values, update=True)",
             ("tests/unit/segmentation/test_feedback.py",)),
    Mutation("quantity_on_words", "audio/quantity.py",
             "    if _WORD_ENDING_IN_NUMERAL.search(tail):\n        return False\n", "",
             ("tests/unit/audio/test_voice_endpointer.py",)),
    Mutation("latency_from_declared", "agent/session.py",
             '"decision": (t3 - timing.voiced_end_at) * 1000',
             '"decision": (t3 - timing.declared_at) * 1000',
             ("tests/unit/audio/test_turn_clock.py",)),
    Mutation("session_drops_dialect", "agent/session.py",
             'nlu.intent.score, language, dialect)', "nlu.intent.score, language)",
             ("tests/unit/agent/test_routing_dialect.py",)),
    Mutation("digit_drops_dialect", "agent/session.py",
             'f"DTMF {digit}", dialect=dialect)', 'f"DTMF {digit}")',
             ("tests/unit/agent/test_routing_dialect.py",)),
    Mutation("dialect_queue_ignored", "agent/policy.py",
             "return self.for_dialect(decision, dialect)", "return decision",
             ("tests/unit/agent/test_routing_dialect.py",)),
)


def _copy_repo(dest: Path) -> None:
    """Tracked and untracked (not ignored) files of the working tree, as they are now."""
    files = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"],
                           cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    for name in files:
        src = ROOT / name
        if src.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)


def _shim(copy: Path) -> Path:
    """A ``tierline`` namespace folder pointing at the copy's layers, first on sys.path."""
    shim = copy / ".mutation_path"
    (shim / "tierline").mkdir(parents=True)
    for pkg in PACKAGES:
        if (copy / pkg).is_dir():
            (shim / "tierline" / pkg).symlink_to(copy / pkg)
    return shim


def run(mutation: Mutation, copy: Path, env: dict[str, str], timeout: float) -> tuple[str, float]:
    """Apply, test, restore; returns (killed|survived|error: ..., seconds)."""
    path = copy / mutation.file
    original = path.read_text(encoding="utf-8")
    if original.count(mutation.old) != 1:
        return f"error: the old text occurs {original.count(mutation.old)} times", 0.0
    path.write_text(original.replace(mutation.old, mutation.new), encoding="utf-8")
    t0 = time.perf_counter()
    try:
        proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p",
                               "no:cacheprovider", *mutation.tests], cwd=copy, env=env,
                              capture_output=True, text=True, timeout=timeout)
        verdict = "killed" if proc.returncode == 1 else (
            "survived" if proc.returncode == 0 else f"error: pytest exit {proc.returncode}")
    except subprocess.TimeoutExpired:
        verdict = "killed (timeout)"
    finally:
        path.write_text(original, encoding="utf-8")
    return verdict, time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", help="comma-separated mutation names")
    p.add_argument("--timeout", type=float, default=600, help="seconds per mutation")
    args = p.parse_args(argv)
    chosen = [m for m in MUTATIONS if not args.only or m.name in args.only.split(",")]
    with tempfile.TemporaryDirectory(prefix="tierline-mutants-") as tmp:
        copy = Path(tmp)
        _copy_repo(copy)
        env = {**os.environ, "PYTHONPATH": str(_shim(copy))}
        probe = subprocess.run([sys.executable, "-c", "import tierline.agent.policy as m; "
                                "print(m.__file__)"], cwd=copy, env=env, capture_output=True,
                               text=True)
        if not probe.stdout.strip().startswith(str(copy)):
            print(f"mutation_check: the copy is not what imports ({probe.stdout.strip()})",
                  file=sys.stderr)
            return 2
        killed = 0
        for m in chosen:
            verdict, seconds = run(m, copy, env, args.timeout)
            killed += verdict.startswith("killed")
            print(f"{m.name:<32} {verdict:<18} {seconds:6.1f} s  ({', '.join(m.tests)})",
                  flush=True)
    print(f"mutation score: {killed}/{len(chosen)} killed")
    return 0 if killed == len(chosen) else 1


if __name__ == "__main__":
    sys.exit(main())
