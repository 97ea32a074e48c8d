"""`tierline segment`: RFM quintiles, K-means with silhouette-chosen k, lifecycle stages."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from helpers import paths

from tierline.agent.cli import main
from tierline.segmentation.features import parse_customer
from tierline.segmentation.rfm import quintile_scores
from tierline.segmentation.segment import STAGES, load_customers, segment, stage_of

CUSTOMERS = paths.TIER_SEEDS / "customers.csv"


def test_segment_sample_base(tmp_path, capsys):
    out, page = tmp_path / "s.csv", tmp_path / "s.html"
    assert main(["segment", str(CUSTOMERS), "--out", str(out), "--html", str(page)]) == 0
    with out.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    with CUSTOMERS.open(encoding="utf-8") as fh:
        n_in = len(list(csv.DictReader(fh)))
    assert len(rows) == n_in
    k = len({r["cluster"] for r in rows})
    assert 2 <= k <= 8
    assert {r["stage"] for r in rows} <= set(STAGES)
    assert all(1 <= int(r[c]) <= 5 for r in rows for c in ("r_score", "f_score", "m_score"))
    text = page.read_text(encoding="utf-8")
    assert "<svg" in text and text.count("<circle") == n_in
    assert f"k = {k} clusters" in capsys.readouterr().out


def test_chosen_k_has_best_silhouette():
    header, rows, customers = load_customers(CUSTOMERS)
    result = segment(header, rows, customers)
    assert result.silhouettes[result.k] == max(result.silhouettes.values())
    fixed = segment(header, rows, customers, k=3)
    assert fixed.k == 3 and len({r[-2] for r in fixed.rows}) == 3


def test_clusters_separate_obvious_groups(tmp_path):
    lines = ["id,contract_value,consult_count,browse_duration,renewal_rate"]
    lines += [f"p{i},0,0,{i % 3},0" for i in range(10)]
    lines += [f"c{i},{500000 + i * 1000},8,40,1" for i in range(10)]
    path = tmp_path / "c.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    header, rows, customers = load_customers(path)
    result = segment(header, rows, customers, k=2)
    assert len(set(result.labels[:10])) == 1 and len(set(result.labels[10:])) == 1
    assert result.labels[0] != result.labels[10]


@pytest.mark.parametrize(("features", "stage"), [
    ({}, "潜在"), ({"consult_count": 2}, "意向"), ({"contract_value": 1e5}, "成交"),
    ({"contract_value": 1e5, "renewal_rate": 0.5}, "复购"),
    ({"contract_value": 1e5, "frequency": 3}, "复购"),
])
def test_lifecycle_stage(features, stage):
    assert stage_of(parse_customer(features)) == stage


def test_quintiles_rank_within_base():
    s = quintile_scores(np.array([1, 400, 30]), np.array([0, 5, 1]), np.array([0, 9e5, 1e4]))
    assert s[:, 0].tolist()[0] > s[:, 0].tolist()[1]  # recent beats old
    assert s[1, 1] == s[:, 1].max() and s[1, 2] == s[:, 2].max()


@pytest.mark.parametrize(("content", "message"), [
    ("id,contract_value\na,1\nb,2\n", "at least 3"),
    ("id,wealth\na,1\nb,2\nc,3\n", "CRM feature columns"),
    ("id,contract_value,wealth\na,1,1\nb,2,1\nc,3,1\n", "unknown column"),
    ("id,contract_value\na,1\nb,-2\nc,3\n", "negative"),
    ("id,contract_value\na,1\nb,x\nc,3\n", "not a number"),
    ("id,contract_value\na,1\nb,1\nc,1\n", "identical"),
])
def test_segment_bad_input_exits_2_and_writes_nothing(tmp_path, capsys, content, message):
    path = tmp_path / "c.csv"
    path.write_text(content, encoding="utf-8")
    out, page = tmp_path / "o.csv", tmp_path / "o.html"
    assert main(["segment", str(path), "--out", str(out), "--html", str(page)]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not out.exists() and not page.exists()
