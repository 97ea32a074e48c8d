"""Write samples/kb/orders.csv: the fictional CRM sample's purchases (edition + modules).

Synthetic, deterministic (seeded): 240 accounts of the fictional vendor in yunfan.yaml. The
dialog manager's offer rules read module co-occurrence per edition and industry from it. The
purchase rates below are invented for the sample; a deployment points `orders:` at its own
CRM export with the same columns.

Usage: python samples/kb/make_orders.py
"""

from __future__ import annotations

import csv
import random
from pathlib import Path

# P(module bought | edition), invented for the fictional vendor.
RATES = {
    "基础版": {"智能外呼": 0.10, "BI报表": 0.05, "电子合同": 0.20, "工单客服": 0.15,
              "开放API": 0.0},
    "专业版": {"智能外呼": 0.35, "BI报表": 0.45, "电子合同": 0.30, "工单客服": 0.25,
              "开放API": 0.40},
    "企业版": {"智能外呼": 0.30, "BI报表": 0.75, "电子合同": 0.45, "工单客服": 0.40,
              "开放API": 0.80},
}
INDUSTRY_BOOST = {"教育": "智能外呼", "零售": "工单客服", "制造": "开放API", "金融": "电子合同"}
SEATS = {"基础版": (2, 20), "专业版": (10, 200), "企业版": (80, 2000)}
PRICE = {"基础版": 600, "专业版": 1200, "企业版": 2400}


OUT = Path(__file__).with_name("orders.csv")


def main(out: Path = OUT, n: int = 240) -> None:
    rng = random.Random(20240601)
    rows = []
    for i in range(n):
        edition = rng.choices(list(RATES), weights=[0.4, 0.4, 0.2])[0]
        industry = rng.choice(list(INDUSTRY_BOOST) + ["互联网", "服务"])
        seats = rng.randint(*SEATS[edition])
        modules = [m for m, p in RATES[edition].items()
                   if rng.random() < p + (0.3 if INDUSTRY_BOOST.get(industry) == m else 0.0)]
        rows.append({"account_id": f"A{i:04d}", "industry": industry, "edition": edition,
                     "seats": seats, "modules": ";".join(modules),
                     "contract_value": seats * PRICE[edition]})
    with out.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    print(f"wrote {len(rows)} accounts to {out}")


if __name__ == "__main__":
    main()
