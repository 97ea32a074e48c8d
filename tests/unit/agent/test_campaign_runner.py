"""The campaign runner with a scripted dialer: leads, the do-not-call gate, hours, retries,
concurrency, and at-most-once dialling across a runner that dies (a real SQLite store)."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone
from pathlib import Path

import pytest

from tierline.agent.campaign.leads import read_leads
from tierline.agent.campaign.policy import CallingWindow, RetryPolicy
from tierline.agent.campaign.report import funnel, report
from tierline.agent.campaign.runner import CampaignRunner, DialResult, RunSettings
from tierline.agent.campaign.store import CampaignStore
from tierline.agent.clikit import UsageError
from tierline.agent.dialog.compliance import DncList
from tierline.audio.answering import AmdDecision

# 2026-12-08 10:00 in Shanghai (02:00 UTC)
T0 = datetime(2026, 12, 8, 2, 0, tzinfo=timezone.utc).timestamp()


class Clock:
    def __init__(self, t: float = T0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t

    async def sleep(self, s: float) -> None:
        self.t += s
        await asyncio.sleep(0)


class Script:
    """Answers each dial of a lead from its list of outcomes; records every dial."""

    def __init__(self, clock: Clock, outcomes: dict[str, list[str]], call_s: float = 5.0):
        self.clock = clock
        self.outcomes = outcomes
        self.call_s = call_s
        self.dialled: list[tuple[str, int]] = []
        self.inflight = 0
        self.most = 0

    async def dial(self, lead, attempt, on_answered):
        self.dialled.append((lead.number, attempt))
        self.inflight += 1
        self.most = max(self.most, self.inflight)
        await asyncio.sleep(0.01)
        self.clock.t += self.call_s
        self.inflight -= 1
        outcome = self.outcomes.get(lead.lead_id, ["answered"])[attempt - 1]
        if outcome == "answered":
            on_answered()
            amd = AmdDecision("human", 0.8, 2.0, ("greeting of 0.8 s",))
            record = {"final_tier": "high", "route": {"action": "transfer",
                                                      "queue": "senior_sales"},
                      "call": {"id": f"c-{lead.lead_id}",
                               "sip": {"transfer": {"result": "transferred"}}}}
            return DialResult("answered", 200, amd, record)
        if outcome == "voicemail":
            on_answered()
            amd = AmdDecision("voicemail", 0.95, 6.0, ("beep",), 6.0, 1000.0)
            return DialResult("answered", 200, amd, {"final_tier": "medium", "route": {},
                                                     "call": {"id": "v"}})
        return DialResult(outcome, {"busy": 486, "failed": 503}.get(outcome))


def leads_file(tmp_path: Path, rows: list[str]) -> Path:
    path = tmp_path / "leads.csv"
    path.write_text("id,number,name,tz,contract_value\n" + "\n".join(rows) + "\n",
                    encoding="utf-8")
    return path


def setup(tmp_path, rows, outcomes, settings=None, clock=None):
    clock = clock or Clock()
    store = CampaignStore(tmp_path / "c.sqlite3")
    store.create("c", "leads.csv", "sip", {}, read_leads(leads_file(tmp_path, rows)), clock())
    dnc = DncList(tmp_path / "dnc.sqlite3")
    script = Script(clock, outcomes)
    runner = CampaignRunner(store, "c", script, settings or RunSettings(pace_s=0),
                            dnc=dnc, clock=clock, sleep=clock.sleep, say=lambda _: None)
    return store, dnc, script, runner, clock


def test_leads_file_accounts_for_malformed_and_duplicate_numbers(tmp_path):
    leads = read_leads(leads_file(tmp_path, [
        "a,+86 138-0013-8000,张三,,", "b,13800138000,,,", "c,12ab,,,",
        "d,sip:bot@127.0.0.1:5070,,,", "e,sip:not a uri,,,", "f,,,,",
        "g,008613900139000,,Asia/Urumqi,50000", "h,123,,,"]))
    got = {x.lead_id: (x.problem, x.key) for x in leads}
    assert got["a"] == ("", "13800138000")
    assert got["b"] == ("duplicate", "13800138000")
    assert next(x for x in leads if x.lead_id == "b").detail == "same number as lead a"
    assert got["c"][0] == got["e"][0] == got["f"][0] == got["h"][0] == "malformed"
    assert got["d"] == ("", "sip:bot@127.0.0.1:5070")
    g = next(x for x in leads if x.lead_id == "g")
    assert (g.problem, g.tz, g.customer) == ("", "Asia/Urumqi", {"contract_value": 50000.0})


@pytest.mark.parametrize(("text", "message"), [
    ("id,phone_no\n1,138\n", "needs a 'number' column"),
    ("id,number,tz\n1,13800138000,Mars/Base\n", "unknown time zone"),
    ("id,number\n1,13800138000\n1,13900139000\n", "used twice"),
    ("id,number,contract_value\n1,13800138000,lots\n", "must be a number"),
])
def test_bad_leads_files_are_one_clear_error(tmp_path, text, message):
    path = tmp_path / "l.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(UsageError, match=message):
        read_leads(path)


def test_a_campaign_dials_each_lead_once_and_accounts_for_every_row(tmp_path):
    rows = ["a,13800000001,,,", "b,13800000002,,,", "c,+8613800000001,,,", "d,xx,,,",
            "e,13800000005,,,", "f,13800000006,,,"]
    store, dnc, script, runner, _ = setup(tmp_path, rows, {"f": ["voicemail"]})
    dnc.add("13800000005", phrase="别再打了")
    summary = asyncio.run(runner.run())
    assert sorted(n for n, _ in script.dialled) == ["13800000001", "13800000002", "13800000006"]
    assert summary.refused_dnc == ["e"]
    by = {x.lead_id: x for x in store.leads("c")}
    assert {k: v.outcome for k, v in by.items()} == {
        "a": "answered", "b": "answered", "c": "duplicate", "d": "malformed", "e": "dnc",
        "f": "answered"}
    assert (by["a"].amd, by["a"].tier, by["a"].route, by["a"].transferred) == (
        "human", "high", "transfer:senior_sales", True)
    assert by["f"].amd == "voicemail" and "voicemail" in by["f"].next_action
    assert all(x.status == "done" for x in by.values())
    numbers = funnel(store.leads("c"), store.attempts("c"))
    assert (numbers["leads"], numbers["dialled"], numbers["answered"], numbers["human"],
            numbers["voicemail"], numbers["transferred"]) == (6, 3, 3, 2, 1, 2)
    assert numbers["tiered"]["high"] == 2
    _, csv_path, html_path = report(store, "c", tmp_path / "out")
    assert csv_path.read_text(encoding="utf-8").count("\n") == 7
    assert "<svg" in html_path.read_text(encoding="utf-8")


def test_a_number_put_on_the_list_mid_campaign_is_not_dialled_again(tmp_path):
    settings = RunSettings(pace_s=0, retry=RetryPolicy(3, 60))
    store, dnc, script, runner, clock = setup(tmp_path, ["a,13800000001,,,"],
                                              {"a": ["busy", "answered", "answered"]}, settings)

    async def go():
        task = asyncio.ensure_future(runner.run())
        while not script.dialled:
            await asyncio.sleep(0.005)
        dnc.add("13800000001")  # the callee opted out (another call, another agent)
        return await task

    asyncio.run(go())
    assert script.dialled == [("13800000001", 1)]
    (lead,) = store.leads("c")
    assert (lead.outcome, lead.attempts) == ("dnc", 1)


def test_busy_and_failed_are_retried_with_backoff_then_given_up(tmp_path):
    settings = RunSettings(pace_s=0, retry=RetryPolicy(max_attempts=3, backoff_s=60, factor=2))
    store, _, script, runner, clock = setup(
        tmp_path, ["a,13800000001,,,", "b,13800000002,,,", "c,13800000003,,,"],
        {"a": ["busy", "busy", "answered"], "b": ["failed", "failed", "failed"],
         "c": ["rejected"]}, settings)
    asyncio.run(runner.run())
    assert sorted(script.dialled) == [("13800000001", 1), ("13800000001", 2),
                                      ("13800000001", 3), ("13800000002", 1),
                                      ("13800000002", 2), ("13800000002", 3),
                                      ("13800000003", 1)]
    by = {x.lead_id: x for x in store.leads("c")}
    assert (by["a"].outcome, by["a"].attempts) == ("answered", 3)
    assert (by["b"].outcome, by["b"].attempts, by["b"].status) == ("failed", 3, "done")
    assert "no more dials" in by["b"].next_action
    assert (by["c"].outcome, by["c"].attempts) == ("rejected", 1)
    starts = [a["started_at"] for a in store.attempts("c", "a")]
    assert starts[1] - starts[0] >= 60 and starts[2] - starts[1] >= 120  # backoff doubles


def test_concurrency_and_pace_are_kept(tmp_path):
    rows = [f"l{i},1380000{i:04d},,," for i in range(8)]
    settings = RunSettings(concurrency=3, pace_s=2.0)
    store, _, script, runner, _ = setup(tmp_path, rows, {}, settings)
    asyncio.run(runner.run())
    assert len(script.dialled) == 8 and script.most == 3
    starts = sorted(a["started_at"] for a in store.attempts("c"))
    assert all(b - a >= 2.0 - 1e-6 for a, b in zip(starts, starts[1:], strict=False))


def test_outside_the_calling_hours_nothing_is_dialled_and_leads_wait(tmp_path):
    night = datetime(2026, 12, 8, 15, 0, tzinfo=timezone.utc).timestamp()  # 23:00 Shanghai
    settings = RunSettings(pace_s=0, window=CallingWindow.parse("09:00-20:00", "Asia/Shanghai"),
                           max_wait_s=600)
    store, _, script, runner, _ = setup(
        tmp_path, ["a,13800000001,,,", "b,13800000002,,Asia/Urumqi,"], {}, settings,
        clock=Clock(night))
    summary = asyncio.run(runner.run())
    assert script.dialled == [] and summary.outside_window and summary.waiting == 2
    by = {x.lead_id: x for x in store.leads("c")}
    opens = datetime.fromtimestamp(by["a"].next_at, timezone.utc)
    assert opens == datetime(2026, 12, 9, 1, 0, tzinfo=timezone.utc)  # 09:00 Shanghai
    assert "calling hours 09:00-20:00 Asia/Shanghai closed" in by["a"].next_action
    # Urumqi is UTC+6: its 09:00 is 03:00 UTC
    assert datetime.fromtimestamp(by["b"].next_at, timezone.utc).hour == 3


def test_a_window_past_midnight_and_its_errors():
    w = CallingWindow.parse("20:00-02:00", "Asia/Shanghai")
    assert w.is_open(datetime(2026, 12, 8, 17, 30, tzinfo=timezone.utc))  # 01:30 local
    assert not w.is_open(datetime(2026, 12, 8, 4, 0, tzinfo=timezone.utc))  # 12:00 local
    for bad in ("9-20", "25:00-26:00", "09:00-09:00"):
        with pytest.raises(UsageError):
            CallingWindow.parse(bad, "Asia/Shanghai")
    with pytest.raises(UsageError, match="time zone"):
        CallingWindow.parse("09:00-20:00", "Nowhere/City")


def test_attempts_in_flight_when_a_runner_died_are_never_redialled(tmp_path):
    store, _, script, runner, clock = setup(
        tmp_path, ["a,13800000001,,,", "b,13800000002,,,", "c,13800000003,,,"], {})
    # a previous runner claimed a and b (INVITEs possibly sent), answered b, then died
    assert store.claim("c", "a", clock()) == 1
    assert store.claim("c", "b", clock()) == 1
    store.answered("c", "b", 1)
    assert store.claim("c", "a", clock()) is None  # claimed leads cannot be claimed again
    summary = asyncio.run(runner.run())
    assert sorted(summary.interrupted) == ["a", "b"]
    assert script.dialled == [("13800000003", 1)]
    by = {x.lead_id: x for x in store.leads("c")}
    assert by["a"].outcome == by["b"].outcome == "interrupted"
    assert "while ringing" in by["a"].detail and "during the call" in by["b"].detail
    assert [a["stage"] for a in store.attempts("c")] == ["interrupted", "interrupted", "done"]


def test_rerunning_the_same_file_resumes_instead_of_starting_over(tmp_path):
    store, _, script, runner, clock = setup(tmp_path, ["a,13800000001,,,"], {})
    asyncio.run(runner.run())
    leads = read_leads(tmp_path / "leads.csv")
    assert store.create("c", "leads.csv", "sip", {}, leads, clock()) == (0, 1)
    asyncio.run(runner.run())
    assert script.dialled == [("13800000001", 1)]
