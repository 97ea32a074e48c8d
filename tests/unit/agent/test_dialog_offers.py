"""Offers: edition by seats/budget/needs, module by co-occurrence in the CRM sample."""

from __future__ import annotations

import csv

import pytest
from helpers import paths

from tierline.agent.dialog.kb import load_kb
from tierline.agent.dialog.offers import OfferEngine, cny

KB_DIR = paths.KB_DIR


@pytest.fixture(scope="module")
def engine() -> OfferEngine:
    return OfferEngine(load_kb(KB_DIR / "yunfan.yaml"))


def _share(edition: str, module: str) -> float:
    rows = list(csv.DictReader((KB_DIR / "orders.csv").open(encoding="utf-8")))
    on = [r for r in rows if r["edition"] == edition]
    return sum(module in r["modules"].split(";") for r in on) / len(on)


def test_cny_spoken_form() -> None:
    assert cny(7200) == "7200元" and cny(96000) == "9.6万元" and cny(720000) == "72万元"


def test_nothing_to_offer_without_seats_or_budget(engine) -> None:
    assert engine.choose({}) is None


@pytest.mark.parametrize(("slots", "intents", "edition"), [
    ({"seats": 10}, (), "基础版"),
    ({"seats": 80}, (), "专业版"),
    ({"seats": 300}, (), "企业版"),
    ({"seats": 10}, ("tech_integration",), "专业版"),
    ({"seats": 80}, ("customization",), "企业版"),
    ({"seats": 15, "budget": 10000}, ("tech_integration",), "基础版"),  # 专业版 is 1.8万
    ({"budget": 2_000_000}, (), "企业版"),
])
def test_edition_rules(engine, slots, intents, edition) -> None:
    assert engine.choose(slots, intents).edition == edition


def test_module_by_cooccurrence_with_its_share(engine) -> None:
    offer = engine.choose({"seats": 80})
    assert offer.module is not None
    share = _share("专业版", offer.module)
    assert f"{share:.0%}同时选了{offer.module}" in offer.reason
    for other in ("智能外呼", "BI报表", "电子合同", "工单客服"):
        assert _share("专业版", other) <= share + 1e-9


def test_module_from_the_callers_words_wins(engine) -> None:
    offer = engine.choose({"seats": 80}, words="我们主要想做电子签合同")
    assert offer.module == "电子合同" and "您提到的需求" in offer.reason


def test_over_budget_is_said(engine) -> None:
    offer = engine.choose({"seats": 80, "budget": 50000})
    assert offer.edition == "专业版" and "会超出5万元的预算" in offer.reason
