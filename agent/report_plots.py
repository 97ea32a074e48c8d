"""Inline SVG plots of one call, drawn from its JSON record (the replay ``--json`` contract).

Two panels share the call's time axis: the tier probabilities after each caller turn (a step
line per tier, held until the next decision) and the caller's vocal arousal per turn (a bar
spanning the turn, coloured by the emotion label). A transfer is a dashed line with the
time after it shaded. Pure functions of a ``CallRecord.to_dict()`` dict, no dependencies and
no scripts, so the replay report and a dashboard page can embed the same markup; every text
taken from the record is escaped.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from html import escape
from typing import Any

TIER_ORDER = ("high", "medium", "low", "churn_risk")
TIER_COLOURS = {"high": "#1b7f3b", "medium": "#2f6db5", "low": "#7a7a7a",
                "churn_risk": "#b5382f"}
EMOTION_COLOURS = {"neutral": "#8a8f98", "angry": "#c0392b", "hesitant": "#d68910",
                   "positive": "#1e8449"}
_SPARE = ("#8e44ad", "#16a085", "#a04000", "#34495e")
"""Colours for labels a newer model may add (e.g. an "unknown" tier)."""

WIDTH = 760
_LEFT, _RIGHT, _TOP, _BOTTOM = 40, 14, 24, 24
_STEPS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400)


def number(value: Any) -> float | None:
    """``value`` as a finite float, or None (missing, not a number, NaN, infinite)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def colour(label: str, palette: dict[str, str]) -> str:
    """The colour of a label, a stable spare colour for a label the palette lacks."""
    if label in palette:
        return palette[label]
    return _SPARE[sum(map(ord, label)) % len(_SPARE)]


def clock(seconds: float, span: float) -> str:
    """A time on the call axis: ``12 s`` in a short call, ``m:ss`` or ``h:mm:ss`` in longer."""
    if span < 60:
        return f"{seconds:g} s"
    s = int(round(seconds))
    if span < 3600:
        return f"{s // 60}:{s % 60:02d}"
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"


def call_span(record: dict[str, Any]) -> float:
    """Length of the time axis: the call's duration, at least the end of its last turn."""
    ends = [number(t.get("end_s")) for t in _turns(record)]
    last = max((e for e in ends if e is not None), default=0.0)
    duration = number((record.get("call") or {}).get("duration_s")) or 0.0
    return max(duration, last, 1.0)


def _turns(record: dict[str, Any]) -> list[dict[str, Any]]:
    return [t for t in record.get("turns") or [] if isinstance(t, dict)]


def transfer_time(record: dict[str, Any]) -> float | None:
    """Call-timeline moment of the transfer (end of the deciding turn), None without one."""
    route = record.get("route") or {}
    at = route.get("at_turn")
    if route.get("action") != "transfer" or isinstance(at, bool) or not isinstance(at, int):
        return None
    for turn in _turns(record):
        if turn.get("index") == at:
            return number(turn.get("end_s"))
    return None


class _Axes:
    """Maps call time and a 0..1 value to the pixels of one panel."""

    def __init__(self, span: float, height: int) -> None:
        self.span = span
        self.height = height
        self.inner_w = WIDTH - _LEFT - _RIGHT
        self.inner_h = height - _TOP - _BOTTOM

    def x(self, seconds: float) -> float:
        return round(_LEFT + self.inner_w * min(max(seconds, 0.0), self.span) / self.span, 1)

    def y(self, value: float) -> float:
        return round(_TOP + self.inner_h * (1.0 - min(max(value, 0.0), 1.0)), 1)

    def frame(self, y_label: str) -> str:
        """Grid, axes and tick labels."""
        parts = []
        for v in (0.0, 0.5, 1.0):
            y = self.y(v)
            parts.append(f'<line x1="{_LEFT}" x2="{WIDTH - _RIGHT}" y1="{y}" y2="{y}" '
                         f'stroke="#e3e3e3"/>'
                         f'<text x="{_LEFT - 6}" y="{y + 4}" text-anchor="end">{v:g}</text>')
        step = next((s for s in _STEPS if self.span / s <= 8), _STEPS[-1])
        ticks = [i * step for i in range(int(self.span // step) + 1)]
        for t in ticks:
            x = self.x(t)
            parts.append(f'<line x1="{x}" x2="{x}" y1="{self.y(0)}" y2="{self.y(0) + 4}" '
                         f'stroke="#999"/><text x="{x}" y="{self.height - 6}" '
                         f'text-anchor="middle">{clock(t, self.span)}</text>')
        parts.append(f'<text x="{_LEFT}" y="14" font-weight="600">{escape(y_label)}</text>')
        return "".join(parts)

    def transfer(self, at: float | None, queue: str | None, label: bool) -> str:
        """Shade after the transfer and a dashed line at it (labelled in one panel)."""
        if at is None:
            return ""
        x = self.x(at)
        text = (f'<text x="{min(x + 4, WIDTH - _RIGHT - 4)}" y="{_TOP + 12}" '
                f'text-anchor="{"start" if x < WIDTH - 160 else "end"}" fill="#222" '
                f'stroke="#fff" stroke-width="3" paint-order="stroke">'
                f'transfer → {escape(queue or "a human")}</text>') if label else ""
        return (f'<rect class="after-transfer" x="{x}" y="{_TOP}" '
                f'width="{round(WIDTH - _RIGHT - x, 1)}" height="{self.inner_h}" '
                f'fill="#000" fill-opacity="0.05"/>'
                f'<line x1="{x}" x2="{x}" y1="{_TOP}" y2="{self.y(0)}" stroke="#444" '
                f'stroke-dasharray="4 3"/>{text}')


def _legend(items: Iterable[tuple[str, str]], right: int = WIDTH - _RIGHT) -> str:
    """Colour swatches and labels, right-aligned in the top margin."""
    items = list(items)
    widths = [22 + 7 * len(label) for label, _ in items]
    x = right - sum(widths)
    parts = []
    for (label, fill), w in zip(items, widths, strict=True):
        parts.append(f'<rect x="{x}" y="6" width="12" height="10" fill="{fill}"/>'
                     f'<text x="{x + 16}" y="15">{escape(label)}</text>')
        x += w
    return "".join(parts)


def _svg(kind: str, height: int, label: str, body: str) -> str:
    return (f'<svg class="plot {kind}" viewBox="0 0 {WIDTH} {height}" width="100%" '
            f'style="max-width:{WIDTH}px" role="img" aria-label="{escape(label)}" '
            f'xmlns="http://www.w3.org/2000/svg" font-family="system-ui,sans-serif" '
            f'font-size="11" fill="#333">{body}</svg>')


def tier_labels(record: dict[str, Any]) -> list[str]:
    """The tiers a call's turns carry scores for, in the usual order, new labels last."""
    seen: list[str] = []
    for turn in _turns(record):
        for label in ((turn.get("tier") or {}).get("scores") or {}):
            if label not in seen:
                seen.append(str(label))
    return [t for t in TIER_ORDER if t in seen] + [t for t in seen if t not in TIER_ORDER]


def tier_plot(record: dict[str, Any], height: int = 190) -> str:
    """Tier probabilities after each caller turn, over the call's time.

    Each tier is a step line: the probability decided at the end of a turn holds until the
    next turn's decision. Hovering a stretch shows that turn's scores.

    Args:
        record: One call's JSON record (``CallRecord.to_dict()``).
        height: Panel height in SVG units (the width is :data:`WIDTH`).

    Returns:
        An ``<svg class="plot tier-plot">`` element, or "" when no turn carries scores.
    """
    turns = [t for t in _turns(record) if number(t.get("end_s")) is not None
             and (t.get("tier") or {}).get("scores")]
    labels = tier_labels(record)
    if not turns or not labels:
        return ""
    span = call_span(record)
    axes = _Axes(span, height)
    times = [number(t["end_s"]) or 0.0 for t in turns] + [span]
    parts = [axes.frame("tier probability after each caller turn"),
             axes.transfer(transfer_time(record), (record.get("route") or {}).get("queue"),
                           label=True)]
    for i, turn in enumerate(turns):  # hover targets, under the lines
        scores = turn["tier"]["scores"]
        tip = "; ".join(f"{k} {p:.2f}" for k in labels if (p := number(scores.get(k))) is not None)
        parts.append(f'<rect x="{axes.x(times[i])}" y="{_TOP}" '
                     f'width="{max(round(axes.x(times[i + 1]) - axes.x(times[i]), 1), 1)}" '
                     f'height="{axes.inner_h}" fill="transparent"><title>'
                     f'{escape(_turn_name(turn))} at {clock(times[i], span)}: '
                     f'{escape(tip)}</title></rect>')
    for label in labels:
        points = []
        for i, turn in enumerate(turns):
            p = number(turn["tier"]["scores"].get(label))
            if p is None:
                continue
            points += [f"{axes.x(times[i])},{axes.y(p)}", f"{axes.x(times[i + 1])},{axes.y(p)}"]
        if points:
            fill = colour(label, TIER_COLOURS)
            first = points[0].split(",")
            parts.append(f'<polyline class="tier-line" data-tier="{escape(label)}" '
                         f'points="{" ".join(points)}" fill="none" stroke="{fill}" '
                         f'stroke-width="2"/><circle cx="{first[0]}" cy="{first[1]}" r="2.5" '
                         f'fill="{fill}"/>')
    parts.append(_legend((label, colour(label, TIER_COLOURS)) for label in labels))
    return _svg("tier-plot", height, "tier probabilities over the call", "".join(parts))


def arousal_plot(record: dict[str, Any], height: int = 120,
                 others: Sequence[tuple[float, float]] = ()) -> str:
    """The caller's vocal arousal per turn, over the call's time.

    A bar spans each caller turn at its arousal (0 calm … 1 agitated), coloured by the
    turn's emotion label; a turn whose emotion was not read from the voice is drawn pale.
    When the other side's speech is known (the agent channel of a stereo call), a thin
    strip under the axis shows when it spoke.

    Args:
        record: One call's JSON record.
        height: Panel height in SVG units.
        others: (start_s, end_s) of the other side's utterances.

    Returns:
        An ``<svg class="plot arousal-plot">`` element, or "" when no turn has an arousal.
    """
    turns = []
    for turn in _turns(record):
        emotion = turn.get("emotion") or {}
        start, end, arousal = (number(turn.get("start_s")), number(turn.get("end_s")),
                               number(emotion.get("arousal")))
        if None not in (start, end, arousal):
            turns.append((turn, emotion, start, end, arousal))
    if not turns:
        return ""
    span = call_span(record)
    axes = _Axes(span, height)
    parts = [axes.frame("caller's vocal arousal per turn"),
             axes.transfer(transfer_time(record), None, label=False)]
    labels: list[str] = []
    for turn, emotion, start, end, arousal in turns:
        label = str(emotion.get("label") or "unread")
        labels += [label] if label not in labels else []
        x0, x1 = axes.x(start), axes.x(end)
        source = str(emotion.get("source") or "")
        pale = "voice" not in source
        tip = f"{_turn_name(turn)}, {start:.1f}–{end:.1f} s: {label}, arousal {arousal:.2f}"
        tip += f" (from {source})" if source else ""
        parts.append(f'<rect class="arousal-bar" x="{x0}" y="{axes.y(arousal)}" '
                     f'width="{max(round(x1 - x0, 1), 2)}" '
                     f'height="{round(axes.y(0) - axes.y(arousal), 1)}" '
                     f'fill="{colour(label, EMOTION_COLOURS)}" '
                     f'fill-opacity="{0.35 if pale else 0.85}"><title>{escape(tip)}</title></rect>')
    for start, end in others:
        x0, x1 = axes.x(start), axes.x(end)
        parts.append(f'<rect class="other-speech" x="{x0}" y="{axes.y(0) + 1}" '
                     f'width="{max(round(x1 - x0, 1), 1)}" height="3" fill="#5b6b8c">'
                     f'<title>agent speaking, {start:.1f}–{end:.1f} s</title></rect>')
    legend = [(label, colour(label, EMOTION_COLOURS)) for label in labels]
    parts.append(_legend(legend + ([("agent speaking", "#5b6b8c")] if others else [])))
    return _svg("arousal-plot", height, "caller arousal over the call", "".join(parts))


def _turn_name(turn: dict[str, Any]) -> str:
    index = turn.get("index")
    return f"turn {index + 1}" if isinstance(index, int) and not isinstance(index, bool) \
        else "turn"


def call_plots(record: dict[str, Any], others: Sequence[tuple[float, float]] = ()) -> str:
    """Both panels of a call, one above the other ("" when there is nothing to draw)."""
    return tier_plot(record) + arousal_plot(record, others=others)
