"""The replay report from synthetic records: summary counts, failures, mismatches, transfer
marks, missing values and hostile strings (no browser, no models)."""

from __future__ import annotations

import copy
import math
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tierline.agent.report import mismatch, render, write_report
from tierline.agent.report_media import AgentUtterance, CallMedia, ReportError, clips_folder

HOSTILE = '<script>alert(1)</script><img src=x onerror=alert(2)>"\'&<b>'


def turn(index: int, text: str, tier: str, start: float, *, intent: str = "price_inquiry",
         emotion: str = "neutral", arousal: float = 0.3, **extra) -> dict:
    scores = {t: 0.02 for t in ("high", "medium", "low", "churn_risk")}
    scores[tier] = 0.94
    out = {"index": index, "start_s": start, "end_s": start + 2.0, "text": text,
           "language": "zh", "dialect": None,
           "intent": {"label": intent, "score": 0.9}, "entities": {},
           "emotion": {"label": emotion, "arousal": arousal, "confidence": 0.6,
                       "source": "voice+words"},
           "tier": {"label": tier, "scores": scores, "reasons": [f"because {tier}"]},
           "latency_ms": {"asr": 900.0, "nlu": 10.0, "tier": 1.0, "decision": 950.0}}
    out.update(extra)
    return out


def record(call_id: str, tiers: list[str], route: dict | None = None,
           expected: dict | None = None, **call) -> dict:
    turns = [turn(i, f"第{i + 1}句话", t, 1.0 + 3 * i) for i, t in enumerate(tiers)]
    out = {"call": {"id": call_id, "audio": f"calls/{call_id}.wav", "customer": "C1",
                    "sample_rate": 8000, "channels": 1, "duration_s": 3.0 * len(tiers) + 1,
                    **call},
           "turns": turns, "final_tier": tiers[-1],
           "route": route or {"action": "continue", "queue": None, "at_turn": None,
                              "reason": f"tier {tiers[-1]}: bot keeps the call"}}
    if expected is not None:
        out["call"]["expected"] = expected
    return out


def transfer(queue: str, at: int) -> dict:
    return {"action": "transfer", "queue": queue, "at_turn": at, "reason": f"to {queue}"}


def batch() -> list[dict]:
    return [
        record("angry", ["medium", "churn_risk", "churn_risk"], transfer("care", 1),
               {"tier": "churn_risk", "action": "transfer", "queue": "care"}),
        record("big", ["medium", "high"], transfer("senior_sales", 1),
               {"tier": "high", "action": "transfer", "queue": "general"}),  # wrong queue
        record("calm", ["medium", "medium"], None,
               {"tier": "low", "action": "continue", "queue": None}),  # wrong tier
        record("fine", ["low"], None, {"tier": "low", "route": None}),  # route form
        {"call": {"id": "broken", "audio": "calls/broken.wav"},
         "error": "not a readable audio file: calls/broken.wav (Format not recognised)"},
        record("cut", ["medium"], None,
               cut={"at_s": 4.0, "claimed_s": 49.9, "reason": "the header promises 49.9 s"}),
        record("old", ["low"], None, error="audio ends early at 4.0 s"),  # older records
    ]


class Page(HTMLParser):
    """Tags, attributes and visible text of a page."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self._skip = 0
        self.feed(html)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._skip += tag in ("style", "title")

    def handle_endtag(self, tag):
        self._skip -= tag in ("style", "title") and self._skip > 0

    def handle_data(self, data):
        if not self._skip:
            self.text.append(data)

    def by_id(self, html: str, css_id: str) -> str:
        match = re.search(rf'id="{css_id}"[^>]*>([^<]*)<', html)
        assert match, css_id
        return match.group(1)


def test_summary_counts_tiers_queues_transfers_failures_and_mismatches():
    html = render(batch(), "t")
    page = Page(html)
    assert page.by_id(html, "n-calls") == "7"
    assert page.by_id(html, "n-transfers") == "2"
    assert page.by_id(html, "n-failed") == "1"
    assert page.by_id(html, "n-cut") == "2"
    assert page.by_id(html, "n-mismatches") == "2 of 4"
    tiers = dict(re.findall(r'<td class="num" data-key="(\w+)">(\d+)<', html.split(
        'id="per-tier"')[1].split("</table>")[0]))
    assert tiers == {"churn_risk": "1", "high": "1", "medium": "2", "low": "2"}
    queues = re.findall(r'data-key="(\w*)">(\d+)<', html.split('id="per-queue"')[1].split(
        "</table>")[0])
    assert dict(queues) == {"care": "1", "senior_sales": "1", "": "4"}
    assert "bot keeps the call" in html.split('id="per-queue"')[1].split("</table>")[0]


def test_failures_and_mismatches_come_first_with_their_reason():
    html = render(batch(), "t")
    failures = html.index('id="failures"')
    assert failures < html.index('id="calls"') < html.index('id="call-1"')
    box = html[failures:html.index("</div>", failures)]
    assert "broken" in box and "Format not recognised" in box
    assert "cut at 4.0 s of 49.9 s: the header promises 49.9 s" in box
    assert "stopped early: audio ends early at 4.0 s" in box
    assert box.count("the turn before it is kept") == 2
    differ = html[html.index('id="mismatches"'):html.index('id="calls"')]
    assert "big" in differ and "transfer → senior_sales, expected transfer → general" in differ
    assert "calm" in differ and "tier medium, expected low" in differ
    assert "angry" not in differ and "fine" not in differ
    assert html.count("✘ differs") == 4  # list and section of each of the two
    section = html[html.index('id="call-5"'):html.index('id="call-6"')]
    assert "Failed: not a readable audio file" in section
    assert "Recording cut at 4.0 s of 49.9 s" in html[html.index('id="call-6"'):]
    # a record with an error and its turns is a decided call, not a failure
    assert 'id="call-7"><h2>old</h2><p class="meta">' in html


def test_expected_outcome_checks():
    calm = record("x", ["medium"], None, {"tier": "medium", "action": "continue",
                                          "queue": None})
    assert mismatch(calm) == []
    assert mismatch(record("x", ["medium"])) is None
    assert mismatch(batch()[4]) is None  # a failed call is not compared
    routed = record("x", ["high"], transfer("senior_sales", 0),
                    {"tier": "high", "route": {"queue": "senior_sales"}})
    assert mismatch(routed) == []
    action_only = record("x", ["high"], None, {"tier": "high", "action": "transfer"})
    assert mismatch(action_only) == ["continue, expected transfer"]


def test_turns_after_the_transfer_are_marked():
    html = render(batch()[:1], "t")
    rows = re.findall(r'<tr class="([^"]*)"><td>(\d+)<', html)
    assert rows == [("", "1"), (" transfer", "2"), ("after", "3")]
    assert "transfer → care</div>" in html
    assert html.count('<span class="tag">after transfer</span>') == 1


def test_nothing_missing_reads_as_none_or_null():
    r = record("x", ["medium", "high"], {"action": "transfer", "queue": None, "at_turn": None,
                                         "reason": None},
               {"tier": None, "queue": None}, customer=None, started_at=None,
               sample_rate=None, channels=None, duration_s=None)
    t = r["turns"][0]
    t.update(dialect=None, language=None, asr_confidence=None, entities={"seats": None},
             also_heard=None, reply=None)
    t["emotion"].update(label=None, arousal=None, source=None)
    t["intent"].update(score=None)
    t["tier"].update(reasons=None)
    t["latency_ms"].update(asr=None, decision=float("nan"))
    r["turns"][1]["emotion"]["arousal"] = math.nan
    r["turns"][1]["tier"]["scores"]["low"] = None
    r["final_tier"] = None
    failed = {"call": {"id": None, "audio": None}, "error": None}
    html = render([r, failed, {"call": {}, "turns": [], "final_tier": "low", "route": {}}],
                  "t")
    text = " ".join(Page(html).text)
    for word in ("None", "null", "nan", "NaN", "undefined"):
        assert not re.search(rf"\b{word}\b", text), word
    assert "None" not in html and "null" not in html


def test_hostile_strings_are_text_not_markup():
    r = record(HOSTILE, ["medium", "high"], transfer(HOSTILE, 0),
               {"tier": HOSTILE, "queue": HOSTILE}, customer=HOSTILE, audio=HOSTILE,
               started_at=HOSTILE)
    t = r["turns"][0]
    t.update(text=HOSTILE, language=HOSTILE, dialect=HOSTILE, also_heard=[HOSTILE],
             entities={HOSTILE: HOSTILE, "list": [HOSTILE]})
    t["intent"]["label"] = HOSTILE
    t["emotion"].update(label=HOSTILE, source=HOSTILE)
    t["tier"].update(label=HOSTILE, reasons=[HOSTILE])
    t["tier"]["scores"][HOSTILE] = 0.5
    t["latency_ms"][HOSTILE] = 1.0
    t["reply"] = {"text": HOSTILE, "segments": [{"text": HOSTILE, "interruptible": False}],
                  "question_slot": HOSTILE, "ended": True}
    r["opening"] = {"text": HOSTILE, "segments": [{"text": HOSTILE, "interruptible": True}]}
    r["route"]["reason"] = HOSTILE
    r["final_tier"] = HOSTILE
    failed = {"call": {"id": HOSTILE, "audio": HOSTILE}, "error": HOSTILE}
    media = CallMedia(turns={0: "a.wav"},
                      agent=(AgentUtterance(0.1, 0.9, "b.wav", HOSTILE),),
                      notes=(HOSTILE,))
    html = render([r, failed], HOSTILE, [media, None])
    page = Page(html)
    tags = {tag for tag, _ in page.tags}
    assert not tags & {"script", "img", "iframe", "object", "embed"}
    assert "b" in tags  # the page's own bold, while the hostile <b> stays text
    for tag, attrs in page.tags:
        assert not any(name.startswith("on") for name in attrs), (tag, attrs)
        assert not any("javascript:" in (v or "") for v in attrs.values()), (tag, attrs)
    text = "".join(page.text)
    assert text.count(HOSTILE) >= 15  # shown, verbatim, as text
    # the plots escape what they draw from the record too
    assert "<script" not in html.split("<svg", 1)[1]


def test_stereo_calls_interleave_the_agent_side_and_mono_calls_say_it_is_absent():
    stereo = record("s", ["medium", "medium"], channels=2)
    agent = (AgentUtterance(0.0, 0.8, "s/agent-001.wav", "您好，这里是客服"),
             AgentUtterance(3.2, 3.9, "s/agent-002.wav", ""),
             AgentUtterance(9.0, 9.5, "s/agent-003.wav", None))
    media = CallMedia(turns={0: "s/turn-001.wav", 1: "s/turn-002.wav"}, agent=agent)
    mono = record("m", ["medium"])
    html = render([stereo, mono], "t", [media, CallMedia(turns={0: "m/turn-001.wav"})])
    section = html[html.index('id="call-1"'):html.index('id="call-2"')]
    order = [section.index(s) for s in ("您好，这里是客服", "第1句话", "(nothing recognised)",
                                        "第2句话", "(not transcribed)")]
    assert order == sorted(order)
    assert section.count("<audio") == 5 and 'src="s/turn-002.wav"' in section
    assert section.count('class="other-speech"') == 3
    assert "Mono recording: the agent" in html[html.index('id="call-2"'):]
    assert "Mono recording" not in section
    without = render([mono], "t", None)  # a page written without its clips says so
    assert "<audio" not in without and "Audio clips were not written" in without
    assert "Audio clips were not written" not in render([mono], "t", [None])


def test_write_report_replaces_the_page_and_keeps_a_foreign_clips_folder(tmp_path: Path):
    from tierline.agent.report_media import MediaOptions

    out = tmp_path / "r.html"
    write_report(batch(), out, "t")
    assert out.read_text(encoding="utf-8").startswith("<!doctype html>")
    foreign = clips_folder(out)
    foreign.mkdir()
    (foreign / "mine.txt").write_text("keep me")
    with pytest.raises(ReportError, match="not written by a Tierline report"):
        write_report(batch(), out, "t", MediaOptions(agent="off"))
    assert (foreign / "mine.txt").read_text() == "keep me"


def test_records_are_not_changed_by_rendering():
    results = batch()
    before = copy.deepcopy(results)
    render(results, "t")
    assert results == before
