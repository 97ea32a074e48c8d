"""The dashboard in a real browser while a real call is replayed: `tierline serve` on
127.0.0.1, Debian chromium (headless, DevTools over a pipe), and `tierline replay --realtime`
of a sample call (real VAD, Whisper, NLU, tiering) writing to the same SQLite CRM.

The live card appears when the call starts and its tier badge changes as the caller's turns
are decided (medium, then high when the budget is said); the call page shows the replay
report's plots and the transcript; a hostile customer name stays text everywhere. Screenshots
go to out/test-artifacts/. Skips with the reason when chromium or the Whisper model is missing
(under TIERLINE_REQUIRE_MODELS=1 it fails instead).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request

import pytest
from helpers.cdp_chromium import Chromium, chromium_path
from helpers.paths import CALLS, ROOT
from helpers.require import missing

SAMPLE = CALLS / "high_budget_senior_sales.wav"
ARTIFACTS = ROOT / "out" / "test-artifacts"
TOKEN = "dashboard-test-token-0123456789"
HOSTILE = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>'

pytestmark = [pytest.mark.whisper, pytest.mark.slow]

# Records every badge a live card shows, in order, as the page changes (the test's probe).
WATCH = """
window.__badges = [];
const seen = () => {
  for (const b of document.querySelectorAll('.card[data-call] .badge')) {
    const id = b.closest('.card').dataset.call, tier = b.dataset.tier;
    const last = window.__badges.filter(x => x[0] === id).pop();
    if (!last || last[1] !== tier) window.__badges.push([id, tier]);
  }
};
new MutationObserver(seen).observe(document.body, {subtree: true, childList: true,
                                                   attributes: true});
seen();
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(predicate, timeout: float, what: str, step: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


@pytest.fixture
def server(tmp_path):
    """`tierline serve` on a free 127.0.0.1 port over a fresh SQLite CRM."""
    if chromium_path() is None:
        missing("Debian chromium is not installed: apt-get install chromium (make test does)")
    db = tmp_path / "crm.sqlite3"
    csv = tmp_path / "customers.csv"
    quoted = HOSTILE.replace('"', '""')
    csv.write_text(f'id,name,phone\nC1001,华东物流,13800138000\nC666,"{quoted}",13900139000\n',
                   encoding="utf-8")
    env = {**os.environ, "TIERLINE_API_TOKEN": f"{TOKEN}:read,feedback",
           "TIERLINE_DB_URL": str(db)}
    subprocess.run([sys.executable, "-m", "tierline.agent.cli", "crm", "import", str(csv)],
                   env=env, check=True, capture_output=True, timeout=120)
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "tierline.agent.cli", "serve", "--port",
                             str(port)], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            with urllib.request.urlopen(base + "/api/health", timeout=2) as r:
                return r.status == 200
        except OSError:
            return proc.poll() is not None  # died: stop waiting, fail below

    try:
        _wait(up, 60, "the server to answer")
        assert proc.poll() is None, proc.stdout.read().decode(errors="replace")
        yield base, env
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def test_the_tier_badge_changes_live_while_a_call_is_replayed(server, tmp_path):
    base, env = server
    expected = json.loads(SAMPLE.with_suffix(".expected.json").read_text(encoding="utf-8"))
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with Chromium(timeout_s=60, width=1280, height=900) as b:
        b.open(f"{base}/#token={TOKEN}")
        _wait(lambda: b.evaluate("document.querySelector('#main h1') !== null"), 30,
              "the live page")
        assert b.evaluate("location.hash") == "#/live"  # the token left the address bar
        b.evaluate(WATCH)
        out = tmp_path / "replay.jsonl"
        replay = subprocess.Popen(
            [sys.executable, "-m", "tierline.agent.cli", "replay", str(SAMPLE), "--realtime",
             "--json", str(out)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            _wait(lambda: b.evaluate("document.querySelectorAll('.card[data-call]').length"),
                  240, "the call's live card")
            b.screenshot(ARTIFACTS / "dashboard-live-start.png")
            _wait(lambda: replay.poll() is not None, 300, "the replay to finish", 0.5)
        finally:
            if replay.poll() is None:
                replay.kill()
                replay.wait(10)
        assert replay.returncode == 0, replay.stderr.read().decode(errors="replace")
        record = json.loads(out.read_text(encoding="utf-8").splitlines()[0])
        call_id = record["call"]["id"]
        _wait(lambda: b.evaluate(
            f"(document.querySelector('.card[data-call=\"{call_id}\"] .route.transfer') "
            "|| {}).textContent"), 30, "the transfer on the live card")
        badges = [tier for cid, tier in b.evaluate("window.__badges") if cid == call_id]
        # the badge moved while the call ran, and ended where the replay says
        assert len(set(badges)) >= 2, badges
        assert badges[-1] == record["final_tier"] == expected["tier"]
        assert badges[0] == record["turns"][0]["tier"]["label"] or badges[0] in (
            "medium", "low")  # the CRM's initial tier, or the first turn's
        card = b.evaluate(f"document.querySelector('.card[data-call=\"{call_id}\"]').innerText")
        assert record["turns"][-1]["text"] in card  # the last utterance
        assert b.evaluate("document.querySelectorAll('.card svg.spark circle').length") == len(
            record["turns"])
        png = b.screenshot(ARTIFACTS / "dashboard-live.png")
        stats = b.pixel_stats(png)
        assert stats["inked"] > 200 and stats["colours"] > 5, stats

        b.evaluate(f"location.hash = '#/call/{call_id}'")
        _wait(lambda: b.evaluate("document.querySelectorAll('table.transcript tbody tr').length")
              == len(record["turns"]), 30, "the call page's transcript")
        assert b.evaluate("document.querySelectorAll('.plots svg.plot').length") == 2
        page = b.evaluate("document.getElementById('main').innerText")
        assert record["route"]["reason"] in page
        b.screenshot(ARTIFACTS / "dashboard-call.png")

        b.evaluate("location.hash = '#/queue'")
        _wait(lambda: b.evaluate(f"document.querySelector('tr[data-call=\"{call_id}\"]') "
                                 "!== null"), 30, "the call in the human queue")
        b.screenshot(ARTIFACTS / "dashboard-queue.png")

        b.evaluate("location.hash = '#/customers'")
        _wait(lambda: b.evaluate("document.querySelectorAll('td.name').length") >= 2, 30,
              "the customer list")
        names = b.evaluate("[...document.querySelectorAll('td.name')].map(n => n.textContent)")
        assert HOSTILE in names  # shown as the text it is
        assert b.evaluate("document.querySelectorAll('main img, main script').length") == 0
        assert b.evaluate("window.__pwned === undefined")
        # Chinese labels
        b.evaluate("localStorage.setItem('tierline-lang', 'zh'); location.reload()")
        _wait(lambda: b.evaluate("(document.querySelector('header nav a') || {}).textContent")
              == "实时通话", 30, "the Chinese labels")
        b.screenshot(ARTIFACTS / "dashboard-customers-zh.png")
