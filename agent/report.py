"""Self-contained HTML report of replayed calls (no scripts, no external assets)."""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import Any

_TIER_COLOURS = {"high": "#1b7f3b", "medium": "#2f6db5", "low": "#777",
                 "churn_risk": "#b5382f"}
_CSS = """
body{font-family:system-ui,"Noto Sans CJK SC",sans-serif;margin:2em;color:#222}
h1{font-size:1.4em} h2{font-size:1.1em;margin-top:2em}
table{border-collapse:collapse;width:100%;font-size:.9em}
th,td{border-bottom:1px solid #ddd;padding:.35em .5em;text-align:left;vertical-align:top}
th{background:#f4f4f4} .tier{color:#fff;border-radius:3px;padding:0 .4em;white-space:nowrap}
.route{font-weight:600} .meta{color:#555;font-size:.9em} .err{color:#b5382f}
.reasons{color:#555;font-size:.85em}
.bot td{background:#f7f9fc;color:#234;font-size:.85em;border-bottom:1px solid #eee}
"""


def _tier(label: str) -> str:
    colour = _TIER_COLOURS.get(label, "#444")
    return f'<span class="tier" style="background:{colour}">{escape(label)}</span>'


def _route(route: dict[str, Any]) -> str:
    if route["action"] == "transfer":
        return f"transfer → {escape(route['queue'])} (turn {route['at_turn']})"
    return "continue (bot keeps the call)"


def _bot_row(reply: dict[str, Any] | None) -> str:
    """A row with the bot's reply (between caller turns); mandatory text is marked."""
    if not reply or not reply.get("text"):
        return ""
    parts = [escape(s["text"]) if s.get("interruptible", True)
             else f"<b title='not interruptible'>{escape(s['text'])}</b>"
             for s in reply.get("segments", [])] or [escape(reply["text"])]
    notes = [n for n, on in (("ends call", reply.get("ended")),
                             ("do-not-call", reply.get("dnc"))) if on]
    if reply.get("question_slot"):
        notes.append(f"asks {reply['question_slot']}")
    note = f" <span class=reasons>({escape(', '.join(notes))})</span>" if notes else ""
    return f"<tr class=bot><td>bot</td><td colspan=6>{''.join(parts)}{note}</td></tr>"


def _also_heard(readings: list[str] | None) -> str:
    """Whisper's other readings the intent was also read from, under the transcript."""
    if not readings:
        return ""
    return f"<div class=reasons>also heard: {escape(' / '.join(readings))}</div>"


def _call_section(result: dict[str, Any]) -> str:
    call = result["call"]
    rows = [_bot_row(result.get("opening"))]
    for t in result["turns"]:
        ents = ", ".join(f"{escape(k)}={escape(str(v))}" for k, v in t["entities"].items())
        rows.append(
            "<tr>"
            f"<td>{t['start_s']:.1f}–{t['end_s']:.1f}s</td>"
            f"<td>{escape(t['text'])}{_also_heard(t.get('also_heard'))}</td>"
            f"<td>{escape(t['intent']['label'])} ({t['intent']['score']:.2f})</td>"
            f"<td>{ents}</td>"
            f"<td>{escape(t['emotion']['label'])}</td>"
            f"<td>{_tier(t['tier']['label'])}"
            f"<div class=reasons>{escape('; '.join(t['tier']['reasons']))}</div></td>"
            f"<td>{t['latency_ms']['asr']:.0f} / {t['latency_ms']['decision']:.0f}</td>"
            "</tr>" + _bot_row(t.get("reply"))
        )
    table = (
        "<table><tr><th>time</th><th>caller said</th><th>intent</th><th>entities</th>"
        "<th>emotion</th><th>tier after turn</th><th>ASR / decision ms</th></tr>"
        + "".join(rows) + "</table>"
        if result["turns"] else "<p>No caller speech: tier from CRM features only.</p>"
    )
    err = f'<p class="err">Stopped early: {escape(call["error"])}</p>' if call.get("error") else ""
    expected = call.get("expected")
    exp = ""
    if expected:
        ok = (expected.get("tier") == result["final_tier"]
              and expected.get("queue") == result["route"]["queue"])
        exp = (f"<p class=meta>expected: tier {escape(str(expected.get('tier')))}, queue "
               f"{escape(str(expected.get('queue')))} — {'✔ match' if ok else '✘ differs'}</p>")
    return (
        f"<h2>{escape(str(call.get('id', '')))}</h2>"
        f"<p class=meta>{escape(str(call.get('audio', call.get('source', ''))))} · "
        f"{call.get('duration_s', 0):.1f} s · customer "
        f"{escape(str(call.get('customer') or '—'))}</p>"
        f"<p>final tier {_tier(result['final_tier'])} · route "
        f"<span class=route>{_route(result['route'])}</span> — "
        f"{escape(result['route']['reason'])}</p>{exp}{err}{table}"
    )


def write_report(results: list[dict[str, Any]], path: str | Path, title: str) -> Path:
    """Write the HTML report for ``results`` (replay JSON objects) to ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    failed = [r for r in results if "error" in r and "turns" not in r]
    head = ("<h2 class=err>Failed files</h2><ul>" + "".join(
        f"<li class=err>{escape(str(r['call'].get('audio', r['call'].get('id', ''))))}: "
        f"{escape(str(r['error']))}</li>" for r in failed) + "</ul>") if failed else ""
    body = head + "".join(_call_section(r) for r in results if r not in failed)
    html = (f"<!doctype html><html lang=zh><meta charset=utf-8><title>{escape(title)}</title>"
            f"<style>{_CSS}</style><h1>{escape(title)}</h1>{body}</html>\n")
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(html, encoding="utf-8")
    tmp.replace(path)
    return path
