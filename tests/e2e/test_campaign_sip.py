"""`tierline campaign run --via sip` as a user runs it, against sipp callees on 127.0.0.1.

22 leads: five people and one plain number (dialled through [trunk] address) answering with
real speech (AISHELL-1), three voicemail boxes (asterisk's real prompt and beep), two phones
that ring out, three busy lines, a trunk refusing two numbers with 503, a decline (603),
two numbers on the do-not-call list (a SIP URI and a plain number), two malformed numbers and
a duplicate.
The campaign runs as a child process with the real models; each callee's sipp counts the
INVITEs every number received. A second campaign is killed (SIGKILL) while calls are in
flight and run again: no number is dialled more often than the store says it was.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from campaign_peers import (
    SOUNDS,
    Callee,
    answering,
    person_audio,
    ringing_forever,
    status_only,
    voicemail_audio,
)
from helpers import home as homes
from helpers.data import shared_subdir
from sip_harness import free_port, missing_tools

from tierline.agent.dialog.compliance import DncList

pytestmark = [pytest.mark.slow, pytest.mark.whisper]

if missing_tools("sipp"):
    pytest.skip("sipp is not installed (apt-get install sip-tester; make setup installs it)",
                allow_module_level=True)

# lead id → (callee, user part, expected outcome, expected dials)
PLAN = {
    **{f"h{i}": ("person", f"1380000000{i}", "answered", 1) for i in range(1, 6)},
    **{f"v{i}": ("voicemail", f"1380000001{i}", "answered", 1) for i in range(1, 4)},
    **{f"r{i}": ("ring", f"1380000002{i}", "no_answer", 2) for i in range(1, 3)},
    **{f"b{i}": ("busy", f"1380000003{i}", "busy", 2) for i in range(1, 4)},
    **{f"f{i}": ("refuse", f"1380000004{i}", "failed", 2) for i in range(1, 3)},
    "d1": ("decline", "13800000051", "rejected", 1),
    "n1": ("person", "13900000009", "dnc", 0),
}
FLAGS = ["--concurrency", "3", "--pace", "0.2", "--max-attempts", "2", "--retry-after", "1",
         "--ringing-timeout", "3", "--max-call", "60"]


class Campaign:
    """The callees, the leads file, the endpoint config and a home of its own."""

    def __init__(self, root: Path, user_home: Path) -> None:
        root.mkdir(parents=True, exist_ok=True)
        self.root = root
        clips = sorted((shared_subdir("aishell1_sample") / "wav").glob("*.wav"))[:3]
        if not (SOUNDS / "vm-intro.wav").is_file():
            pytest.fail("asterisk-core-sounds-en-wav is not installed (make setup)")
        self.callees = {
            "person": Callee("person", answering(person_audio(clips, root / "person.al")), root),
            "voicemail": Callee("voicemail", answering(voicemail_audio(root / "vm.al")), root),
            "ring": Callee("ring", ringing_forever(), root),
            "busy": Callee("busy", status_only("486 Busy Here"), root),
            "refuse": Callee("refuse", status_only("503 Service Unavailable"), root),
            "decline": Callee("decline", status_only("603 Decline"), root),
        }
        self.home = homes.isolated_home(user_home, root / "home")
        DncList(self.home / "dnc.sqlite3").add("13900000009", phrase="别再打了")
        DncList(self.home / "dnc.sqlite3").add("+8613900000008", phrase="不要再打")
        rows = [f"{lead},{self.callees[c].uri(user)}" for lead, (c, user, _, _) in PLAN.items()]
        rows += ["p1,+86 138 0000 0099", "n2,13900000008", "m1,138-abc-0000",
                 "m2,sip:broken uri", f"u1,{self.callees['person'].uri('13800000001')}"]
        self.leads = root / "leads.csv"
        self.leads.write_text("id,number\n" + "\n".join(rows) + "\n", encoding="utf-8")
        base = min(max(free_port() // 1000 * 1000, 20000), 60000)
        self.config = root / "sip.toml"
        self.config.write_text(f"""[server]
host = "127.0.0.1"
rtp_port_min = {base}
rtp_port_max = {base + 998}
records_dir = "{root}/records"
recordings_dir = "{root}/recordings"
callbacks_file = "{root}/callbacks.jsonl"
no_rtp_timeout_s = 3

[trunk]
address = "127.0.0.1:{self.callees['person'].port}"

[tts]
sample_rate = 8000
""", encoding="utf-8")
        self.db = root / "campaign.sqlite3"

    def command(self, *extra: str) -> list[str]:
        return [sys.executable, "-m", "tierline.agent.cli", "campaign", "run", str(self.leads),
                "--via", "sip", "--config", str(self.config), "--db", str(self.db), "--name",
                "spring", *FLAGS, *extra]

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "TIERLINE_HOME": str(self.home)}

    def run(self, timeout: float = 420) -> subprocess.CompletedProcess:
        return subprocess.run(self.command(), capture_output=True, text=True, env=self.env,
                              timeout=timeout)

    def invites(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for callee in self.callees.values():
            out.update(callee.invites())
        return out

    def leads_table(self) -> dict[str, dict]:
        with sqlite3.connect(self.db) as con:
            con.row_factory = sqlite3.Row
            rows = con.execute("SELECT * FROM campaign_leads").fetchall()
        return {r["lead_id"]: dict(r) for r in rows}

    def attempts(self) -> list[dict]:
        with sqlite3.connect(self.db) as con:
            con.row_factory = sqlite3.Row
            return [dict(r) for r in con.execute("SELECT * FROM campaign_attempts")]

    def stop(self) -> None:
        for callee in self.callees.values():
            callee.stop()


@pytest.fixture()
def campaign(tmp_path, user_home):
    c = Campaign(tmp_path / "campaign", user_home)
    time.sleep(0.5)  # the sipp processes bind their ports
    yield c
    c.stop()


def _user(row: dict) -> str:
    """The user part a callee sees for a lead (a plain number goes out as its digits)."""
    if row["number"].startswith("sip:"):
        return row["number"].split("@")[0].removeprefix("sip:")
    return row["number"].replace(" ", "")


def _dials_match_attempts(c: Campaign) -> None:
    """What every callee received equals what the store says was dialled."""
    got = c.invites()
    per_lead: dict[str, int] = {}
    for a in c.attempts():
        per_lead[a["lead_id"]] = per_lead.get(a["lead_id"], 0) + 1
    leads = c.leads_table()
    for lead_id, row in leads.items():
        user = _user(row)
        if row["outcome"] in ("malformed", "duplicate"):
            continue
        assert got.get(user, 0) == per_lead.get(lead_id, 0), (lead_id, got, per_lead)
    assert got.get("13900000009", 0) == 0 and got.get("13900000008", 0) == 0  # do-not-call


def test_a_campaign_of_22_leads_ends_with_exact_outcomes(campaign: Campaign, tmp_path):
    started = time.monotonic()
    done = campaign.run()
    took = time.monotonic() - started
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Traceback" not in done.stderr
    leads = campaign.leads_table()
    assert len(leads) == 22
    for lead_id, (_, _, outcome, dials) in PLAN.items():
        assert leads[lead_id]["outcome"] == outcome, (lead_id, leads[lead_id])
        assert leads[lead_id]["attempts"] == dials, (lead_id, leads[lead_id])
        assert leads[lead_id]["status"] == "done"
    assert {k: leads[k]["outcome"] for k in ("p1", "n2", "m1", "m2", "u1")} == {
        "p1": "answered", "n2": "dnc", "m1": "malformed", "m2": "malformed",
        "u1": "duplicate"}
    people = [f"h{i}" for i in range(1, 6)] + ["p1"]
    for lead_id in people:
        row = leads[lead_id]
        assert row["amd"] == "human", row
        assert row["tier"] in ("high", "medium", "low", "churn_risk") and row["route"], row
    for lead_id in ("v1", "v2", "v3"):
        row = leads[lead_id]
        assert (row["amd"], row["tier"]) == ("voicemail", ""), row
        assert "voicemail" in row["next_action"]
    assert "no more dials" in leads["b1"]["next_action"]
    assert leads["n1"]["attempts"] == 0 and "do-not-call" in leads["n1"]["next_action"]
    _dials_match_attempts(campaign)
    assert campaign.invites()["+8613800000099"] == 1  # the plain number, through the trunk
    # every answered call left its record: the people's with turns and the detector's reasons
    records = [json.loads(x) for x in
               (campaign.root / "records" / "calls.jsonl").read_text().splitlines()]
    by_call = {r["call"]["id"]: r for r in records}
    for lead_id in people:
        record = by_call[leads[lead_id]["call_id"]]
        assert record["call"]["amd"]["outcome"] == "human" and record["turns"], record["call"]
        assert record["final_tier"] == leads[lead_id]["tier"]
    for lead_id in ("v1", "v2", "v3"):
        (record,) = [r for r in records if r["call"].get("campaign", {}).get("lead") == lead_id]
        amd = record["call"]["amd"]
        assert amd["beep_hz"] and 650 <= amd["beep_hz"] <= 750  # asterisk's beep is 700 Hz
        sip = record["call"]["sip"]
        assert sip["end_reason"] == "voicemail: message left"
        assert sip["bot"][-1]["text"] == sip["voicemail"]["message"]
        # the message is on the line after the beep (the tracks are aligned with the tap)
        bot, rate = sf.read(sip["recordings"]["bot"], dtype="int16")
        start = int(amd["beep_s"] * rate)
        after = bot[start : start + 3 * rate].astype(np.float64)
        assert len(after) == 3 * rate and np.sqrt(np.mean(after**2)) > 300
    # the report
    out = tmp_path / "report"
    rep = subprocess.run([sys.executable, "-m", "tierline.agent.cli", "campaign", "report",
                          "spring", "--db", str(campaign.db), "--out", str(out), "--json"],
                         capture_output=True, text=True, env=campaign.env, timeout=120)
    assert rep.returncode == 0, rep.stderr
    numbers = json.loads(rep.stdout)
    assert (numbers["leads"], numbers["dialled"], numbers["dials"], numbers["answered"],
            numbers["human"], numbers["voicemail"], numbers["pending"]) == (
        22, 17, 24, 9, 6, 3, 0)
    assert sum(numbers["tiered"].values()) == 6
    assert Path(numbers["csv"]).read_text(encoding="utf-8").count("\n") == 23
    assert "<svg" in Path(numbers["html"]).read_text(encoding="utf-8")
    print(f"campaign of 22 leads: {took:.0f} s")


def test_a_killed_runner_resumes_without_dialling_anyone_twice(campaign: Campaign):
    proc = subprocess.Popen(campaign.command(), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=campaign.env)
    deadline = time.monotonic() + 300
    try:
        while time.monotonic() < deadline:  # kill it with a call answered and in flight
            time.sleep(0.3)
            if not campaign.db.exists():
                continue
            try:
                stages = [a["stage"] for a in campaign.attempts()]
            except sqlite3.OperationalError:
                continue
            if "answered" in stages and stages.count("done") >= 4:
                break
        else:
            pytest.fail("the runner never had a call in flight")
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
    before = campaign.invites()
    in_flight = [a["lead_id"] for a in campaign.attempts() if a["stage"] != "done"]
    assert in_flight
    done = campaign.run()
    assert done.returncode == 0, done.stderr[-3000:]
    leads = campaign.leads_table()
    for lead_id in in_flight:
        assert leads[lead_id]["outcome"] == "interrupted", leads[lead_id]
    for lead_id, (_, _, outcome, _) in PLAN.items():
        if lead_id in in_flight:
            continue
        assert leads[lead_id]["outcome"] == outcome, (lead_id, leads[lead_id])
    assert all(row["status"] == "done" for row in leads.values())
    _dials_match_attempts(campaign)
    after = campaign.invites()
    for lead_id in in_flight:  # an interrupted call is never dialled again
        user = _user(leads[lead_id])
        assert after[user] == before[user] == 1, (lead_id, before, after)
    print(f"killed with {len(in_flight)} call(s) in flight: {in_flight}")
