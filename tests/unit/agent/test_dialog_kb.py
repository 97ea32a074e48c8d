"""Knowledge-base and template loading: values as written, errors naming field and line."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from helpers import paths

from tierline.agent.dialog.kb import load_kb
from tierline.agent.dialog.templates import load_templates
from tierline.agent.dialog.yamlfile import KbError

KB_DIR = paths.KB_DIR


@pytest.fixture()
def kb_copy(tmp_path: Path) -> Path:
    for name in ("yunfan.yaml", "templates.zh.yaml", "orders.csv"):
        shutil.copy(KB_DIR / name, tmp_path / name)
    return tmp_path


def _line_of(path: Path, needle: str, nth: int = 0) -> int:
    hits = [i + 1 for i, line in enumerate(path.read_text(encoding="utf-8").splitlines())
            if needle in line]
    return hits[nth]


def test_sample_kb_loads_with_its_values() -> None:
    kb = load_kb(KB_DIR / "yunfan.yaml")
    assert [e.name for e in kb.editions] == ["基础版", "专业版", "企业版"]
    assert kb.edition("专业版").price_cny_per_seat_year == 1200
    assert kb.facts["trial_days"] == "14"
    assert "别再打了" in kb.compliance.opt_out_phrases
    assert set(kb.questions) == {"seats", "budget", "timeline", "decision_maker",
                                 "current_system", "pain_point"}
    for q in kb.questions.values():
        for tier in ("high", "medium", "low", "churn_risk"):
            assert sum(a.given_tier[tier] for a in q.answers) == pytest.approx(1.0, abs=0.011)
    assert kb.templates.intents["price_inquiry"]


def test_bad_type_names_field_and_line(kb_copy: Path) -> None:
    path = kb_copy / "yunfan.yaml"
    line = _line_of(path, "price_cny_per_seat_year: 1200")
    path.write_text(path.read_text(encoding="utf-8").replace(
        "price_cny_per_seat_year: 1200", "price_cny_per_seat_year: 一千二"), encoding="utf-8")
    with pytest.raises(KbError) as exc:
        load_kb(path)
    assert f"yunfan.yaml:{line}:" in str(exc.value)
    assert "editions[1].price_cny_per_seat_year must be a number" in str(exc.value)


def test_missing_field_names_field_and_mapping_line(kb_copy: Path) -> None:
    path = kb_copy / "yunfan.yaml"
    text = path.read_text(encoding="utf-8")
    line = _line_of(path, "- name: 企业版")
    path.write_text(text.replace("    highlights: 专业版全部功能", "    note: 专业版全部功能"),
                    encoding="utf-8")
    with pytest.raises(KbError) as exc:
        load_kb(path)
    assert f"yunfan.yaml:{line}:" in str(exc.value)
    assert "missing field 'editions[2].highlights'" in str(exc.value)


def test_answer_probabilities_must_sum_to_one(kb_copy: Path) -> None:
    path = kb_copy / "yunfan.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("{high: 0.15, medium: 0.65,", "{high: 0.5, medium: 0.65,"),
                    encoding="utf-8")
    with pytest.raises(KbError, match=r"questions.seats.answers: given_tier.high sums to 1.35"):
        load_kb(path)


def test_unknown_placeholder_in_templates_is_named(kb_copy: Path) -> None:
    path = kb_copy / "templates.zh.yaml"
    line = _line_of(path, "  trial_request:") + 1
    path.write_text(path.read_text(encoding="utf-8").replace(
        "可以免费试用{trial_days}天", "可以免费试用{trial_weeks}周"), encoding="utf-8")
    with pytest.raises(KbError) as exc:
        load_kb(kb_copy / "yunfan.yaml")
    assert f"templates.zh.yaml:{line}:" in str(exc.value)
    assert "{trial_weeks}" in str(exc.value)


def test_missing_intent_template_is_named(kb_copy: Path) -> None:
    path = kb_copy / "templates.zh.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("  refusal:\n    - 明白，没关系。\n", ""), encoding="utf-8")
    with pytest.raises(KbError, match="missing field 'intents.refusal'"):
        load_templates(path)


@pytest.mark.parametrize(("content", "expected"), [
    ("vendor: [unclosed\n", r"x.yaml:\d+: invalid YAML"),
    ("vendor: {}\nvendor: {}\n", r"x.yaml:2: duplicate key 'vendor' \(first on line 1\)"),
    ("- a\n- b\n", r"x.yaml:1: the top level must be a mapping"),
    ("vendor: 1\n", r"x.yaml:1: vendor must be a mapping"),
])
def test_malformed_yaml_gives_a_line(tmp_path: Path, content: str, expected: str) -> None:
    path = tmp_path / "x.yaml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(KbError, match=expected):
        load_kb(path)


def test_missing_file() -> None:
    with pytest.raises(KbError, match="not found"):
        load_kb("/nonexistent/kb.yaml")
