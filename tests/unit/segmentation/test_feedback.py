"""Learning from outcomes: the store's guards, versions and rollback, bounded steps, bad input.

The check a learned version must pass with the shipped tier model, and its effect on live
tiering, are in model/test_outcome_check.py.
"""

from __future__ import annotations

import numpy as np
import pytest

from tierline.agent.cli import main
from tierline.segmentation.outcome_layer import MAX_DRIFT, MAX_STEP, Adapter, train_step
from tierline.segmentation.outcomes import OutcomeError, OutcomeStore, active_adapter
from tierline.segmentation.tier import TierSnapshot

VERSION = "m1"


def snap(logits=(0.0, 2.0, 0.0, 0.0)) -> TierSnapshot:
    return TierSnapshot((0.0,) * 3, tuple(logits), "medium", VERSION, 0)


@pytest.fixture
def store(tmp_path) -> OutcomeStore:
    s = OutcomeStore(tmp_path / "o.sqlite", min_outcomes=5)
    for i in range(12):
        s.record_call(f"c{i}", snap())
    return s


def test_unknown_call_and_outcome_are_errors(store):
    with pytest.raises(OutcomeError, match="no call"):
        store.feedback("nope", "converted")
    with pytest.raises(OutcomeError, match="outcome must be"):
        store.feedback("c0", "bought")


def test_nothing_changes_before_minimum_outcomes(store):
    for i in range(4):
        r = store.feedback(f"c{i}", "converted")
        assert r.new_version is None and r.active == 0 and r.pending == i + 1
    assert active_adapter(VERSION, store.path).is_identity
    r = store.feedback("c4", "converted")
    assert r.new_version == 1 and r.active == 1 and r.pending == 0
    adapter = active_adapter(VERSION, store.path)
    assert adapter.version == 1 and not adapter.is_identity
    # converted callers that were scored medium pull medium-looking logits towards high
    z = np.array([0.0, 2.0, 0.0, 0.0], np.float32)
    assert adapter.apply(z)[0] - adapter.apply(z)[1] > z[0] - z[1]
    with pytest.raises(OutcomeError, match="already"):
        store.feedback("c0", "lost")


def test_versions_and_rollback(store):
    for i in range(10):
        store.feedback(f"c{i}", "lost")
    st = store.status()
    assert [v["version"] for v in st["versions"]] == [1, 2] and st["active"] == 2
    assert store.rollback() == (2, 1)
    assert store.rollback() == (1, 0)
    with pytest.raises(OutcomeError, match="nothing to roll back"):
        store.rollback()
    assert store.rollback(to=2) == (0, 2)
    with pytest.raises(OutcomeError, match="no online-layer version"):
        store.rollback(to=9)


def test_adapter_for_another_model_version_is_ignored(store):
    for i in range(5):
        store.feedback(f"c{i}", "churned")
    assert active_adapter(VERSION, store.path).version == 1
    assert active_adapter("other-model", store.path).is_identity


def test_steps_are_bounded_and_drift_capped():
    a = Adapter()
    one = train_step(a, [[0, 50, 0, 0]], ["converted"], 1)
    step = np.sqrt(((np.asarray(one.a) - np.eye(4)) ** 2).sum() + (np.asarray(one.b) ** 2).sum())
    assert step <= MAX_STEP + 1e-6
    many = train_step(a, [[0, 5, 0, 0]] * 5000, ["converted"] * 5000, 2)
    assert many.drift() <= MAX_DRIFT + 1e-6


@pytest.mark.parametrize(("argv", "message"), [
    (["feedback", "--call", "zzz", "--outcome", "lost"], "no call"),
    (["feedback"], "give --call"),
    (["feedback", "--status", "--to", "1"], "--to goes with"),
    (["feedback", "--rollback"], "nothing to roll back"),
    (["feedback", "--call", "x"], "go together"),
])
def test_feedback_bad_input_exits_2(tmp_path, monkeypatch, capsys, argv, message):
    monkeypatch.setenv("TIERLINE_HOME", str(tmp_path))
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_a_call_is_stored_once_and_a_call_without_turns_takes_no_outcome(tmp_path):
    s = OutcomeStore(tmp_path / "o.sqlite", min_outcomes=5)
    assert s.record_call("x", snap((0.0, 2.0, 0.0, 0.0)), turns=3) is True
    assert s.record_call("x", snap((5.0, 0.0, 0.0, 0.0)), turns=1) is False  # kept the first
    s.record_call("silent", snap(), turns=0)
    with pytest.raises(OutcomeError, match="no caller turn"):
        s.feedback("silent", "converted")
    assert s.feedback("x", "converted").pending == 1
