"""`tierline tier` and `train tier` in process: the RFM baseline, text output, bad input.

The shipped tier model on the sample dialogs, `tier-eval` and the `train tier` smoke run are in
model/test_tier_cli_models.py.
"""

from __future__ import annotations

import json
import re

import pytest
from helpers import paths
from helpers.samples import run_json, sample_dialogs

from tierline.agent.cli import main
from tierline.segmentation.features import parse_customer
from tierline.segmentation.rfm import rfm_scores, rfm_tier

SEED = paths.TIER_SEEDS


pytestmark = pytest.mark.usefixtures("fresh_home")  # each test sees what it writes, alone


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
