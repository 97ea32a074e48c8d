"""`tierline tier` with the shipped tier model on the sample dialogs, `tier-eval` against the
baselines, and `train tier` smoke runs (torch)."""

from __future__ import annotations

import json

import pytest
from helpers import paths, require
from helpers.samples import run_json, sample_dialogs

from tierline.agent.cli import main

CALLS = paths.CALLS
SEED = paths.TIER_SEEDS


pytestmark = pytest.mark.usefixtures("fresh_home")  # each test sees what it writes, alone


def test_tier_dialogs_reach_expected_tier_and_route(tmp_path, capsys, fresh_home):
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
    assert (fresh_home / "crm.sqlite3").is_file()  # calls kept for feedback in the CRM database


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
    require.module("torch", extra="train")
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

    require.module("torch", extra="train")
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
