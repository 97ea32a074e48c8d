"""Dialect identification without Whisper: speaker-disjoint folds, scoring, the ONNX export,
the identifier's threshold and the per-call tracker (on a hand-made linear model)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from helpers.require import module

from tierline.dialects.dialect_id import DialectEstimate, DialectIdentifier
from tierline.dialects.encoder_states import audio_frames, pool
from tierline.dialects.errors import ModelError
from tierline.dialects.evaluation.dialect_eval import SplitError, score, speaker_folds
from tierline.dialects.families import UNKNOWN

FAMILIES = ("mandarin", "yue")


def test_folds_never_put_one_speaker_on_both_sides():
    rng = np.random.default_rng(3)
    families = np.array(["mandarin"] * 40 + ["yue"] * 30 + ["wu"] * 25)
    speakers = np.array([f"{f}{rng.integers(0, 7)}" for f in families])
    folds = speaker_folds(families, speakers, 5, seed=1)
    assert len(folds) == 5
    seen = np.zeros(len(families), int)
    for train, test in folds:
        assert not set(speakers[train]) & set(speakers[test])
        assert set(families[test]) == {"mandarin", "yue", "wu"}  # every family in every fold
        seen[test] += 1
    assert (seen == 1).all()  # each item tested once


def test_folds_refuse_a_family_with_too_few_speakers():
    families = ["mandarin"] * 6 + ["min"] * 4
    speakers = ["a", "b", "c", "d", "e", "f", "m1", "m1", "m2", "m2"]
    with pytest.raises(SplitError, match="min: 2 speaker"):
        speaker_folds(families, speakers, 3)


def test_folds_refuse_a_speaker_under_two_families():
    with pytest.raises(SplitError, match="two families"):
        speaker_folds(["yue", "wu", "yue", "wu"], ["s", "s", "t", "u"], 2)


def test_score_counts_abstentions_as_wrong_and_shows_them_in_a_column():
    s = score(["yue", "yue", "wu", "wu"], ["yue", UNKNOWN, "wu", "yue"], ["yue", "wu"])
    assert s.columns == ("yue", "wu", UNKNOWN)
    assert s.confusion.tolist() == [[1, 0, 1], [1, 1, 0]]
    assert s.accuracy == 0.5 and s.recall == {"yue": 0.5, "wu": 0.5}
    assert "recall 0.50" in s.table()


def test_pool_and_frame_count():
    frames = np.arange(12, dtype=np.float32).reshape(4, 3)
    assert pool(frames).tolist() == [4.5, 5.5, 6.5]
    assert audio_frames(16_000) == 50 and audio_frames(16_001) == 51
    assert audio_frames(16_000 * 60) == 1500  # one 30 s window at most
    with pytest.raises(ValueError):
        pool(np.zeros((0, 3)))


@pytest.fixture(scope="module")
def toy_model(tmp_path_factory) -> Path:
    """A 2-family linear model on 4-wide states: the first coordinate says yue."""
    module("onnx", "train")
    from tierline.dialects.training.train_dialect_id import LinearSoftmax, export_onnx

    weight = np.zeros((4, 2), np.float32)
    weight[0] = [-3.0, 3.0]
    model = LinearSoftmax(FAMILIES, weight, np.zeros(2, np.float32))
    path = tmp_path_factory.mktemp("dialect") / "toy.onnx"
    export_onnx(model, path, {"families": json.dumps(FAMILIES), "threshold": "0.8",
                              "width": "4", "window": "dynamic"})
    return path


def _states(yue_score: float, seconds: float) -> np.ndarray:
    frames = np.zeros((int(seconds * 50), 4), np.float32)
    frames[:, 0] = yue_score
    return frames


def test_identifier_reads_the_onnx_metadata_and_applies_its_threshold(toy_model):
    ident = DialectIdentifier(toy_model)
    assert ident.families == FAMILIES and ident.threshold == 0.8 and ident.width == 4
    sure = ident.classify_states(_states(1.0, 3.0))
    assert sure.label == "yue" and sure.confidence > 0.99 and sure.speech_s == 3.0
    assert ident.classify_states(_states(-1.0, 3.0)).label == "mandarin"
    unsure = ident.classify_states(_states(0.1, 3.0))  # p(yue) = 0.65 < 0.8
    assert unsure.label == UNKNOWN and 0.6 < unsure.confidence < 0.7
    with pytest.raises(ValueError, match="width 5"):
        ident.probabilities(np.zeros(5))


def test_tracker_waits_for_enough_speech_then_decides_and_revises(toy_model):
    tracker = DialectIdentifier(toy_model).tracker(min_speech_s=2.5)
    assert tracker.current.label == UNKNOWN and tracker.current.confidence == 0.0
    first = tracker.observe_states(_states(1.0, 1.5))
    assert first.label == UNKNOWN and first.speech_s == 1.5  # too little speech yet
    assert tracker.observe_states(_states(1.0, 1.5)).label == "yue"
    # a long Mandarin stretch outweighs three seconds of yue-sounding speech
    assert tracker.observe_states(_states(-1.0, 12.0)).label == "mandarin"
    assert len(tracker.turns) == 3
    # a turn without speech changes nothing
    before = tracker.current
    assert tracker.observe(DialectEstimate(UNKNOWN, 0.0)) == before


def test_identifier_bad_files_are_model_errors(tmp_path):
    with pytest.raises(ModelError, match="not found"):
        DialectIdentifier(tmp_path / "none.onnx")
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not onnx")
    with pytest.raises(ModelError, match="not a readable dialect identifier"):
        DialectIdentifier(bad)


def test_estimate_to_dict_rounds():
    est = DialectEstimate("yue", 0.912345, {"yue": 0.912345, "mandarin": 0.087655}, 3.14159)
    assert est.to_dict() == {"label": "yue", "confidence": 0.9123, "speech_s": 3.14,
                             "probs": {"yue": 0.9123, "mandarin": 0.0877}}
    assert est.known and not DialectEstimate(UNKNOWN, 0.3).known


class _Encoder:
    """Stands in for WhisperEncoder: the audio's mean becomes the yue coordinate."""

    window = "dynamic"

    def states(self, audio):
        frames = np.zeros((int(len(audio) / 16_000 * 50), 4), np.float32)
        frames[:, 0] = float(np.mean(audio))
        return frames


def test_dialect_aware_asr_names_the_call_and_switches_recogniser(toy_model, tmp_path,
                                                                   monkeypatch):
    from tierline.dialects.asr import AsrConfig, FakeASR
    from tierline.dialects.call_dialect import DialectRecognisers

    monkeypatch.setenv("TIERLINE_HOME", str(tmp_path))
    base = FakeASR(["你好", "我想", "我想问一下", "好的"])
    shared = DialectRecognisers(base, DialectIdentifier(toy_model), _Encoder(),
                                AsrConfig(alternatives=1), base_dir=tmp_path)
    cantonese = FakeASR(["唔該", "係呀"])
    shared._own["yue"] = cantonese  # Whisper base with the yue prompt and normaliser
    call = shared.for_call("c1")
    yue_audio = np.ones(16_000 * 2, np.float32)
    first = call.transcribe(yue_audio)
    assert (first.text, first.dialect) == ("你好", UNKNOWN)  # 2 s: not enough speech yet
    # an open turn heard for endpointing (the recogniser's ``partial`` flag) is no turn
    assert call._transcribe_impl(yue_audio[:8000], partial=True).dialect == UNKNOWN
    second = call.transcribe(yue_audio * 1.0001)
    assert (second.text, second.dialect) == ("我想问一下", "yue")  # decoded before naming
    third = call.transcribe(yue_audio * 1.0002)
    assert (third.text, third.dialect) == ("唔該", "yue")  # the Cantonese recogniser now
    assert len(call.tracker.turns) == 3  # the partial transcript is not a turn
    other = shared.for_call("c2")  # a new call starts unknown, with Whisper base
    assert other.transcribe(-yue_audio).text == "好的" and other.dialect.label == UNKNOWN


def test_a_turn_heard_again_longer_replaces_its_look_ahead(toy_model, tmp_path, monkeypatch):
    """The endpointer decodes a turn ahead in a pause; when the caller goes on, the closed
    turn starts with the same audio and must not count that speech twice."""
    from tierline.dialects.asr import AsrConfig, FakeASR
    from tierline.dialects.call_dialect import DialectRecognisers

    monkeypatch.setenv("TIERLINE_HOME", str(tmp_path))
    shared = DialectRecognisers(FakeASR(["我们", "我们想问一下", "好的"]),
                                DialectIdentifier(toy_model), _Encoder(),
                                AsrConfig(alternatives=1), base_dir=tmp_path)
    shared._own["yue"] = FakeASR(["係呀"])
    call = shared.for_call("c1")
    rng = np.random.default_rng(0)
    turn = (0.5 + 0.1 * rng.standard_normal(16_000 * 3)).astype(np.float32)
    call.transcribe(turn[:16_000])  # the look-ahead at the pause, 1 s
    call.transcribe(turn)  # the caller went on: the closed turn, 3 s, same start
    assert len(call.tracker.turns) == 1 and call.dialect.speech_s == 3.0
    call.transcribe(turn[8000:])  # a new turn (another start) adds up
    assert len(call.tracker.turns) == 2 and call.dialect.speech_s == 5.5


def test_a_recogniser_that_is_not_whisper_base_gets_no_identifier():
    """The identifier reads Whisper base's encoder: any other model is left as it is."""
    from tierline.dialects.asr import FakeASR
    from tierline.dialects.call_dialect import with_dialects

    own = FakeASR(["你好"])
    assert with_dialects(own) is own
