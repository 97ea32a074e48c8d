"""`tierline campaign run` refusing what it must not do, before any model loads or any dial:
a campaign started outside its calling hours, and bad input (one line, exit 2)."""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
import time

import pytest
from helpers import home as homes


def test_a_campaign_started_outside_its_window_dials_nothing(tmp_path, user_home):
    """Calling hours that exclude now: one line, exit 2, no datagram leaves, leads wait."""
    trap = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    trap.bind(("127.0.0.1", 0))
    trap.settimeout(0.5)
    port = trap.getsockname()[1]
    hour = (time.gmtime().tm_hour + 3) % 24
    leads = tmp_path / "l.csv"
    leads.write_text(f"id,number\na,sip:13800000001@127.0.0.1:{port}\nb,oops\n",
                     encoding="utf-8")
    db = tmp_path / "c.sqlite3"
    env = {**os.environ, "TIERLINE_HOME": str(homes.isolated_home(user_home, tmp_path / "h"))}
    out = subprocess.run([sys.executable, "-m", "tierline.agent.cli", "campaign", "run",
                          str(leads), "--via", "sip", "--db", str(db), "--tz", "UTC",
                          "--window", f"{hour:02d}:00-{(hour + 1) % 24:02d}:00"],
                         capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 2, out.stderr
    assert "no lead may be called now" in out.stderr and "Traceback" not in out.stderr
    assert "b (row 2): malformed" in out.stderr
    with pytest.raises(socket.timeout):
        trap.recvfrom(2048)
    trap.close()
    with sqlite3.connect(db) as con:
        rows = dict(con.execute("SELECT lead_id, next_action FROM campaign_leads").fetchall())
        assert con.execute("SELECT count(*) FROM campaign_attempts").fetchone()[0] == 0
    assert rows["a"].startswith("calling hours") and "UTC closed" in rows["a"]


@pytest.mark.parametrize(("args", "message"), [
    (["missing.csv", "--via", "sip"], "cannot read leads file"),
    (["LEADS", "--via", "sip", "--window", "9-5"], "--window must be HH:MM-HH:MM"),
    (["LEADS", "--via", "livekit"], "--via livekit needs --config"),
    (["NUMBERS", "--via", "sip"], "set [trunk] address"),
])
def test_campaign_bad_input_is_one_line_and_exit_2(tmp_path, args, message):
    (tmp_path / "LEADS").write_text("id,number\na,sip:1@127.0.0.1:9\n", encoding="utf-8")
    (tmp_path / "NUMBERS").write_text("id,number\na,13800000001\n", encoding="utf-8")
    args = [str(tmp_path / a) if a in ("LEADS", "NUMBERS", "missing.csv") else a for a in args]
    out = subprocess.run([sys.executable, "-m", "tierline.agent.cli", "campaign", "run", *args,
                          "--db", str(tmp_path / "c.sqlite3")], capture_output=True, text=True,
                         env={**os.environ, "TIERLINE_HOME": str(tmp_path / "h")}, timeout=120)
    assert out.returncode == 2, out.stderr
    assert message in out.stderr and "Traceback" not in out.stderr


def test_report_without_a_campaign_is_one_line_and_exit_2(tmp_path):
    out = subprocess.run([sys.executable, "-m", "tierline.agent.cli", "campaign", "report",
                          "--db", str(tmp_path / "none.sqlite3")], capture_output=True,
                         text=True, env={**os.environ, "TIERLINE_HOME": str(tmp_path / "h")},
                         timeout=120)
    assert out.returncode == 2
    assert "no campaign in" in out.stderr and "Traceback" not in out.stderr
