"""Opt-out phrases and the persisted do-not-call list."""

from __future__ import annotations

import pytest

from tierline.agent.dialog.compliance import (
    DncList,
    InterruptionGate,
    OptOut,
    default_dnc_path,
    normalize_number,
)

PHRASES = ("别再打了", "不要再打", "别打了")


@pytest.mark.parametrize(("text", "hit"), [
    ("别再打了，烦死了", "别再打了"),
    ("以后不要再打过来", "不要再打"),
    ("別再打了", "别再打了"),  # Traditional characters
    ("你们别打了", "别打了"),
    ("还能不能再打折", None),
    ("不要再打折了", None),
    ("你好，我想问价格", None),
])
def test_opt_out_phrases(text, hit) -> None:
    assert OptOut(PHRASES, "折款印").match(text) == hit


def test_numbers_normalise() -> None:
    assert normalize_number("+86 138-0013-8000") == "13800138000"
    assert normalize_number("008613800138000") == "13800138000"
    assert normalize_number("010-62345678") == "01062345678"
    with pytest.raises(ValueError):
        normalize_number("--")


def test_dnc_list_persists(tmp_path) -> None:
    path = tmp_path / "sub" / "dnc.sqlite3"
    dnc = DncList(path)
    assert not dnc.contains("13800138000")
    assert dnc.add("+8613800138000", call_id="c1", phrase="别再打了") is True
    assert dnc.add("13800138000") is False
    again = DncList(path)
    assert again.contains("138 0013 8000") and again.numbers() == ["13800138000"]


def test_default_path_is_under_tierline_home(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("TIERLINE_HOME", str(tmp_path))
    assert default_dnc_path() == tmp_path / "crm.sqlite3"  # the CRM database
    DncList().add("13900000000")
    assert (tmp_path / "crm.sqlite3").is_file()


def test_interruption_gate() -> None:
    gate = InterruptionGate()
    assert gate.allow() and not gate.allow()
    gate.new_turn()
    assert gate.allow()
