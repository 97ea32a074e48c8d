"""`tierline nlu`, `tierline nlu-eval` and `tierline train nlu` errors, from the outside.

The `train nlu` smoke run is in model/test_nlu_training.py.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest


def _tierline(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tierline.agent.cli", *args],
                          capture_output=True, text=True, timeout=timeout)


def test_nlu_json_contract() -> None:
    out = _tierline("nlu", "--json", "我们部门有200人需要使用", "预算一百二十万，想买企业版", "")
    assert out.returncode == 0, out.stderr
    lines = [json.loads(x) for x in out.stdout.splitlines()]
    assert len(lines) == 3
    for obj in lines:
        assert set(obj) == {"text", "intent", "intents", "entities", "sentiment", "latency_ms"}
        assert set(obj["intent"]) == {"label", "score"}
        assert len(obj["intents"]) == 3
        assert obj["intent"]["label"] in obj["intents"]
        assert -1 <= obj["sentiment"] <= 1 and obj["latency_ms"] >= 0
    assert lines[0]["entities"] == {"seats": 200}
    assert lines[1]["entities"]["budget_cny"] == 1_200_000
    assert lines[1]["entities"]["product"] == "企业版"
    assert lines[2]["intent"] == {"label": "other", "score": 1.0}


def test_nlu_file_input(tmp_path) -> None:
    f = tmp_path / "turns.txt"
    f.write_text("转人工\n能开发票吗\n", encoding="utf-8")
    out = _tierline("nlu", "--file", str(f), "--json")
    assert out.returncode == 0, out.stderr
    assert [json.loads(x)["text"] for x in out.stdout.splitlines()] == ["转人工", "能开发票吗"]


@pytest.mark.parametrize("make", ["missing", "directory", "binary"])
def test_unreadable_file_is_one_line_exit_2(tmp_path, make: str) -> None:
    target = tmp_path / "x.txt"
    if make == "directory":
        target.mkdir()
    elif make == "binary":
        target.write_bytes(b"\xff\xfe\xfa\x00bad")
    out = _tierline("nlu", "--file", str(target))
    assert out.returncode == 2
    assert len(out.stderr.strip().splitlines()) == 1 and "Traceback" not in out.stderr


def test_nlu_eval_reports_model_and_baselines() -> None:
    # ~55 s of CPU; the bound is a hang guard, wide enough for a box shared with other jobs
    out = _tierline("nlu-eval", "--split", "test", "--json", timeout=600)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    systems = report["intents"]["systems"]
    assert set(systems) == {"keyword", "tfidf", "model"}
    for name in systems:
        for s in ("clean", "asr", "asr_heard"):
            assert 0.0 <= systems[name][s]["macro_f1"] <= 1.0
            assert systems[name][s]["n"] == report["intents"]["sizes"][s]
    sizes = report["intents"]["sizes"]
    assert 0 < sizes["asr_heard"] < sizes["asr"] == sizes["clean"]  # a subset of the copies
    assert sizes["asr_kokoro"] == sizes["clean"]  # test is spoken whole by both engines
    # so is the challenge set, which comes with the test split
    assert sizes["challenge_asr_beam"] == sizes["challenge_asr_kokoro_beam"] == sizes["challenge"]
    # both copies record Whisper's beam: the same rows, read from every reading
    assert sizes["asr_beam"] == sizes["asr"] and sizes["asr_kokoro_beam"] == sizes["asr_kokoro"]
    for name in systems:
        assert systems[name]["asr_kokoro_beam"]["n"] == sizes["asr_kokoro"]
    # quality floors, a little under what the shipped model scores (7 Dec: clean 0.903,
    # Kokoro beam 0.817, espeak-ng beam 0.606, challenge 0.986, false alarms 1.4 %): a
    # broken model, a broken reader of the beam or a lost corpus row fails here
    model, tfidf = systems["model"], systems["tfidf"]
    floors = {"clean": 0.88, "asr_kokoro_beam": 0.79, "asr_beam": 0.57, "challenge": 0.96,
              "challenge_asr_kokoro_beam": 0.93}
    for name, floor in floors.items():
        assert model[name]["macro_f1"] >= floor, (name, model[name]["macro_f1"])
    for name in ("clean", "asr_kokoro_beam", "asr_beam"):
        assert model[name]["macro_f1"] > tfidf[name]["macro_f1"] > systems["keyword"][name][
            "macro_f1"], name
    assert model["public_other"]["false_alarm_rate"] <= 0.03
    sentiment = report["sentiment"]["systems"]["model"]
    assert sentiment["own"]["macro_f1"] >= 0.84
    assert sentiment["reviews"]["polarity_accuracy"] >= 0.87
    conf = systems["model"]["clean"]["confusion"]
    assert sum(sum(row.values()) for row in conf.values()) == report["intents"]["sizes"]["clean"]
    assert "model" in report["sentiment"]["systems"]
    # the recogniser bound reads the same turns as the main report, split by transcript CER
    for copy, beam_set in (("espeak", "asr_beam"), ("kokoro", "asr_kokoro_beam"),
                           ("challenge_espeak", "challenge_asr_beam"),
                           ("challenge_kokoro", "challenge_asr_kokoro_beam")):
        bound = report["intents"]["recogniser_bound"][copy]
        assert sum(b["turns"] for b in bound["bands"]) == sizes[beam_set]
        assert bound["macro_f1_heard"] == systems["model"][beam_set]["macro_f1"]
        clean_set = "challenge" if copy.startswith("challenge") else "clean"
        assert bound["macro_f1_clean"] == systems["model"][clean_set]["macro_f1"]
        assert sum(b["right_heard"] for b in bound["bands"]) == round(
            systems["model"][beam_set]["accuracy"] * sizes[beam_set])
        assert all(0.0 <= c["macro_f1"] <= 1.0 for c in bound["ceilings"])


def test_nlu_eval_bad_data_dir_is_one_line_exit_2(tmp_path) -> None:
    out = _tierline("nlu-eval", "--data", str(tmp_path / "nowhere"))
    assert out.returncode == 2
    assert len(out.stderr.strip().splitlines()) == 1 and "Traceback" not in out.stderr


def test_train_nlu_bad_data_dir_is_one_line_exit_2(tmp_path) -> None:
    out = _tierline("train", "nlu", "--data", str(tmp_path / "nowhere"), "--out", str(tmp_path))
    assert out.returncode == 2
    assert "shared data not found" in out.stderr and "Traceback" not in out.stderr
