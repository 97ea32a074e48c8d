"""The replay report a supervisor reads: one self-contained HTML page (no scripts, no network).

At the top a summary: calls per final tier and per queue, transfers, the calls that failed
(records ``{"call": ..., "error": ...}``) or were cut short (``call.cut``: the recording
broke off, the turns before it kept), and the calls whose outcome differs
from the expected one a sample carries (``call.expected``). Then one section per call: the
tier and arousal plots (:mod:`tierline.agent.report_plots`), and the turns with intent,
entities, emotion, tier and reasons, the turns after a transfer marked, the bot's replies or
the other channel of a stereo recording between them, and each turn's audio
(:mod:`tierline.agent.report_media`, clips in a folder beside the page).

Everything taken from a record is escaped, and a missing value is shown as a dash or left
out, never as "None".
"""

from __future__ import annotations

import math
from collections import Counter
from html import escape
from pathlib import Path
from typing import Any

from tierline.agent.report_media import AgentUtterance, CallMedia, MediaOptions, write_media
from tierline.agent.report_plots import (
    EMOTION_COLOURS,
    TIER_COLOURS,
    TIER_ORDER,
    call_plots,
    clock,
    colour,
    number,
)

DASH = "—"
_CSS = """
body{font-family:system-ui,"Noto Sans CJK SC","WenQuanYi Micro Hei",sans-serif;margin:2em;
color:#222;max-width:1280px}
h1{font-size:1.4em} h2{font-size:1.1em;margin:2.2em 0 .3em}
h3{font-size:.95em;margin:1.2em 0 .3em;color:#444}
table{border-collapse:collapse;width:100%;font-size:.9em}
th,td{border-bottom:1px solid #ddd;padding:.35em .5em;text-align:left;vertical-align:top}
th{background:#f4f4f4} .num{text-align:right}
.tier{color:#fff;border-radius:3px;padding:0 .4em;white-space:nowrap}
.route{font-weight:600} .meta{color:#555;font-size:.9em} .err{color:#b5382f}
.reasons{color:#555;font-size:.85em} .small{font-size:.8em;color:#666}
.totals{display:flex;gap:1.5em;flex-wrap:wrap;margin:.5em 0 1em}
.totals div{border:1px solid #ddd;border-radius:4px;padding:.4em .8em;min-width:6em}
.totals b{display:block;font-size:1.5em} .bad b{color:#b5382f}
.columns{display:flex;gap:2em;flex-wrap:wrap} .columns table{width:auto;min-width:16em}
.failures{border-left:4px solid #b5382f;background:#fdf3f2;padding:.5em 1em;margin:1em 0}
.mismatch{border-left:4px solid #d68910;background:#fdf7ec;padding:.5em 1em;margin:1em 0}
.bot td,.agent td{background:#f7f9fc;color:#234;font-size:.85em;border-bottom:1px solid #eee}
tr.after td{background:#f3f3f3;color:#555} tr.after td:first-child{border-left:4px solid #999}
tr.transfer td{border-bottom:2px solid #444}
.tag{font-size:.75em;border:1px solid #999;border-radius:3px;padding:0 .3em;white-space:nowrap}
audio{height:1.8em;width:12em;display:block;margin-top:.2em}
.plots svg{display:block;margin:.4em 0}
"""


# --------------------------------------------------------------------------- values


def show(value: Any) -> str:
    """Escaped text of a record value; a missing value is a dash, never "None"."""
    if value is None or value == "":
        return DASH
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}" if math.isfinite(value) else DASH
    if isinstance(value, (list, tuple)):
        return ", ".join(show(v) for v in value) or DASH
    if isinstance(value, dict):
        return ", ".join(f"{escape(str(k))} {show(v)}" for k, v in value.items()) or DASH
    return escape(str(value))


def _fixed(value: Any, digits: int) -> str:
    v = number(value)
    return DASH if v is None else f"{v:.{digits}f}"


def _tier(label: Any) -> str:
    if not label:
        return DASH
    label = str(label)
    return (f'<span class="tier" data-tier="{escape(label)}" '
            f'style="background:{colour(label, TIER_COLOURS)}">{escape(label)}</span>')


def _queue(queue: Any) -> str:
    """A route's queue as a reader says it ("bot keeps the call" without a transfer)."""
    return show(queue) if queue else "bot keeps the call"


def _outcome(queue: Any) -> str:
    return f"transfer → {show(queue)}" if queue else "bot keeps the call"


def _route(route: dict[str, Any]) -> str:
    if route.get("action") == "transfer":
        at = route.get("at_turn")
        when = f" after turn {at + 1}" if isinstance(at, int) and not isinstance(at, bool) else ""
        return f"transfer → {show(route.get('queue'))}{when}"
    return "continue (bot keeps the call)"


def failed(result: dict[str, Any]) -> bool:
    """A file that gave no decisions: the record is ``{"call": ..., "error": ...}``."""
    return "error" in result and "turns" not in result


def cut_short(call: dict[str, Any]) -> str | None:
    """Why a decided call's recording stopped before its end, or None when it did not.

    ``call.cut`` is ``{at_s, claimed_s, reason}``; an older record says ``call.error``.
    """
    cut = call.get("cut")
    if isinstance(cut, dict):
        at, claimed = number(cut.get("at_s")), number(cut.get("claimed_s"))
        where = f"cut at {at:.1f} s" if at is not None else "cut"
        where += f" of {claimed:.1f} s" if claimed is not None else ""
        return where + (f": {cut['reason']}" if cut.get("reason") else "")
    if call.get("error"):
        return f"stopped early: {call['error']}"
    return None


def _call_id(result: dict[str, Any], number_: int) -> str:
    call = result.get("call") or {}
    return str(call.get("id") or Path(str(call.get("audio") or "")).stem or f"call {number_}")


def _expected(call: dict[str, Any]) -> dict[str, Any] | None:
    """The outcome a call should reach: tier, action and, when given, queue (None: the bot
    keeps the call). A sample's ``NAME.expected.json`` gives ``queue``; ``route`` (a queue
    or a route dict) is read too."""
    expected = call.get("expected")
    if not isinstance(expected, dict):
        return None
    out = {"tier": expected.get("tier"), "action": expected.get("action")}
    if "queue" in expected:
        out["queue"] = expected["queue"]
    elif "route" in expected:
        route = expected["route"]
        out["queue"] = route.get("queue") if isinstance(route, dict) else route
    return out


def mismatch(result: dict[str, Any]) -> list[str] | None:
    """How a decided call differs from its expected outcome.

    Returns:
        One phrase per difference ([] when it matches), or None when nothing was expected
        or the call failed.
    """
    expected = _expected(result.get("call") or {})
    if expected is None or failed(result):
        return None
    route = result.get("route") or {}
    diffs = []
    if expected["tier"] and expected["tier"] != result.get("final_tier"):
        diffs.append(f"tier {show(result.get('final_tier'))}, expected {show(expected['tier'])}")
    if "queue" in expected and expected["queue"] != route.get("queue"):
        diffs.append(f"{_outcome(route.get('queue'))}, expected {_outcome(expected['queue'])}")
    elif expected["action"] and expected["action"] != route.get("action"):
        diffs.append(f"{show(route.get('action'))}, expected {show(expected['action'])}")
    return diffs


# --------------------------------------------------------------------------- summary


def _count_table(title: str, counts: Counter, key_html, css_id: str) -> str:
    rows = "".join(f'<tr><td>{key_html(k)}</td><td class="num" data-key="{escape(str(k))}">'
                   f'{n}</td></tr>' for k, n in counts.items())
    return (f'<table id="{css_id}"><tr><th>{title}</th><th class="num">calls</th></tr>'
            f'{rows or "<tr><td colspan=2>none</td></tr>"}</table>')


def summary(results: list[dict[str, Any]]) -> str:
    """The top of the report: totals, failures, mismatches and the list of calls."""
    broken = [(i, r) for i, r in enumerate(results) if failed(r)]
    decided = [(i, r) for i, r in enumerate(results) if not failed(r)]
    stopped = [(i, r, why) for i, r in decided if (why := cut_short(r.get("call") or {}))]
    tiers = Counter(str(r.get("final_tier") or "") for _, r in decided)
    ordered = Counter({t: tiers[t] for t in TIER_ORDER if tiers[t]})
    ordered.update({t: n for t, n in tiers.items() if t not in TIER_ORDER})
    queues = Counter((r.get("route") or {}).get("queue") or "" for _, r in decided)
    transfers = sum(1 for _, r in decided if (r.get("route") or {}).get("action") == "transfer")
    checked = [(i, r, d) for i, r in decided if (d := mismatch(r)) is not None]
    differ = [(i, r, d) for i, r, d in checked if d]
    totals = [("calls", len(results), "n-calls", False),
              ("transfers", transfers, "n-transfers", False),
              ("failed", len(broken), "n-failed", bool(broken)),
              ("cut short", len(stopped), "n-cut", bool(stopped)),
              ("differ from expected", f"{len(differ)} of {len(checked)}", "n-mismatches",
               bool(differ))]
    parts = ['<section id="summary"><h2>Summary</h2><div class="totals">']
    parts += [f'<div class="{"bad" if bad else ""}"><b id="{css_id}">{value}</b>{label}</div>'
              for label, value, css_id, bad in totals]
    parts.append("</div>")
    if broken or stopped:
        items = [f'<li><b>{escape(_call_id(r, i + 1))}</b> '
                 f'<span class="small">{show((r.get("call") or {}).get("audio"))}</span>: '
                 f'<span class="err">{show(r.get("error"))}</span></li>' for i, r in broken]
        items += [f'<li><a href="#call-{i + 1}">{escape(_call_id(r, i + 1))}</a>: '
                  f'<span class="err">{escape(why)}</span>; {_turns_kept(r)}</li>'
                  for i, r, why in stopped]
        parts.append(f'<div class="failures" id="failures"><h3>Failures</h3><ul>'
                     f'{"".join(items)}</ul></div>')
    if differ:
        items = [f'<li><a href="#call-{i + 1}">{escape(_call_id(r, i + 1))}</a>: '
                 f'{"; ".join(d)}</li>' for i, r, d in differ]
        parts.append(f'<div class="mismatch" id="mismatches"><h3>Different from expected</h3>'
                     f'<ul>{"".join(items)}</ul></div>')
    parts.append('<div class="columns">'
                 + _count_table("final tier", ordered, _tier, "per-tier")
                 + _count_table("queue", queues, _queue, "per-queue") + "</div>")
    parts.append(_call_list(results))
    parts.append("</section>")
    return "".join(parts)


def _turns_kept(result: dict[str, Any]) -> str:
    n = len(result.get("turns") or [])
    return f"the {n} turns before it are kept" if n != 1 else "the turn before it is kept"


def _call_list(results: list[dict[str, Any]]) -> str:
    rows = []
    for i, r in enumerate(results):
        call = r.get("call") or {}
        if failed(r):
            rows.append(f'<tr><td>{escape(_call_id(r, i + 1))}</td><td colspan=5 class="err">'
                        f'failed: {show(r.get("error"))}</td></tr>')
            continue
        diffs = mismatch(r)
        check = DASH if diffs is None else ("✔ match" if not diffs else "✘ differs")
        rows.append(f'<tr><td><a href="#call-{i + 1}">{escape(_call_id(r, i + 1))}</a></td>'
                    f'<td class="num">{_duration(call.get("duration_s"))}</td>'
                    f'<td class="num">{len(r.get("turns") or [])}</td>'
                    f'<td>{_tier(r.get("final_tier"))}</td>'
                    f'<td>{_route(r.get("route") or {})}</td><td>{check}</td></tr>')
    return ('<h3>Calls</h3><table id="calls"><tr><th>call</th><th class="num">length</th>'
            '<th class="num">turns</th><th>final tier</th><th>route</th><th>expected</th></tr>'
            + "".join(rows) + "</table>")


def _duration(value: Any) -> str:
    v = number(value)
    return DASH if v is None else clock(round(v, 1), max(v, 1.0))


# --------------------------------------------------------------------------- one call


def _audio(href: str | None) -> str:
    return f'<audio controls preload="none" src="{escape(href)}"></audio>' if href else ""


def _bot_row(reply: dict[str, Any] | None) -> str:
    """A row with the bot's reply (between caller turns); mandatory text is marked."""
    if not isinstance(reply, dict) or not reply.get("text"):
        return ""
    parts = [escape(str(s.get("text", ""))) if s.get("interruptible", True)
             else f"<b title='not interruptible'>{escape(str(s.get('text', '')))}</b>"
             for s in reply.get("segments") or []] or [escape(str(reply["text"]))]
    notes = [n for n, on in (("ends call", reply.get("ended")),
                             ("do-not-call", reply.get("dnc"))) if on]
    if reply.get("question_slot"):
        notes.append(f"asks {reply['question_slot']}")
    note = f' <span class="reasons">({escape(", ".join(map(str, notes)))})</span>' \
        if notes else ""
    return f'<tr class="bot"><td>bot</td><td colspan=6>{"".join(parts)}{note}</td></tr>'


def _agent_row(said: AgentUtterance) -> str:
    if said.text is None:
        text = '<span class="small">(not transcribed)</span>'
    else:
        text = escape(said.text) or '<span class="small">(nothing recognised)</span>'
    return (f'<tr class="agent"><td>agent<div class="small">{said.start_s:.1f}–'
            f'{said.end_s:.1f}s</div></td><td colspan=6>{text}{_audio(said.href)}</td></tr>')


def _entities(entities: Any) -> str:
    if not isinstance(entities, dict) or not entities:
        return ""
    return "<br>".join(
        f"{escape(str(k))} = {f'{v:,}' if type(v) is int else show(v)}"
        for k, v in entities.items())


def _turn_row(turn: dict[str, Any], after: bool, transfer_here: str, clip: str | None) -> str:
    intent = turn.get("intent") or {}
    emotion = turn.get("emotion") or {}
    tier = turn.get("tier") or {}
    reasons = "; ".join(map(str, tier.get("reasons") or []))
    index = turn.get("index")
    name = index + 1 if isinstance(index, int) and not isinstance(index, bool) else DASH
    heard = turn.get("also_heard") or []
    lang = [show(v) for v in (turn.get("language"), turn.get("dialect")) if v]
    lang = [] if lang == ["zh"] else lang  # shown when it is not plain Mandarin
    lat = turn.get("latency_ms") or {}
    latency = " · ".join(f"{escape(str(k))} {_fixed(v, 0)}" for k, v in lat.items()
                         if number(v) is not None)
    arousal = number(emotion.get("arousal"))
    tags = ('<span class="tag">after transfer</span>' if after else "") + transfer_here
    return (
        f'<tr class="{"after" if after else ""}{" transfer" if transfer_here else ""}">'
        f'<td>{name}<div class="small">{_fixed(turn.get("start_s"), 1)}–'
        f'{_fixed(turn.get("end_s"), 1)}s</div>{tags}</td>'
        f'<td>{show(turn.get("text"))}'
        + (f'<div class="reasons">also heard: {escape(" / ".join(map(str, heard)))}</div>'
           if heard else "")
        + (f'<div class="small">{" · ".join(lang)}</div>' if lang else "")
        + f'{_audio(clip)}</td>'
        f'<td>{show(intent.get("label"))} <span class="small">'
        f'{_fixed(intent.get("score"), 2)}</span></td>'
        f'<td>{_entities(turn.get("entities"))}</td>'
        f'<td><span style="color:{colour(str(emotion.get("label")), EMOTION_COLOURS)}">'
        f'{show(emotion.get("label"))}</span>'
        + (f'<div class="small">arousal {arousal:.2f}</div>' if arousal is not None else "")
        + f'</td><td>{_tier(tier.get("label"))}'
        f'<div class="reasons">{escape(reasons)}</div></td>'
        f'<td class="small">{latency or DASH}</td></tr>'
    )


def _turns_table(result: dict[str, Any], media: CallMedia | None) -> str:
    turns = [t for t in result.get("turns") or [] if isinstance(t, dict)]
    if not turns:
        return "<p>No caller speech: tier from CRM features only.</p>"
    route = result.get("route") or {}
    at = route.get("at_turn") if route.get("action") == "transfer" else None
    agent = list(media.agent) if media else []
    rows = [_bot_row(result.get("opening"))]
    for turn in turns:
        start = number(turn.get("start_s"))
        while agent and start is not None and agent[0].start_s < start:
            rows.append(_agent_row(agent.pop(0)))
        index = turn.get("index")
        here = (f'<div class="tag">transfer → {show(route.get("queue"))}</div>'
                if at is not None and index == at else "")
        after = at is not None and isinstance(index, int) and index > at
        clip = media.turns.get(index) if media else None
        rows.append(_turn_row(turn, after, here, clip) + _bot_row(turn.get("reply")))
    rows += [_agent_row(a) for a in agent]
    return ('<table class="turns"><tr><th>turn</th><th>caller said</th><th>intent</th>'
            '<th>entities</th><th>emotion</th><th>tier after turn</th><th>latency ms</th></tr>'
            + "".join(rows) + "</table>")


def _media_notes(call: dict[str, Any], media: CallMedia | None, written: bool,
                 has_replies: bool) -> str:
    notes = list(media.notes) if media else []
    if not written and call.get("audio"):
        notes.append("Audio clips were not written with this report.")
    if media and not media.agent and call.get("channels") == 1 and not has_replies:
        notes.append("Mono recording: the agent's side is not in the file.")
    return "".join(f'<p class="small">{escape(n)}</p>' for n in notes)


def call_section(result: dict[str, Any], number_: int, media: CallMedia | None = None,
                 media_written: bool = False) -> str:
    """One call: header, plots, notes on its audio and the turns table."""
    call = result.get("call") or {}
    name = escape(_call_id(result, number_))
    if failed(result):
        return (f'<section class="call failed" id="call-{number_}"><h2>{name}</h2>'
                f'<p class="err">Failed: {show(result["error"])}</p></section>')
    route = result.get("route") or {}
    meta = [show(call.get("audio") or call.get("source"))]
    if number(call.get("duration_s")) is not None:
        meta.append(f'{call["duration_s"]:.1f} s')
    if call.get("sample_rate"):
        channels = call.get("channels")
        meta.append(f'{show(call["sample_rate"])} Hz'
                    + (f", {'stereo' if channels == 2 else f'{show(channels)} ch'}"
                       if channels and channels != 1 else ""))
    meta.append(f'customer {show(call.get("customer"))}')
    if call.get("started_at"):
        meta.append(f'replayed {show(call["started_at"])}')
    expected = _expected(call)
    diffs = mismatch(result)
    exp = ""
    if expected is not None and diffs is not None:
        verdict = "✔ match" if not diffs else "✘ differs: " + escape("; ".join(diffs))
        queue = f', {_outcome(expected["queue"])}' if "queue" in expected else ""
        exp = f'<p class="meta">expected: tier {show(expected["tier"])}{queue} — {verdict}</p>'
    why = cut_short(call)
    err = f'<p class="err">Recording {escape(why)}</p>' if why else ""
    turns = result.get("turns") or []
    has_replies = any(isinstance(t, dict) and t.get("reply") for t in turns)
    plots = call_plots(result, [(a.start_s, a.end_s) for a in media.agent] if media else ())
    return (
        f'<section class="call" id="call-{number_}"><h2>{name}</h2>'
        f'<p class="meta">{" · ".join(meta)}</p>'
        f'<p>final tier {_tier(result.get("final_tier"))} · route '
        f'<span class="route">{_route(route)}</span> — {show(route.get("reason"))}</p>'
        f'{exp}{err}'
        + (f'<div class="plots">{plots}</div>' if plots else "")
        + _media_notes(call, media, media_written, has_replies)
        + _turns_table(result, media) + "</section>"
    )


# --------------------------------------------------------------------------- page


def render(results: list[dict[str, Any]], title: str,
           media: list[CallMedia | None] | None = None) -> str:
    """The whole page for ``results`` (replay JSON records, error records included)."""
    sections = "".join(
        call_section(r, i + 1, media[i] if media else None, media is not None)
        for i, r in enumerate(results))
    return (f'<!doctype html><html lang="zh"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width,initial-scale=1">'
            f'<title>{escape(title)}</title><style>{_CSS}</style></head><body>'
            f'<h1>{escape(title)}</h1>{summary(results)}{sections}</body></html>\n')


def write_report(results: list[dict[str, Any]], path: str | Path, title: str,
                 media: MediaOptions | None = None) -> Path:
    """Write the HTML report for ``results`` (replay JSON objects) to ``path``.

    Args:
        results: One record per call, in order; a failed call is ``{"call", "error"}``.
        path: The page to write (replaced whole, never left half-written).
        title: The page's title.
        media: How to cut each call's audio into the ``NAME_files`` folder beside the page;
            None writes the page alone.

    Returns:
        ``path``.

    Raises:
        ReportError: The clips folder exists and is not a Tierline report's.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    clips = folder = None
    if media is not None:
        clips, folder = write_media(results, path, media)
    tmp = path.with_suffix(path.suffix + ".tmp")
    try:
        tmp.write_text(render(results, title, clips), encoding="utf-8")
        tmp.replace(path)
    except BaseException:
        if folder is not None:
            folder.abandon()
        raise
    if folder is not None:
        folder.commit()
    return path
