"""`tierline tier` (model and --baseline rfm), `tier-eval`, and `train tier` smoke run."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tierline.agent.cli import main
from tierline.segmentation.features import parse_customer
from tierline.segmentation.rfm import rfm_scores, rfm_tier

ROOT = Path(__file__).resolve().parents[1]
CALLS = ROOT / "samples" / "calls"
SEED = ROOT / "samples" / "tier"


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("TIERLINE_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("TIERLINE_LLM_URL", raising=False)
    return tmp_path / "home"


def sample_dialogs(tmp_path) -> Path:
    dialogs = []
    for txt in sorted(CALLS.glob("*.txt")):
        customer = json.loads((CALLS / f"{txt.stem}.customer.json").read_text(encoding="utf-8"))
        lines = [t for t in txt.read_text(encoding="utf-8").splitlines() if t]
        dialogs.append({"id": txt.stem, "customer": customer, "utterances": lines})
    path = tmp_path / "dialogs.json"
    path.write_text(json.dumps(dialogs, ensure_ascii=False), encoding="utf-8")
    return path


def run_json(capsys, *argv: str) -> list[dict]:
    assert main(list(argv)) == 0
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_tier_dialogs_reach_expected_tier_and_route(tmp_path, capsys, home):
    results = run_json(capsys, "tier", "--dialog", str(sample_dialogs(tmp_path)), "--json")
    assert len(results) == len(list(CALLS.glob("*.txt")))
    for r in results:
        expected = json.loads((CALLS / f"{r['id']}.expected.json").read_text(encoding="utf-8"))
        assert r["final_tier"] == expected["tier"], r["id"]
        assert r["route"]["queue"] == expected["queue"], r["id"]
        for turn in r["turns"]:
            assert turn["tier"]["reasons"] and set(turn["tier"]["scores"]) == {
                "high", "medium", "low", "churn_risk"}
            assert turn["latency_ms"]["tier"] >= 0
    assert (home / "crm.sqlite3").is_file()  # calls kept for feedback in the CRM database


def test_rfm_baseline_keeps_the_json_contract(tmp_path, capsys):
    results = run_json(capsys, "tier", "--dialog", str(sample_dialogs(tmp_path)), "--json",
                       "--baseline", "rfm")
    for r in results:
        assert set(r) >= {"call", "turns", "final_tier", "route"}
        assert r["call"]["tier_model"] == "rfm-rules"
        assert len({t["tier"]["label"] for t in r["turns"]}) == 1  # deaf to the call
        assert r["turns"][0]["tier"]["reasons"][0].startswith("RFM ")


def test_tier_text_output_has_reasons(tmp_path, capsys):
    assert main(["tier", "--dialog", str(sample_dialogs(tmp_path)), "--no-store"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"reasons: .*budget [\d,]+ CNY", out)


@pytest.mark.parametrize(("content", "message"), [
    ({"id": "x", "utterances": []}, "empty"),
    ({"id": "x", "utterances": ["你好"], "customer": {"contract_value": -5}}, "negative"),
    ({"id": "x", "utterances": ["你好"], "customer": {"contract_value": 1e15}}, "beyond"),
    ({"id": "x", "utterances": ["你好"], "customer": {"wealth": 5}}, "unknown customer"),
])
def test_tier_bad_input_exits_2(tmp_path, capsys, content, message):
    path = tmp_path / "d.json"
    path.write_text(json.dumps(content), encoding="utf-8")
    assert main(["tier", "--dialog", str(path)]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(("features", "tier"), [
    ({"recency_days": 10, "frequency": 6, "monetary": 2e6, "contract_value": 2e6,
      "renewal_rate": 1}, "high"),
    ({"recency_days": 400, "frequency": 2, "monetary": 3e5, "contract_value": 3e5,
      "renewal_rate": 1}, "churn_risk"),
    ({"contract_value": 2e5, "renewal_rate": 0.9, "complaint_count": 3}, "churn_risk"),
    ({"response_speed": 96, "consult_count": 0}, "low"),
    ({"response_speed": 10, "consult_count": 2}, "medium"),
])
def test_rfm_rules(features, tier):
    assert rfm_tier(parse_customer(features))[0] == tier


def test_rfm_proxies_are_said():
    assert rfm_scores(parse_customer({"consult_count": 3})).proxies
    assert not rfm_scores(parse_customer({"recency_days": 3, "frequency": 1})).proxies


def test_tier_eval_runs_all_scorers_in_one_run(capsys):
    assert main(["tier-eval", "--generated", "60", "--dialogs", str(SEED / "train_dialogs.csv"),
                 "--numerical", str(SEED / "train_numerical.csv"), "--labels",
                 str(SEED / "train_labels.csv"), "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    for set_name in ("generated", "seed-sample"):
        assert set(res[set_name]) >= {"model", "text-blind", "rfm-rules", "hand-rules"}
    gen = res["generated"]
    assert gen["model"]["final"]["macro_f1"] > gen["rfm-rules"]["final"]["macro_f1"]
    assert gen["model"]["final"]["macro_f1"] > gen["text-blind"]["final"]["macro_f1"]


def test_train_tier_smoke_run(tmp_path, capsys, monkeypatch):
    # make test installs the train extra; a missing one fails here
    import tierline.nlu.training.train_extra  # noqa: F401
    out = tmp_path / "model"
    assert main(["train", "tier", "--generated", "40", "--epochs", "2", "--threads", "1",
                 "--dialogs", str(SEED / "train_dialogs.csv"), "--numerical",
                 str(SEED / "train_numerical.csv"), "--labels", str(SEED / "train_labels.csv"),
                 "--out", str(out), "--write-generated", str(tmp_path / "gen")]) == 0
    assert "seed dialogs" in capsys.readouterr().out
    from tierline.segmentation.seedfmt import load_seed

    exported = load_seed(*(tmp_path / "gen" / f"train_{n}.csv"
                           for n in ("dialogs", "numerical", "labels")))
    assert len(exported) == 40  # the generated set round-trips through the seed format
    from tierline.segmentation.model import MAIN, TEXT_BLIND, load_model

    for name in (MAIN, TEXT_BLIND):
        model = load_model(name, out)
        assert model.meta["training"]["seed_dialogs"] == 40
    monkeypatch.setenv("TIERLINE_TIER_MODEL", str(out))  # a trained model drops in
    assert main(["tier", "--dialog", str(sample_dialogs(tmp_path)), "--json"]) == 0


def test_temperature_model_trains_as_long_as_the_model_it_calibrates():
    # the scratch model behind the temperature keeps its last epoch, so its logits have the
    # scale of a model trained that long (a best-epoch pick could stop anywhere)
    import numpy as np

    from tierline.segmentation.state import FEATURE_NAMES
    from tierline.segmentation.training.train import _fit

    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, len(FEATURE_NAMES))).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    xv, yv = x[:40], 1 - y[:40]  # validation that rewards an early epoch, if any
    names = list(FEATURE_NAMES)
    for epochs in (1, 3, 5):
        _, _, _, facts = _fit(x, y, xv, yv, epochs, 0, names, keep_last=True)
        assert facts["best_epoch"] == epochs


def test_train_tier_bad_input_exits_2(tmp_path, capsys):
    assert main(["train", "tier", "--dialogs", str(SEED / "train_dialogs.csv")]) == 2
    assert "go together" in capsys.readouterr().err
    bad = tmp_path / "labels.csv"
    bad.write_text("id,label\ns01,0\n", encoding="utf-8")
    assert main(["train", "tier", "--dialogs", str(SEED / "train_dialogs.csv"), "--numerical",
                 str(SEED / "train_numerical.csv"), "--labels", str(bad),
                 "--out", str(tmp_path / "m")]) == 2
    assert "do not line up" in capsys.readouterr().err
    assert not (tmp_path / "m").exists()  # nothing half-written


@pytest.mark.parametrize("argv", [
    ("tier", "--generated", "10"),
    ("nlu", "--smoke", "--threads", "1"),
    ("asr", "--epochs", "1"),
], ids=lambda argv: argv[0])
def test_train_without_torch_says_which_extra(argv, tmp_path, monkeypatch, capsys):
    import builtins
    import sys

    real = builtins.__import__

    def no_torch(name, *args, **kwargs):
        if name == "torch":
            raise ImportError("No module named 'torch'", name="torch")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_torch)
    # a process without torch never loaded the one module that imports it: forget this one's
    monkeypatch.delitem(sys.modules, "tierline.nlu.training.train_extra", raising=False)
    out = tmp_path / ("model.npz" if argv[0] == "asr" else "model")
    assert main(["train", *argv, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "train extra (torch is missing)" in err and "pip install" in err
    assert len(err.strip().splitlines()) == 1  # one line, no traceback
    assert not out.exists()  # nothing written before the check
