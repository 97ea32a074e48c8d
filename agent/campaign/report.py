"""`tierline campaign report`: the funnel of a campaign, per lead as CSV, and a small HTML chart.

Funnel (each step counts leads): ``leads`` in the file → ``not_dialled`` (malformed,
duplicate, do-not-call, still pending without an attempt) → ``dialled`` (at least one attempt)
→ ``answered`` → ``human`` (the detector said a person, or could not tell: the call ran) /
``voicemail`` / ``ivr`` → ``tiered`` high / medium / low / churn_risk (answered by a person,
with a tier) → ``transferred`` (handed to a human queue).
"""

from __future__ import annotations

import csv
import html
from collections import Counter
from pathlib import Path
from typing import Any

from tierline.agent.campaign.store import CampaignStore, LeadState

TIERS = ("high", "medium", "low", "churn_risk")
COLUMNS = ("lead_id", "row", "number", "name", "status", "attempts", "outcome", "amd", "tier",
           "route", "transferred", "next_action", "detail", "call_id")


def funnel(leads: list[LeadState], attempts: list[dict[str, Any]]) -> dict[str, Any]:
    """The funnel numbers of a campaign's leads and attempts."""
    tried = {a["lead_id"] for a in attempts}
    answered = [x for x in leads if x.outcome == "answered"]
    human = [x for x in answered if x.amd in ("human", "unknown", "")]
    tiers = Counter(x.tier for x in human if x.tier)
    outcomes = Counter(x.outcome or x.status for x in leads)
    return {
        "leads": len(leads),
        "dialled": len(tried),
        "dials": len(attempts),
        "not_dialled": len(leads) - len(tried),
        "answered": len(answered),
        "human": len(human),
        "voicemail": sum(1 for x in answered if x.amd == "voicemail"),
        "ivr": sum(1 for x in answered if x.amd == "ivr"),
        "tiered": {t: tiers.get(t, 0) for t in TIERS},
        "transferred": sum(1 for x in leads if x.transferred),
        "pending": sum(1 for x in leads if x.status != "done"),
        "outcomes": dict(sorted(outcomes.items())),
    }


def write_csv(path: Path, leads: list[LeadState]) -> None:
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(COLUMNS)
        for lead in leads:
            d = lead.to_dict()
            w.writerow([d[c] if c != "transferred" else int(d[c]) for c in COLUMNS])


def write_html(path: Path, name: str, numbers: dict[str, Any]) -> None:
    """A bar chart of the funnel (inline SVG, no script, no network)."""
    bars = [("leads", numbers["leads"]), ("dialled", numbers["dialled"]),
            ("answered", numbers["answered"]), ("human", numbers["human"]),
            ("voicemail", numbers["voicemail"]), ("ivr", numbers["ivr"])]
    bars += [(f"tier {t}", numbers["tiered"][t]) for t in TIERS]
    bars += [("transferred", numbers["transferred"])]
    top = max(1, max(v for _, v in bars))
    row_h, label_w, width = 26, 130, 420
    rows = []
    for i, (label, value) in enumerate(bars):
        y = i * row_h
        w = int(width * value / top)
        rows.append(f'<text x="{label_w - 8}" y="{y + 17}" text-anchor="end">{html.escape(label)}'
                    f'</text><rect x="{label_w}" y="{y + 4}" width="{w}" height="{row_h - 8}" '
                    f'fill="#3b6ea8"/><text x="{label_w + w + 6}" y="{y + 17}">{value}</text>')
    outcomes = "".join(f"<tr><td>{html.escape(k)}</td><td>{v}</td></tr>"
                       for k, v in numbers["outcomes"].items())
    height = row_h * len(bars)
    path.write_text(f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Campaign {html.escape(name)}</title>
<style>body{{font-family:sans-serif;margin:2em}}svg text{{font-size:13px}}
table{{border-collapse:collapse}}td{{border:1px solid #ccc;padding:2px 8px}}</style></head>
<body><h1>Campaign {html.escape(name)}</h1>
<p>{numbers['leads']} leads, {numbers['dials']} dials, {numbers['pending']} still pending.</p>
<svg width="{label_w + width + 60}" height="{height}" role="img"
 aria-label="campaign funnel">{''.join(rows)}</svg>
<h2>Outcomes per lead</h2><table>{outcomes}</table></body></html>
""", encoding="utf-8")


def report(store: CampaignStore, name: str, out_dir: Path) -> tuple[dict[str, Any], Path, Path]:
    """Funnel numbers, and the CSV and HTML files written to ``out_dir``."""
    leads = store.leads(name)
    numbers = funnel(leads, store.attempts(name))
    out_dir.mkdir(parents=True, exist_ok=True)
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
    csv_path, html_path = out_dir / f"{safe}.leads.csv", out_dir / f"{safe}.funnel.html"
    write_csv(csv_path, leads)
    write_html(html_path, name, numbers)
    return numbers, csv_path, html_path
