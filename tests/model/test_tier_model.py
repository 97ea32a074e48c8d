"""The trained tier model behind TierScorer: samples, decisive signals, reasons.

Hysteresis (with a scripted model) and model-file errors are in
unit/segmentation/test_tier_model_files.py.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from helpers import paths

from tierline.nlu.pipeline import Nlu
from tierline.segmentation.features import CustomerProfile, load_customer, parse_customer
from tierline.segmentation.model import load_model
from tierline.segmentation.outcome_layer import Adapter
from tierline.segmentation.records import TIERS
from tierline.segmentation.state import FEATURE_NAMES
from tierline.segmentation.tier import TierScorer
from tierline.segmentation.training.generator import DialogGenerator

CALLS = paths.CALLS


@pytest.fixture(scope="module")
def gen() -> DialogGenerator:
    return DialogGenerator(Nlu(), split="all")


def scorer(customer: CustomerProfile | None = None, model=None) -> TierScorer:
    return TierScorer(customer or CustomerProfile(), model, Adapter(), llm=False)


def run(texts, gen, customer=None) -> list:
    s = scorer(customer)
    return [s.initial()] + [s.update(gen.evidence(t)) for t in texts]


@pytest.mark.parametrize("name", sorted(p.stem for p in CALLS.glob("*.txt")))
def test_sample_call_scripts_reach_expected_tier(name, gen):
    texts = [t for t in (CALLS / f"{name}.txt").read_text(encoding="utf-8").splitlines() if t]
    expected = json.loads((CALLS / f"{name}.expected.json").read_text(encoding="utf-8"))
    updates = run(texts, gen, load_customer(CALLS / f"{name}.customer.json"))
    assert updates[-1].label == expected["tier"]
    assert updates[-1].reasons


def test_updates_are_calibrated_distributions(gen):
    for u in run(["你好", "价格多少？", "我再考虑一下"], gen):
        assert set(u.scores) == set(TIERS)
        assert abs(sum(u.scores.values()) - 1) < 1e-3
        assert u.label in TIERS


def test_decisive_budget_switches_at_once_and_persists(gen):
    updates = run(["你好，我想了解一下你们的系统。", "年度预算100万。", "嗯。", "好的。"], gen)
    assert updates[1].label == "medium"
    assert updates[2].label == "high" and updates[2].changed
    assert "budget 1,000,000 CNY" in updates[2].reasons
    assert all(u.label == "high" for u in updates[2:])  # a budget said once still counts


def test_churn_signal_of_existing_customer(gen):
    customer = parse_customer({"contract_value": 300000, "renewal_rate": 0.8})
    updates = run(["合同到期我们就不续了，准备换成飞书。"], gen, customer)
    assert updates[-1].label == "churn_risk"
    assert any("leaving" in r for r in updates[-1].reasons)


def test_same_words_from_a_prospect_are_not_churn(gen):
    updates = run(["我们已经在用飞书了，不需要。"], gen)
    assert updates[-1].label == "low"
    for text in ("我们在用钉钉，挺好的。", "我们要退款，准备换成飞书。", "我要投诉你们！"):
        update = run([text], gen)[-1]  # no contract: churn_risk is ruled out
        assert update.label != "churn_risk" and update.scores["churn_risk"] < 1e-3


def test_renewing_is_medium_and_growing_is_high(gen):
    # the NLU reads both as purchase_intent; the expansion/renewal words tell them apart
    # (segmentation/cues.py), else the tier depended on the training seed (docs/tiering.md)
    customer = parse_customer({"contract_value": 80000, "renewal_rate": 0.8})
    hello = "你好，我是你们的老客户"
    assert run([hello, "合同快到期了"], gen, customer)[-1].label == "medium"
    grows = run([hello, "明年续约的时候我们要多开五十个号"], gen, customer)[-1]
    assert grows.label == "high"
    assert any("more users" in r for r in grows.reasons)


@pytest.mark.parametrize("opening", ["你好，我想了解一下你们的系统", "你们这个系统怎么收费？"])
def test_two_person_team_is_low(opening, gen):
    # personal/trivial use (ARCHITECTURE.md): at most TRIVIAL_SEATS users, its own column
    update = run([opening, "目前就我和一个助理"], gen)[-1]
    assert update.label == "low" and update.scores["low"] >= 0.7


def test_reasons_name_the_evidence(gen):
    updates = run(["你们能定制吗？", "审批流程需要定制。", "报表也要定制，能做我们就签。"], gen)
    assert updates[-1].label == "high"
    assert any("customisation 3 times" in r for r in updates[-1].reasons)


def test_reasons_only_cite_what_was_said(gen):
    reasons = run(["预算大概30万。"], gen)[-1].reasons
    assert "budget 300,000 CNY" in reasons
    assert not any(w in r for r in reasons for w in ("routine", "hesitating", "customisation"))


def test_defaulted_features_are_said(gen):
    updates = run(["价格多少？"], gen, parse_customer({"contract_value": 0}))
    assert any("defaulted" in r for r in updates[-1].reasons)


def test_shipped_model_metadata():
    model = load_model()
    assert model.meta["tiers"] == list(TIERS)
    assert model.meta["training"]["template_split"] == "train"
    x = np.zeros((3, len(FEATURE_NAMES)), np.float32)
    assert model.logits(x).shape == (3, 4)
