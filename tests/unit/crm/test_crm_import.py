"""`tierline crm import`: phone numbers cleaned, duplicates merged, bad rows reported with
their line numbers and nothing half-imported, GBK as well as UTF-8, hostile names kept as
text — against a real SQLite file through the real command line."""

from __future__ import annotations

import json
import sqlite3

import pytest

from tierline.agent.cli import main
from tierline.crm.phones import PhoneError, mask, mask_text, normalize_phone

GOOD = ("id,姓名,电话,contract_value,browse_duration,tags,阶段\n"
        "C1,华东物流,+86 138-0013-8000,300000,45,vip;重点,customer\n"
        "C2,\"Bob <script>alert(1)</script>\",13900139000,0,,,lead\n"
        ",华东物流（总部）,0086 13800138000,,60,新客户,\n"
        "C3,\"Robert'); DROP TABLE customers;--\",010-62345678,12,,,prospect\n")


def _rows(db) -> dict[str, tuple]:
    with sqlite3.connect(db) as con:
        return {r[0]: r[1:] for r in con.execute(
            "SELECT id, name, phone, contract_value, browse_duration, tags, lifecycle_stage, "
            "defaulted FROM customers")}


def _import(tmp_path, capsys, content: bytes, *flags: str) -> tuple[int, str, str]:
    path = tmp_path / "customers.csv"
    path.write_bytes(content)
    code = main(["crm", "--db", str(tmp_path / "crm.sqlite3"), "import", str(path), *flags])
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk"])
def test_import_cleans_merges_and_keeps_text_as_text(tmp_path, capsys, encoding):
    code, out, err = _import(tmp_path, capsys, GOOD.encode(encoding))
    assert code == 0, err
    assert "4 row(s): 3 new, 0 updated, 1 merged" in out
    rows = _rows(tmp_path / "crm.sqlite3")
    assert set(rows) == {"C1", "C2", "C3"}
    name, phone, contract, browse, tags, stage, defaulted = rows["C1"]
    # the third row is C1 by its number in another spelling: merged, later cells win
    assert phone == "+8613800138000" and name == "华东物流（总部）" and browse == 60
    assert contract == 300000 and json.loads(tags) == ["vip", "重点", "新客户"]
    assert stage == "customer" and "contract_value" not in json.loads(defaulted)
    assert rows["C2"][0] == "Bob <script>alert(1)</script>"
    assert rows["C3"][0] == "Robert'); DROP TABLE customers;--"
    assert rows["C3"][1] == "+861062345678"
    # a second import updates the same customers instead of adding any
    code, out, _ = _import(tmp_path, capsys, GOOD.encode(encoding))
    assert code == 0 and "0 new, 3 updated" in out and len(_rows(tmp_path / "crm.sqlite3")) == 3


def test_bad_rows_are_reported_by_line_and_nothing_is_written(tmp_path, capsys):
    content = (b"id,name,phone,contract_value\n"
               b"OK1,Fine,13500135000,10\n"
               b"X1,A,12345,1\n"
               b"X2,B,13800000000,abc\n"
               b"\n"
               b"X3,C,13700000000,-5\n"
               b"X4,D,13600000000\n")
    code, out, err = _import(tmp_path, capsys, content)
    assert code == 2 and "Traceback" not in err
    lines = err.strip().splitlines()
    assert [ln.split(":")[1] for ln in lines[:4]] == ["3", "4", "6", "7"]
    assert "nothing imported" in lines[-1] and "4 of 5 row(s)" in lines[-1]
    assert "12345" not in err  # a rejected number is masked too
    assert _rows(tmp_path / "crm.sqlite3") == {}
    code, out, err = _import(tmp_path, capsys, content, "--skip-bad")
    assert code == 0 and "1 new" in out and err.count("skipped") == 4
    assert set(_rows(tmp_path / "crm.sqlite3")) == {"OK1"}


@pytest.mark.parametrize(("content", "message"), [
    (b"", "empty file"),
    (b"id,name,phone\nX,\xff\xfe\x00,1\n", "not a text file"),
    ("id,name,phone\nX,张三,13800138000\n".encode("utf-16"), "not a text file"),
    (b"id,name,phone\nX,\x81\x30\x81\xff\xff,13800138000\n", "neither UTF-8 nor GBK"),
    (b"id,nmae,phone\nX,A,13800138000\n", "unknown column 'nmae'"),
    (b"id,phone,phone\n", "given twice"),
    (b"name,company\nA,B\n", "needs a phone or an id"),
    (b'id,name,phone\nX,"unterminated,13800138000\n', "line"),
])
def test_malformed_files_are_one_line_and_exit_2(tmp_path, capsys, content, message):
    code, _, err = _import(tmp_path, capsys, content)
    assert code == 2 and message in err and "Traceback" not in err
    assert err.strip().count("\n") == 0


def test_a_phone_claimed_by_two_ids_is_a_bad_row(tmp_path, capsys):
    content = b"id,phone\nA,13800138000\nB,+8613800138000\n"
    code, _, err = _import(tmp_path, capsys, content)
    assert code == 2 and ":3:" in err and "already belongs to customer A" in err


@pytest.mark.parametrize(("raw", "e164"), [
    ("+86 138-0013-8000", "+8613800138000"), ("008613800138000", "+8613800138000"),
    ("8613800138000", "+8613800138000"), ("１３８００１３８０００", "+8613800138000"),
    ("010-62345678", "+861062345678"), ("0755 8888 6666", "+8675588886666"),
    ("+44 20 7946 0958", "+442079460958"),
])
def test_numbers_normalise_to_e164(raw, e164):
    assert normalize_phone(raw) == e164


@pytest.mark.parametrize("raw", ["12345", "2380013800", "+86 123", "abc", "", "138001380001",
                                 "+0123456789"])
def test_impossible_numbers_are_refused(raw):
    with pytest.raises(PhoneError):
        normalize_phone(raw)


def test_masks_hide_the_middle():
    assert mask("+8613800138000") == "+86 138****8000"
    assert mask("+861062345678") == "+86 106***5678"
    assert mask_text("我的电话是13800138000，预算50万") == "我的电话是138****8000，预算50万"
    assert mask_text("两千人") == "两千人"
