"""Batch segmentation of a customer base: RFM scores, K-means clusters, lifecycle stages.

Input: a CSV with a header; ``id`` (and optionally ``name``) plus any of the eight CRM
features and the RFM columns (missing columns or empty cells use the documented defaults).

- **RFM**: quintile scores 1..5 within the base (R from ``recency_days`` when the file has it,
  else ``response_speed``; F from ``frequency`` else ``consult_count``; M from ``monetary``
  else ``contract_value``), and the fixed-cut RFM-rules tier of
  :func:`tierline.segmentation.rfm.rfm_tier`.
- **K-means** (scikit-learn) on standardised log-scaled features; k is chosen among 2..8 by the
  silhouette score (k-means++, 10 starts, seed 0).
- **Lifecycle stage**: 潜在 (potential: no contract, no enquiry, little browsing), 意向 (intent:
  no contract but enquiries or browsing), 成交 (closed: a contract, no renewal or repeat
  purchase yet), 复购 (repeat: a contract and renewals or two or more purchases).

Output: the input rows with the new columns as CSV, and an HTML summary with a cluster plot
(first two principal components, inline SVG). Both are written to temporary files first and
renamed, so a failure leaves nothing half-written.
"""

from __future__ import annotations

import csv
import html
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tierline.segmentation.errors import TierDataError
from tierline.segmentation.features import CRM_FEATURES, RFM_FEATURES, CustomerProfile
from tierline.segmentation.rfm import quintile_scores, rfm_tier
from tierline.segmentation.seedfmt import customer_from_row, read_csv

K_RANGE = range(2, 9)
STAGES = ("潜在", "意向", "成交", "复购")
NEW_COLUMNS = ("r_score", "f_score", "m_score", "rfm_tier", "cluster", "stage")
_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
           "#7f7f7f")


@dataclass(frozen=True)
class Segmentation:
    """Result of one run.

    Attributes:
        header: Output CSV header.
        rows: Output rows (input cells plus :data:`NEW_COLUMNS`).
        k: Number of clusters chosen.
        silhouettes: Silhouette score per k tried.
        clusters: Per-cluster summary (size, means, dominant stage).
        stages: Customers per lifecycle stage.
        points: 2-D projection of every customer (for the plot).
        labels: Cluster of every customer.
    """

    header: list[str]
    rows: list[list[str]]
    k: int
    silhouettes: dict[int, float]
    clusters: list[dict]
    stages: dict[str, int]
    points: np.ndarray
    labels: np.ndarray


def stage_of(c: CustomerProfile) -> str:
    """Lifecycle stage (潜在/意向/成交/复购) of one customer."""
    f = c.features
    if f["contract_value"] > 0 or f["monetary"] > 0:
        return "复购" if f["renewal_rate"] > 0 or f["frequency"] >= 2 else "成交"
    engaged = f["consult_count"] >= 1 or f["browse_duration"] >= 10 or f["click_times"] >= 20
    return "意向" if engaged else "潜在"


def load_customers(path: str | Path) -> tuple[list[str], list[dict[str, str]],
                                               list[CustomerProfile]]:
    """Read and validate a customer base CSV.

    Raises:
        TierDataError: unreadable, empty, no known feature column, unknown columns or bad
            values (the message names the row and column).
    """
    path = Path(path)
    header, raw = read_csv(path, "customer")
    known = set(CRM_FEATURES + RFM_FEATURES)
    if not header or not known & set(header):
        raise TierDataError(f"{path}: needs a header with CRM feature columns "
                            f"({', '.join(CRM_FEATURES)})")
    unknown = [h for h in header if h not in known | {"id", "name", "company", "segment",
                                                      "phone", "note"}]
    if unknown:
        raise TierDataError(f"{path}: unknown column(s) {', '.join(unknown)}")
    if len(raw) < 3:
        raise TierDataError(f"{path}: {len(raw)} customers; segmentation needs at least 3")
    rows, customers = [], []
    for i, row in enumerate(raw):
        customers.append(customer_from_row(row, f"{path}: row {i + 2}",
                                           row.get("id") or str(i + 1)))
        rows.append(row)
    return header, rows, customers


def _matrix(customers: list[CustomerProfile]) -> np.ndarray:
    cols = list(CRM_FEATURES) + list(RFM_FEATURES)
    x = np.array([[c.features[k] for k in cols] for c in customers], float)
    x = np.where(np.isin(np.arange(len(cols)), [cols.index("renewal_rate")]), x, np.log1p(x))
    std = x.std(axis=0)
    return (x - x.mean(axis=0)) / np.where(std < 1e-9, 1.0, std)


def segment(header: list[str], rows: list[dict[str, str]],
            customers: list[CustomerProfile], k: int | None = None) -> Segmentation:
    """Score, cluster and stage a customer base.

    Args:
        k: Fixed number of clusters (default: chosen by silhouette).
    """
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score

    x = _matrix(customers)
    has_rfm = any(c.features[k] != d for c in customers
                  for k, d in (("recency_days", 365.0), ("frequency", 0.0), ("monetary", 0.0)))
    f = [c.features for c in customers]
    rfm = quintile_scores(
        [v["recency_days"] if has_rfm else v["response_speed"] for v in f],
        [v["frequency"] if has_rfm else v["consult_count"] for v in f],
        [v["monetary"] if has_rfm else v["contract_value"] for v in f])
    distinct = len(np.unique(x.round(9), axis=0))
    if distinct < 3:
        raise TierDataError("customers are (nearly) identical; nothing to cluster")
    candidates = [k] if k else [n for n in K_RANGE if n < distinct]
    if k is not None and not 2 <= k < distinct:
        raise TierDataError(f"--k must be between 2 and {distinct - 1} for this base, not {k}")
    fits, sil = {}, {}
    for n in candidates:
        km = KMeans(n_clusters=n, n_init=10, random_state=0).fit(x)
        fits[n] = km.labels_
        sil[n] = round(float(silhouette_score(x, km.labels_)), 4)
    best = max(sil, key=lambda n: (sil[n], -n))
    labels = fits[best]
    stages = [stage_of(c) for c in customers]
    out_header = header + [c for c in NEW_COLUMNS if c not in header]
    out_rows = []
    for row, c, s, lab, st in zip(rows, customers, rfm, labels, stages, strict=True):
        extra = {"r_score": str(s[0]), "f_score": str(s[1]), "m_score": str(s[2]),
                 "rfm_tier": rfm_tier(c)[0], "cluster": str(int(lab)), "stage": st}
        out_rows.append([{**row, **extra}.get(h, "") for h in out_header])
    clusters = []
    for n in range(best):
        members = [i for i, lab in enumerate(labels) if lab == n]
        means = {k: round(float(np.mean([f[i][k] for i in members])), 2)
                 for k in ("contract_value", "consult_count", "browse_duration",
                           "complaint_count", "renewal_rate", "recency_days", "monetary")}
        st = [stages[i] for i in members]
        clusters.append({"cluster": n, "size": len(members), "means": means,
                         "stage": max(STAGES, key=st.count),
                         "rfm": [round(float(v), 2) for v in rfm[members].mean(axis=0)]})
    centred = x - x.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    points = centred @ vt[:2].T
    return Segmentation(out_header, out_rows, best, sil, clusters,
                        {s: stages.count(s) for s in STAGES}, points, labels)


def _svg(points: np.ndarray, labels: np.ndarray, width: int = 480, height: int = 360) -> str:
    lo, hi = points.min(axis=0), points.max(axis=0)
    span = np.where(hi - lo < 1e-9, 1.0, hi - lo)
    pad = 20
    dots = []
    for (px, py), lab in zip(points, labels, strict=True):
        cx = pad + (px - lo[0]) / span[0] * (width - 2 * pad)
        cy = height - pad - (py - lo[1]) / span[1] * (height - 2 * pad)
        dots.append(f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="4" '
                    f'fill="{_COLORS[int(lab) % len(_COLORS)]}" fill-opacity="0.75"/>')
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'role="img" aria-label="customers by cluster, first two principal components">'
            f'<rect width="100%" height="100%" fill="#fafafa" stroke="#ccc"/>'
            + "".join(dots) + "</svg>")


def summary_html(result: Segmentation, source: str) -> str:
    """The HTML summary page."""
    e = html.escape
    sil = "".join(f"<tr><td>{k}</td><td>{v:.3f}</td></tr>" for k, v in result.silhouettes.items())
    rows = "".join(
        f'<tr><td><span style="color:{_COLORS[c["cluster"] % len(_COLORS)]}">●</span> '
        f'{c["cluster"]}</td><td>{c["size"]}</td><td>{e(c["stage"])}</td>'
        f'<td>{"-".join(f"{v:.1f}" for v in c["rfm"])}</td>'
        f'<td>{c["means"]["contract_value"]:,.0f}</td><td>{c["means"]["consult_count"]:.1f}</td>'
        f'<td>{c["means"]["complaint_count"]:.1f}</td><td>{c["means"]["renewal_rate"]:.2f}</td>'
        f"</tr>" for c in result.clusters)
    stages = "".join(f"<tr><td>{e(s)}</td><td>{n}</td></tr>" for s, n in result.stages.items())
    return f"""<!doctype html><html lang="zh"><head><meta charset="utf-8">
<title>Customer segmentation</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse;margin:1em 0}}
td,th{{border:1px solid #ccc;padding:4px 8px;text-align:right}}</style></head><body>
<h1>Customer segmentation</h1>
<p>{e(source)}: {len(result.rows)} customers, k = {result.k} clusters (best silhouette).</p>
{_svg(result.points, result.labels)}
<h2>Clusters</h2><table><tr><th>cluster</th><th>size</th><th>main stage</th>
<th>mean R-F-M</th><th>mean contract CNY</th><th>enquiries</th><th>complaints</th>
<th>renewal</th></tr>{rows}</table>
<h2>Lifecycle stages</h2><table><tr><th>stage</th><th>customers</th></tr>{stages}</table>
<h2>Silhouette by k</h2><table><tr><th>k</th><th>silhouette</th></tr>{sil}</table>
</body></html>
"""


def _atomic_write(path: Path, write) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            write(fh)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_outputs(result: Segmentation, csv_path: Path, html_path: Path, source: str) -> None:
    """Write the CSV and the HTML summary (each atomically)."""
    def write_csv(fh) -> None:
        w = csv.writer(fh)
        w.writerow(result.header)
        w.writerows(result.rows)

    _atomic_write(csv_path, write_csv)
    _atomic_write(html_path, lambda fh: fh.write(summary_html(result, source)))
