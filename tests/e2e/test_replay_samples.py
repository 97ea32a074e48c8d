"""End to end: the bundled sample calls through real VAD, Whisper, NLU, tiering and routing.

Every samples/calls/NAME.wav has NAME.expected.json with the tier and route it must reach
and NAME.customer.json with the caller's CRM features (picked up automatically by replay).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import paths

SAMPLES = paths.CALLS
CALLS = sorted(SAMPLES.glob("*.wav"))
TURN_KEYS = {"index", "start_s", "end_s", "text", "language", "dialect", "intent", "entities",
             "emotion", "tier", "latency_ms"}

pytestmark = [pytest.mark.whisper, pytest.mark.slow]


@pytest.fixture(scope="module")
def replayed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    """Replay every sample once, in one process (models load once), with JSON and report."""
    out = tmp_path_factory.mktemp("replay")
    proc = subprocess.run(
        [sys.executable, "-m", "tierline.agent.cli", "replay", *map(str, CALLS),
         "--json", str(out / "calls.jsonl"), "--report", str(out / "report.html")],
        capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr
    results = [json.loads(line) for line in (out / "calls.jsonl").read_text().splitlines()]
    return {"by_id": {Path(r["call"]["audio"]).stem: r for r in results},
            "report": (out / "report.html").read_text(encoding="utf-8"), "stdout": proc.stdout}


def test_there_are_at_least_eight_samples_covering_every_tier_and_route():
    expected = [json.loads(p.with_suffix(".expected.json").read_text()) for p in CALLS]
    assert len(CALLS) >= 8
    assert {e["tier"] for e in expected} == {"high", "medium", "low", "churn_risk"}
    assert {e["queue"] for e in expected} >= {None, "care", "senior_sales", "retention",
                                              "general"}
    for wav in CALLS:
        for kind in ("customer", "expected"):
            assert wav.with_suffix(f".{kind}.json").is_file(), wav


@pytest.mark.parametrize("wav", CALLS, ids=[p.stem for p in CALLS])
def test_sample_reaches_expected_tier_and_route(replayed: dict, wav: Path):
    expected = json.loads(wav.with_suffix(".expected.json").read_text())
    result = replayed["by_id"][wav.stem]
    texts = [t["text"] for t in result["turns"]]
    assert result["final_tier"] == expected["tier"], texts
    assert result["route"]["action"] == expected["action"], texts
    assert result["route"]["queue"] == expected["queue"], texts
    if expected["action"] == "transfer":  # the turn that says it, not merely any turn
        assert result["route"]["at_turn"] == expected["at_turn"], texts


@pytest.mark.parametrize("wav", CALLS, ids=[p.stem for p in CALLS])
def test_json_contract(replayed: dict, wav: Path):
    result = replayed["by_id"][wav.stem]
    assert set(result) >= {"call", "turns", "final_tier", "route"}
    assert set(result["route"]) == {"action", "queue", "at_turn", "reason"}
    assert result["turns"], "every sample has caller speech"
    previous_end = 0.0
    for i, turn in enumerate(result["turns"]):
        assert set(turn) >= TURN_KEYS
        assert turn["index"] == i
        assert previous_end <= turn["start_s"] < turn["end_s"] <= result["call"]["duration_s"]
        previous_end = turn["end_s"]
        assert abs(sum(turn["tier"]["scores"].values()) - 1) < 1e-3
        assert turn["tier"]["label"] in turn["tier"]["scores"]
        assert turn["tier"]["reasons"], "every tier comes with its reasons"
        assert set(turn["latency_ms"]) >= {"asr", "nlu", "tier", "decision"}
        assert all(v >= 0 for v in turn["latency_ms"].values())
        assert 0.0 <= turn["emotion"]["arousal"] <= 1.0
        # the dialect identifier runs on every call: a family or "unknown", never null
        assert turn["dialect"] is not None and 0.0 <= turn["dialect_confidence"] <= 1.0
        assert turn["language"] and 0.0 <= turn["language_prob"] <= 1.0
    assert result["final_tier"] == result["turns"][-1]["tier"]["label"]
    if result["route"]["action"] == "transfer":
        assert 0 <= result["route"]["at_turn"] < len(result["turns"])


def test_report_and_table(replayed: dict):
    for wav in CALLS:
        assert wav.stem in replayed["report"]
        assert f"== {wav.name}:" in replayed["stdout"]
    assert "✘ differs" not in replayed["report"]


def test_replay_reads_intents_from_whispers_beam(replayed: dict):
    turns = [t for r in replayed["by_id"].values() for t in r["turns"]]
    with_beam = [t for t in turns if t.get("also_heard")]
    # 10 of 18 turns here; a short clear turn can come back as one reading only
    assert len(with_beam) >= len(turns) // 4
    for t in with_beam:
        # at most 4 other readings of Whisper base and 5 of the call-centre decoder
        assert 1 <= len(t["also_heard"]) <= 9 and t["text"] not in t["also_heard"]
        assert len(set(t["also_heard"])) == len(t["also_heard"])
    assert "also heard: " in replayed["report"]


def test_files_replayed_at_once_decide_as_one_at_a_time(replayed: dict, tmp_path: Path):
    """The default replays two files at once (one per decode slot); a call's turns, tier and
    route are the same as when the files are replayed one at a time, and the lines come out
    in the order the files were given."""
    out = tmp_path / "one.jsonl"
    proc = subprocess.run(
        [sys.executable, "-m", "tierline.agent.cli", "replay", *map(str, CALLS[:4]),
         "--jobs", "1", "--json", str(out), "--no-store"],
        capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr

    def decisions(result: dict) -> list:
        return [(t["text"], t["intent"], t["tier"]["label"], t["dialect"])
                for t in result["turns"]] + [result["final_tier"], result["route"]]

    for line in out.read_text().splitlines():
        alone = json.loads(line)
        together = replayed["by_id"][Path(alone["call"]["audio"]).stem]
        assert decisions(alone) == decisions(together)
    headers = [line.split()[1] for line in replayed["stdout"].splitlines()
               if line.startswith("-- ")]
    assert headers == [str(path) for path in CALLS]
