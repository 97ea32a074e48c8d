"""The replay report in a real browser (Debian chromium, headless): the summary and the plots
are in the page, Chinese text is drawn with a Chinese font, every turn's audio loads, hostile
strings stay text, and a full-page screenshot is kept in out/test-artifacts/.

Skips with the reason when chromium is missing; under ``TIERLINE_REQUIRE_MODELS=1`` (``make
test``, which installs it) it fails instead.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from helpers.cdp_chromium import Chromium, chromium_path
from helpers.paths import CALLS, ROOT
from helpers.require import missing

from tierline.agent.report import write_report
from tierline.agent.report_media import MediaOptions

ARTIFACTS = ROOT / "out" / "test-artifacts"
PAYLOAD = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>'
CJK = re.compile(r"[\u4e00-\u9fff]")
CJK_FONT = re.compile(r"WenQuanYi|CJK|Hei|Song|Ming|Kai|Han", re.I)


@pytest.fixture(scope="module")
def browser():
    if chromium_path() is None:
        missing("Debian chromium is not installed: apt-get install chromium "
                 "fonts-wqy-microhei (make test does)")
    fonts = subprocess.run(["fc-list", ":lang=zh", "family"], capture_output=True, text=True,
                           timeout=30) if shutil.which("fc-list") else None
    if fonts is None or not fonts.stdout.strip():
        missing("no Chinese font: apt-get install fonts-wqy-microhei (make test does)")
    with Chromium(timeout_s=60) as b:
        yield b


def _turn(index: int, start: float, end: float, text: str, tier: str, scores: dict,
          arousal: float, emotion: str = "neutral", intent: str = "price_inquiry") -> dict:
    return {"index": index, "start_s": start, "end_s": end, "text": text, "language": "zh",
            "dialect": None, "intent": {"label": intent, "score": 0.91},
            "entities": {"seats": 80} if index == 0 else {},
            "emotion": {"label": emotion, "arousal": arousal, "confidence": 0.6,
                        "source": "voice+words"},
            "tier": {"label": tier, "scores": scores, "reasons": [f"理由：{tier}"]},
            "latency_ms": {"asr": 800.0, "nlu": 9.0, "tier": 1.0, "decision": 850.0}}


def _records() -> list[dict]:
    """Synthetic decisions over two real recordings, a failed file and a hostile caller."""
    med = {"high": 0.05, "medium": 0.85, "low": 0.05, "churn_risk": 0.05}
    churn = {"high": 0.01, "medium": 0.09, "low": 0.02, "churn_risk": 0.88}
    stereo = {"call": {"id": "价格咨询", "audio": str(CALLS / "medium_price_continue.wav"),
                       "customer": None, "sample_rate": 8000, "channels": 2,
                       "duration_s": 26.5,
                       "expected": {"tier": "medium", "action": "continue", "queue": None}},
              "turns": [_turn(0, 10.1, 15.66, "你好 我想问一下你们的价格是多少", "medium",
                              med, 0.31),
                        _turn(1, 22.12, 24.66, "我想体验一下", "medium", med, 0.32)],
              "final_tier": "medium",
              "route": {"action": "continue", "queue": None, "at_turn": None,
                        "reason": "tier medium: bot keeps the call"}}
    angry = {"call": {"id": PAYLOAD, "audio": str(CALLS / "angry_care.wav"),
                      "customer": "C1007", "sample_rate": 8000, "channels": 1,
                      "duration_s": 9.08,
                      "expected": {"tier": "churn_risk", "action": "transfer",
                                   "queue": "retention"}},
             "turns": [_turn(0, 1.1, 4.02, "你们的系统有什么问题" + PAYLOAD, "medium", med, 0.5),
                       _turn(1, 5.4, 7.28, "我非常生气", "churn_risk", churn, 0.7, "angry",
                             "complaint")],
             "final_tier": "churn_risk",
             "route": {"action": "transfer", "queue": "care", "at_turn": 1,
                       "reason": "caller is angry"}}
    failed = {"call": {"id": "坏文件", "audio": str(CALLS / "missing.wav")},
              "error": "not a readable audio file: missing.wav (文件损坏)"}
    return [stereo, failed, angry]


def _check_page(b: Chromium, decided: int, failed: int) -> dict:
    """What every report must show in the browser; returns facts for further checks."""
    facts = b.evaluate("""(() => ({
        calls: document.getElementById('n-calls').textContent,
        failed: document.getElementById('n-failed').textContent,
        failures: [...document.querySelectorAll('#failures li')].map(li => li.textContent),
        tierPlots: [...document.querySelectorAll('svg.tier-plot')].map(
            s => [s.getBoundingClientRect().width, s.querySelectorAll('polyline').length]),
        arousalPlots: document.querySelectorAll('svg.arousal-plot rect.arousal-bar').length,
        turns: document.querySelectorAll('table.turns tr:not(.agent):not(.bot) td:first-child')
            .length,
        agent: [...document.querySelectorAll('tr.agent td:nth-child(2)')].map(
            td => td.textContent),
        injected: document.querySelectorAll('script, img, iframe').length,
        pwned: window.__pwned === undefined ? 0 : window.__pwned,
        text: document.body.innerText,
    }))()""")
    assert facts["calls"] == str(decided + failed)
    assert facts["failed"] == str(failed) and len(facts["failures"]) == failed
    assert len(facts["tierPlots"]) == decided
    assert all(w > 300 and lines >= 4 for w, lines in facts["tierPlots"])
    assert facts["arousalPlots"] == facts["turns"]
    assert facts["injected"] == 0 and facts["pwned"] == 0
    assert not re.search(r"\b(None|null|NaN|undefined)\b", facts["text"])
    durations = b.evaluate("""Promise.all([...document.querySelectorAll('audio')].map(a =>
        new Promise(ok => {
            a.addEventListener('loadedmetadata', () => ok(a.duration));
            a.addEventListener('error', () => ok(-1));
            a.preload = 'metadata'; a.load();
        })))""")
    assert durations and all(d > 0.3 for d in durations), durations
    facts["durations"] = durations
    return facts


def _check_chinese(b: Chromium, selector: str) -> None:
    text = b.evaluate(f"document.querySelector({json.dumps(selector)}).textContent")
    fonts = b.fonts_for(selector)
    cjk = [f for f in fonts if CJK_FONT.search(f["familyName"])]
    assert cjk, fonts
    assert sum(f["glyphCount"] for f in cjk) >= len(CJK.findall(text)) > 0, (fonts, text)


def _check_screenshot(b: Chromium, name: str) -> Path:
    path = ARTIFACTS / name
    stats = b.pixel_stats(b.screenshot(path))
    assert stats["width"] >= 1000 and stats["height"] > 900
    assert stats["inked"] > 2000 and stats["colours"] > 20, stats  # text, badges and plots
    return path


def test_report_of_synthetic_decisions_in_chromium(browser: Chromium, tmp_path: Path):
    page = write_report(_records(), tmp_path / "report.html", "回放报告 <b>test</b>",
                        MediaOptions(agent="audio"))
    browser.open(page.as_uri())
    assert browser.evaluate("document.title") == "回放报告 <b>test</b>"
    facts = _check_page(browser, decided=2, failed=1)
    assert "文件损坏" in facts["failures"][0]
    mismatch = browser.evaluate("document.getElementById('mismatches').textContent")
    assert "transfer → care, expected transfer → retention" in mismatch
    assert PAYLOAD in facts["text"]  # shown as text
    # 4 caller turns and the 2 agent utterances of the stereo call, none transcribed here
    assert len(facts["durations"]) == 6 and facts["agent"] == ["(not transcribed)"] * 2
    assert browser.evaluate("document.querySelectorAll('tr.after').length") == 0
    assert browser.evaluate("document.querySelectorAll('tr.transfer').length") == 1
    _check_chinese(browser, "#call-1 table.turns tr:nth-child(3) td:nth-child(2)")
    _check_screenshot(browser, "report-synthetic.png")


@pytest.mark.whisper
@pytest.mark.slow
def test_replayed_samples_report_in_chromium(browser: Chromium, tmp_path: Path):
    """A real replay (Whisper, both channels of the stereo sample) through the CLI's --report."""
    wavs = [CALLS / "angry_care.wav", CALLS / "medium_price_continue.wav"]
    report = tmp_path / "replay.html"
    proc = subprocess.run(
        [sys.executable, "-m", "tierline.agent.cli", "replay", *map(str, wavs),
         "--json", str(tmp_path / "calls.jsonl"), "--report", str(report)],
        capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    results = [json.loads(line) for line in
               (tmp_path / "calls.jsonl").read_text(encoding="utf-8").splitlines()]
    browser.open(report.as_uri())
    facts = _check_page(browser, decided=2, failed=0)
    caller_turns = sum(len(r["turns"]) for r in results)
    agent = facts["agent"]
    assert len(facts["durations"]) == caller_turns + len(agent)
    # the bot's side of the stereo sample, transcribed: "您好，这里是云帆科技，请问…"
    assert agent and "您好" in agent[0] and "科技" in agent[0], agent
    _check_chinese(browser, "tr.agent td:nth-child(2)")
    shutil.copy(_check_screenshot(browser, "report-replay.png"), ARTIFACTS / "report.png")
