"""The call plots as SVG: geometry follows the record, labels are escaped, long calls stay small."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from tierline.agent.report_plots import (
    WIDTH,
    arousal_plot,
    call_plots,
    call_span,
    clock,
    tier_plot,
    transfer_time,
)

SVG = "{http://www.w3.org/2000/svg}"


def call(scores: list[dict[str, float]], arousal: list[float], duration: float = 20.0,
         route: dict | None = None, emotions: list[str] | None = None) -> dict:
    turns = []
    for i, (s, a) in enumerate(zip(scores, arousal, strict=True)):
        turns.append({"index": i, "start_s": 2.0 + 4 * i, "end_s": 4.0 + 4 * i,
                      "tier": {"label": max(s, key=s.get), "scores": s, "reasons": []},
                      "emotion": {"label": (emotions or ["neutral"] * len(arousal))[i],
                                  "arousal": a, "source": "voice+words"}})
    return {"call": {"id": "c", "duration_s": duration}, "turns": turns,
            "route": route or {"action": "continue", "queue": None, "at_turn": None}}


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)  # well-formed XML, or this raises


def points(root: ET.Element, tier: str) -> list[tuple[float, float]]:
    line = next(p for p in root.iter(f"{SVG}polyline") if p.get("data-tier") == tier)
    return [tuple(map(float, xy.split(","))) for xy in line.get("points").split()]


def test_tier_lines_step_through_each_turns_scores_until_the_next_decision():
    scores = [{"high": 0.1, "medium": 0.8, "low": 0.1, "churn_risk": 0.0},
              {"high": 0.9, "medium": 0.05, "low": 0.05, "churn_risk": 0.0}]
    root = parse(tier_plot(call(scores, [0.2, 0.4])))
    high = points(root, "high")
    assert len(high) == 4  # two steps
    xs = [x for x, _ in high]
    assert xs == sorted(xs) and xs[-1] == WIDTH - 14  # held to the end of the call
    (x0, y_low), _, (x1, y_high), _ = high
    assert y_high < y_low  # 0.9 is drawn above 0.1
    # decisions at the end of each turn: 4 s and 8 s of a 20 s call
    assert abs((x1 - x0) - (WIDTH - 40 - 14) * 4 / 20) < 0.2
    assert {p.get("data-tier") for p in root.iter(f"{SVG}polyline")} == set(scores[0])
    tips = [t.text for t in root.iter(f"{SVG}title")]
    assert any("turn 2" in t and "high 0.90" in t for t in tips)


def test_arousal_bars_span_their_turns_and_pale_when_not_from_the_voice():
    record = call([{"medium": 1.0}] * 3, [0.2, 0.9, 0.5], emotions=["neutral", "angry", "x"])
    record["turns"][2]["emotion"]["source"] = "words"
    root = parse(arousal_plot(record))
    bars = [r for r in root.iter(f"{SVG}rect") if r.get("class") == "arousal-bar"]
    assert len(bars) == 3
    heights = [float(b.get("height")) for b in bars]
    assert heights[1] > heights[2] > heights[0]
    assert [b.get("fill-opacity") for b in bars] == ["0.85", "0.85", "0.35"]
    assert bars[0].get("fill") != bars[1].get("fill")  # neutral and angry differ


def test_transfer_line_sits_at_the_deciding_turn_and_shades_what_follows():
    route = {"action": "transfer", "queue": "care", "at_turn": 1}
    record = call([{"medium": 1.0}] * 3, [0.3] * 3, route=route)
    assert transfer_time(record) == 8.0
    for svg in (tier_plot(record), arousal_plot(record)):
        shade = next(r for r in parse(svg).iter(f"{SVG}rect")
                     if r.get("class") == "after-transfer")
        assert abs(float(shade.get("x")) - (40 + (WIDTH - 54) * 8 / 20)) < 0.2
    assert "transfer → care" in tier_plot(record)
    assert transfer_time(call([{"medium": 1.0}], [0.3])) is None


def test_nothing_to_draw_draws_nothing():
    assert call_plots({"call": {}, "turns": []}) == ""
    assert call_plots({"call": {"id": "x"}, "error": "bad file"}) == ""
    broken = call([{"medium": 1.0}], [0.3])
    broken["turns"][0].update(end_s=None, emotion={"arousal": None})
    assert tier_plot(broken) == "" and arousal_plot(broken) == ""


def test_labels_from_the_record_are_escaped():
    evil = "<script>x</script>"
    record = call([{evil: 1.0}], [0.5], emotions=[evil],
                  route={"action": "transfer", "queue": evil, "at_turn": 0})
    svg = call_plots(record, others=[(0.5, 1.0)])
    assert "<script" not in svg and "&lt;script&gt;" in svg
    for part in re.findall(r"<svg.*?</svg>", svg, flags=re.S):
        parse(part)


def test_a_two_hour_call_stays_a_small_readable_plot():
    n = 1200
    scores = [{"high": (i % 7) / 10, "medium": 1 - (i % 7) / 10} for i in range(n)]
    record = call(scores, [(i % 10) / 10 for i in range(n)], duration=7200.0)
    svg = call_plots(record, others=[(1.0 + 6 * i, 3.0 + 6 * i) for i in range(n)])
    assert len(svg) < 1_200_000
    ticks = [t.text for t in parse(tier_plot(record)).iter(f"{SVG}text")]
    assert "1:00:00" in ticks and "2:00:00" in ticks
    assert clock(75, 600) == "1:15" and clock(12, 30) == "12 s"
    assert call_span(record) == 7200.0
