"""Learning from outcomes with the shipped tier model: a learned version goes live only if it
is at least as accurate on the held-out check set, and the live scorer then uses it.

The outcome store's guards, versions and rollback are in unit/segmentation/test_feedback.py.
"""

from __future__ import annotations

import json

import numpy as np

from tierline.agent.cli import main
from tierline.segmentation.features import CustomerProfile
from tierline.segmentation.outcome_layer import Adapter
from tierline.segmentation.outcomes import OutcomeStore, active_adapter
from tierline.segmentation.records import TurnEvidence
from tierline.segmentation.tier import TierScorer, TierSnapshot


def test_feedback_cli_end_to_end(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TIERLINE_HOME", str(tmp_path))
    monkeypatch.delenv("TIERLINE_LLM_URL", raising=False)
    dialogs = [{"id": f"call{i}", "utterances": ["你好，价格多少？", "我再考虑一下。"]}
               for i in range(20)]
    path = tmp_path / "d.json"
    path.write_text(json.dumps(dialogs, ensure_ascii=False), encoding="utf-8")
    assert main(["tier", "--dialog", str(path), "--json"]) == 0
    before = [json.loads(x)["final_tier"] for x in capsys.readouterr().out.splitlines()]
    big = TurnEvidence({"purchase_intent": 0.6, "other": 0.4}, budget_cny=600_000.0,
                       text="我们预算六十万")

    def scores() -> tuple[dict, dict]:
        """A caller before any turn, and one with a large budget (high is possible)."""
        scorer = TierScorer(CustomerProfile(), llm=False)
        return scorer.initial().scores, scorer.update(big).scores

    base = scores()
    for i in range(19):
        assert main(["feedback", "--call", f"call{i}", "--outcome", "converted"]) == 0
    assert "19/20 outcomes pending" in capsys.readouterr().out
    assert main(["feedback", "--call", "call19", "--outcome", "converted", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["new_version"] == 1
    # twenty hesitant callers who all bought pull every medium caller towards high: that
    # costs accuracy on the held-out check set, so the version waits as a candidate
    assert result["active"] == 0 and result["check"]["candidate"] < result["check"]["active"]
    assert scores() == base
    assert main(["feedback", "--rollback", "--to", "1"]) == 0  # a person makes it live
    capsys.readouterr()
    moved = scores()
    # the live scorer picks up the new version; high stays impossible without a
    # large-value signal whatever the layer learnt
    assert moved[0] != base[0] and moved[1] != base[1]
    assert moved[0]["high"] == base[0]["high"] == 0.0
    assert main(["feedback", "--rollback"]) == 0
    assert "1 -> 0" in capsys.readouterr().out
    assert scores() == base
    assert before == ["medium"] * 20


def test_arbitrary_outcomes_do_not_go_live(tmp_path):
    """20 outcomes that contradict what the calls were make a candidate, not a live layer."""
    from tierline.segmentation.evaluation.outcome_check import check_set
    from tierline.segmentation.model import MAIN, load_model

    version = load_model(MAIN).version
    checks = check_set(version)
    s = OutcomeStore(tmp_path / "o.sqlite", min_outcomes=20)
    rng = np.random.default_rng(7)
    wrong = {0: "lost", 1: "converted", 2: "converted", 3: "lost"}  # high -> lost, ...
    for i in range(20):
        k = int(rng.integers(len(checks.labels)))
        z = tuple(float(v) for v in checks.logits[k])
        s.record_call(f"a{i}", TierSnapshot((0.0,), z, "medium", version, 0), turns=2)
        r = s.feedback(f"a{i}", wrong[int(checks.labels[k])])
    assert r.new_version == 1
    assert r.check["candidate"] < r.check["active"]
    assert not r.went_live and r.active == 0
    assert active_adapter(version, s.path).is_identity
    st = s.status()
    assert st["versions"][0]["candidate_only"] is True


def test_outcomes_that_confirm_the_tiers_go_live(tmp_path):
    """Outcomes of calls from the field (generated with another seed, train phrasings) that
    turned out as tiered barely move the layer and cost nothing on the check set: live."""
    from tierline.segmentation.model import MAIN, load_model
    from tierline.segmentation.training.generator import DialogGenerator

    model = load_model(MAIN)
    s = OutcomeStore(tmp_path / "o.sqlite", min_outcomes=20)
    outcome = {"high": "converted", "low": "lost", "churn_risk": "churned"}
    n = 0
    for dialog in DialogGenerator(split="train").iter(600, 5, "field"):
        truth = dialog.labels[-1]
        scorer = TierScorer(dialog.customer, model, Adapter(), llm=False)
        for ev in dialog.evidence:
            scorer.update(ev)
        snapshot = scorer.snapshot()
        if truth not in outcome or snapshot.label != truth:
            continue
        s.record_call(f"f{n}", snapshot, turns=len(dialog.evidence))
        r = s.feedback(f"f{n}", outcome[truth])
        n += 1
        if n == 20:
            break
    assert n == 20 and r.new_version == 1
    assert r.check["candidate"] >= r.check["active"]
    assert r.went_live and active_adapter(model.version, s.path).version == 1
