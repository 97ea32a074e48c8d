"""`tierline chat` end to end (subprocess): script in, one JSON object per turn out."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import paths

ROOT = paths.ROOT


def _run(args: list[str], home: Path, stdin: str = "") -> subprocess.CompletedProcess:
    env = {**os.environ, "TIERLINE_HOME": str(home)}
    env.pop("TIERLINE_LLM_URL", None)
    return subprocess.run([sys.executable, "-m", "tierline.agent.cli", "chat", *args],
                          input=stdin, capture_output=True, text=True, env=env, timeout=60,
                          cwd=ROOT)


@pytest.fixture()
def customer(tmp_path: Path) -> Path:
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"id": "C42", "phone": "+86 139 0000 4242",
                                "browse_duration": 40, "consult_count": 3}), encoding="utf-8")
    return path


def test_opt_out_end_to_end_writes_the_dnc_list(tmp_path, customer) -> None:
    script = tmp_path / "s.txt"
    script.write_text("# a prospect asks, answers, then opts out\n你们这个系统怎么收费？\n"
                      "我们大概八十个人\n别再打了\n这一行不会被读到\n", encoding="utf-8")
    res = _run(["--customer", str(customer), "--script", str(script), "--json"], tmp_path)
    assert res.returncode == 0, res.stderr
    rows = [json.loads(line) for line in res.stdout.splitlines()]
    assert [r["caller"] for r in rows] == [None, "你们这个系统怎么收费？", "我们大概八十个人",
                                          "别再打了"]
    for r in rows:
        assert {"caller", "reply", "tier", "route", "ended", "dnc"} <= set(r)
        assert r["tier"]["label"] in ("high", "medium", "low", "churn_risk")
    assert rows[0]["interruptible"] is False and "录音" in rows[0]["reply"]
    assert "600元" in rows[1]["reply"] and rows[2]["slots"]["seats"] == 80
    assert rows[-1]["dnc"] is True and rows[-1]["ended"] is True
    assert not any(r["dnc"] for r in rows[:-1])
    with sqlite3.connect(tmp_path / "crm.sqlite3") as con:  # the CRM database
        numbers = [n for (n,) in con.execute("SELECT number FROM dnc")]
    assert numbers == ["13900004242"]


def test_human_readable_output_shows_reply_tier_and_reasons(tmp_path) -> None:
    res = _run(["--no-disclosure"], tmp_path, stdin="能先试用一下吗\n")
    assert res.returncode == 0, res.stderr
    assert "bot>    可以免费试用14天" in res.stdout
    assert "tier " in res.stdout and "route continue" in res.stdout
    assert "录音" not in res.stdout


def test_bad_kb_is_one_line_exit_2(tmp_path) -> None:
    kb = tmp_path / "kb.yaml"
    kb.write_text("vendor:\n  name: X\n  product: Y\n", encoding="utf-8")
    res = _run(["--kb", str(kb)], tmp_path)
    assert res.returncode == 2
    assert res.stderr.strip().count("\n") == 0 and "Traceback" not in res.stderr
    assert "kb.yaml:1:" in res.stderr and "hotline" in res.stderr


@pytest.mark.parametrize("args", [["--script", "/nonexistent/s.txt"],
                                  ["--confidence", "1.5"],
                                  ["--customer", "/nonexistent/c.json"]])
def test_bad_arguments_exit_2(tmp_path, args) -> None:
    res = _run(args, tmp_path)
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1
