"""Label rules (ARCHITECTURE.md tier semantics), evidence accumulation, seed-format files."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import paths

from tierline.segmentation.cues import says_expansion, says_renewal
from tierline.segmentation.errors import TierDataError
from tierline.segmentation.labels import Act, label_of
from tierline.segmentation.records import TIERS, TurnEvidence
from tierline.segmentation.seedfmt import load_seed, split_turns
from tierline.segmentation.state import FEATURE_NAMES, GROUPS, INDEX, EvidenceState
from tierline.segmentation.training.generator import DialogGenerator, chinese_number

SAMPLES = paths.TIER_SEEDS


def acts(*kinds: str, **kw) -> list[Act]:
    return [Act(k, k, **kw) for k in kinds]


@pytest.mark.parametrize(("turns", "existing", "record", "tier"), [
    ([Act("budget", "", budget=500_000)], False, 0, "high"),
    ([Act("budget", "", budget=499_000)], False, 0, "medium"),
    ([Act("seats", "", seats=100)], False, 0, "high"),
    ([Act("seats", "", seats=99)], False, 0, "medium"),
    ([Act("seats", "", seats=3)], False, 0, "medium"),
    ([Act("seats", "", seats=2)], False, 0, "low"),  # trivial use
    ([Act("seats", "", seats=1), Act("ask_price", "")], False, 0, "medium"),
    ([Act("seats", "", seats=1), Act("budget", "", budget=6e5)], False, 0, "high"),
    (acts("integration_q", "purchase"), False, 0, "high"),
    (acts("integration_q"), False, 0, "medium"),
    (acts("expand"), True, 0, "high"),
    (acts("renew"), True, 0, "medium"),  # renewing on the same terms is not renewing bigger
    (acts("renew", "expand"), True, 0, "high"),
    (acts("refusal", "renew"), True, 0, "medium"),
    (acts("customization", "customization", "customization"), False, 0, "high"),
    (acts("customization", "customization"), False, 0, "medium"),
    (acts("ask_price", "hesitation"), False, 0, "medium"),
    (acts("ask_invoice"), True, 0, "medium"),
    (acts("refusal"), False, 0, "low"),
    (acts("ask_price", "too_expensive"), False, 0, "low"),
    (acts("wrong_number"), False, 0, "low"),
    (acts("personal"), False, 0, "low"),
    (acts("refusal", "ask_trial"), False, 0, "medium"),
    ([Act("budget", "", budget=2e6), Act("refusal", "")], False, 0, "low"),
    ([Act("budget", "", budget=2e6), Act("hesitation", "")], False, 0, "high"),
    (acts("churn"), True, 0, "churn_risk"),
    (acts("churn"), False, 0, "low"),  # a prospect using a competitor is a refusal
    (acts("angry"), True, 0, "churn_risk"),
    (acts("complaint"), True, 0, "medium"),
    (acts("complaint", "complaint"), True, 0, "churn_risk"),
    (acts("complaint"), True, 2, "churn_risk"),
    ([], True, 3, "churn_risk"),
    ([], False, 0, "medium"),
    (acts("angry"), False, 0, "medium"),
])
def test_label_rules_follow_architecture(turns, existing, record, tier):
    assert label_of(turns, existing, record) == tier


def test_chinese_numbers_parse_back_through_the_nlu():
    from tierline.nlu.numerals import parse_number

    for n in (1, 10, 15, 20, 105, 120, 1000, 1200, 2005, 15000, 1_200_000):
        assert parse_number(chinese_number(n)) == n


def test_evidence_persists_and_decays():
    state = EvidenceState()
    state.add(TurnEvidence({"price_inquiry": 0.9, "other": 0.1}, budget_cny=1_200_000))
    state.add(TurnEvidence({"other": 1.0}))
    state.add(TurnEvidence({"hesitation": 0.8, "other": 0.2}, seats=30))
    v = state.text_vector()
    assert state.budget == 1_200_000 and state.seats == 30  # a budget from turn 1 counts
    assert v[INDEX["budget_high"]] == 1 and v[INDEX["seats_high"]] == 0
    assert v[INDEX["count:price_inquiry"]] == 1
    assert v[INDEX["decayed:hesitation"]] > v[INDEX["decayed:price_inquiry"]]
    assert v[INDEX["last:price_inquiry"]] == 0


@pytest.mark.parametrize(("seats", "trivial"), [(None, 0), (1, 1), (2, 1), (3, 0), (30, 0)])
def test_trivial_team_is_its_own_column(seats, trivial):
    # the label rule's boundary (TRIVIAL_SEATS) is a column, as the 100-seat one is, so the
    # model need not learn from log_seats alone where 2 users end and 3 begin
    state = EvidenceState()
    state.add(TurnEvidence({"other": 1.0}, seats=seats))
    assert state.text_vector()[INDEX["seats_trivial"]] == trivial


@pytest.mark.parametrize("first,then", [(30, 300), (300, 30)])
def test_of_two_stated_counts_the_larger_stands(first, then):
    """A plan ("先上三十个，年底扩到三百个") or a second team keeps the larger count in the
    call's evidence, whichever order they come in (a correction is another matter)."""
    state = EvidenceState()
    for seats in (first, then):
        state.add(TurnEvidence({"bulk_purchase": 1.0}, seats=seats, text=f"{seats}个坐席"))
    assert state.seats == 300
    assert state.vector(np.zeros(15, np.float32))[INDEX["seats_high"]] == 1.0
    assert "seats" in state.large_value(existing=False)


def test_groups_cover_valid_columns():
    cols = [c for g in GROUPS.values() for c in g]
    assert max(cols) < len(FEATURE_NAMES) and len(set(cols)) == len(cols)


def test_generated_dialogs_are_reproducible_and_labelled():
    a = DialogGenerator(split="train").generate(30, seed=3)
    b = DialogGenerator(split="train").generate(30, seed=3)
    assert [d.utterances for d in a] == [d.utterances for d in b]
    for d in a:
        assert len(d.labels) == len(d.acts) + 1 and set(d.labels) <= set(TIERS)
        assert all(abs(sum(e.intent_scores.values()) - 1) < 1e-3 for e in d.evidence)


def test_train_and_test_template_pools_do_not_overlap():
    from tierline.segmentation.training.templates import TEMPLATES, split_templates

    for kind in TEMPLATES:
        train, test = set(split_templates(kind, "train")), set(split_templates(kind, "test"))
        assert train and test and not train & test


def _write(tmp_path, dialogs: str, numerical: str, labels: str):
    paths = []
    for name, text in (("d.csv", dialogs), ("n.csv", numerical), ("l.csv", labels)):
        p = tmp_path / name
        p.write_text(text, encoding="utf-8")
        paths.append(p)
    return paths


NUM_HEADER = ("id,browse_duration,click_times,consult_count,contract_value,renewal_rate,"
              "response_speed,complaint_count,referral_count\n")


def test_seed_files_load(tmp_path):
    d, n, lab = _write(tmp_path, "id,dialog\na,你好 | 预算一百万\nb,不需要\n",
                       NUM_HEADER + "a,1,2,3,0,0,5,0,0\nb,,,,,,,,\n", "id,label\na,0\nb,low\n")
    rows = load_seed(d, n, lab)
    assert [r.label for r in rows] == ["high", "low"]
    assert rows[0].utterances == ("你好", "预算一百万")
    assert len(rows[1].customer.defaulted) == 8


@pytest.mark.parametrize(("dialogs", "numerical", "labels", "message"), [
    ("id,dialog\na,你好\n", NUM_HEADER + "a,1,2,3,0,0,5,0,0\nb,1,2,3,0,0,5,0,0\n",
     "id,label\na,0\n", "do not line up"),
    ("id,dialog\na,你好\n", NUM_HEADER + "x,1,2,3,0,0,5,0,0\n", "id,label\na,0\n",
     "ids do not line up"),
    ("id,dialog\na,你好\n", NUM_HEADER + "a,1,2,3,0,0,5,0,0\n", "id,label\na,7\n",
     "label must be"),
    ("id,dialog\na,你好\n", NUM_HEADER + "a,-1,2,3,0,0,5,0,0\n", "id,label\na,0\n",
     "must not be negative"),
    ("id,dialog\na,你好\n", NUM_HEADER + "a,1,2,3,abc,0,5,0,0\n", "id,label\na,0\n",
     "not a number"),
    ("id,dialog\na, | \n", NUM_HEADER + "a,1,2,3,0,0,5,0,0\n", "id,label\na,0\n",
     "empty dialog"),
    ("id,text2\na,你好\n", NUM_HEADER + "a,1,2,3,0,0,5,0,0\n", "id,label\na,0\n",
     "'dialog' column"),
    ("id,dialog\na,你好\n", "id,browse_duration\na,1\n", "id,label\na,0\n",
     "missing column"),
])
def test_seed_files_bad_input(tmp_path, dialogs, numerical, labels, message):
    with pytest.raises(TierDataError, match=message):
        load_seed(*_write(tmp_path, dialogs, numerical, labels))


def test_split_turns_falls_back_to_sentences():
    assert split_turns("你好。我们预算一百万！") == ("你好。", "我们预算一百万！")
    assert split_turns("a\nb") == ("a", "b")


def test_shipped_sample_files_line_up():
    rows = load_seed(SAMPLES / "train_dialogs.csv", SAMPLES / "train_numerical.csv",
                     SAMPLES / "train_labels.csv")
    counts = np.bincount([TIERS.index(r.label) for r in rows], minlength=4)
    assert len(rows) >= 40 and counts.min() >= 10


@pytest.mark.parametrize(("text", "expansion", "renewal"), [
    ("我们想再加二十个坐席", True, False),
    ("下半年华东分公司也要上", True, False),
    ("续费的时候顺便升级成旗舰版", True, True),
    ("到期以后还是按原来的续", False, True),
    ("你们的价格多少？", False, False),
])
def test_expansion_and_renewal_words(text, expansion, renewal):
    assert says_expansion(text) is expansion and says_renewal(text) is renewal


def test_expansion_and_renewal_persist_over_the_call():
    state = EvidenceState()
    state.add(TurnEvidence({"purchase_intent": 1.0}, text="合同快到期了，续一年"))
    state.add(TurnEvidence({"other": 1.0}, text="嗯"))
    v = state.text_vector()
    assert v[INDEX["renewal_said"]] == 1 and v[INDEX["expansion_said"]] == 0
