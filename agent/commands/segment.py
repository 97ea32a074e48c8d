"""`tierline segment CUSTOMERS.csv`: RFM scores, K-means clusters and lifecycle stages."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("segment", help="segment a customer base (RFM, K-means, lifecycle)")
    p.add_argument("customers", metavar="CUSTOMERS.csv")
    p.add_argument("--out", metavar="OUT.csv",
                   help="segmented customers (default CUSTOMERS.segments.csv)")
    p.add_argument("--html", metavar="OUT.html",
                   help="summary page with a plot (default CUSTOMERS.segments.html)")
    p.add_argument("--k", type=int, help="number of clusters (default: best silhouette, 2..8)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tierline.segmentation.segment import load_customers, segment, write_outputs

    src = Path(args.customers)
    stem = src.with_suffix("")
    out = Path(args.out) if args.out else Path(f"{stem}.segments.csv")
    page = Path(args.html) if args.html else Path(f"{stem}.segments.html")
    header, rows, customers = load_customers(src)
    result = segment(header, rows, customers, args.k)
    write_outputs(result, out, page, src.name)
    sil = ", ".join(f"k={k}: {v:.3f}" for k, v in result.silhouettes.items())
    print(f"{len(rows)} customers, k = {result.k} clusters (silhouette {sil})")
    for c in result.clusters:
        print(f"  cluster {c['cluster']}: {c['size']} customers, mostly {c['stage']}, "
              f"mean R-F-M {'-'.join(f'{v:.1f}' for v in c['rfm'])}, "
              f"mean contract {c['means']['contract_value']:,.0f} CNY")
    print("  stages: " + ", ".join(f"{s} {n}" for s, n in result.stages.items()))
    print(f"written: {out}, {page}")
    return 0
