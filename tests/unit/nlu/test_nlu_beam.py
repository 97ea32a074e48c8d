"""Reading the intent from the recogniser's whole beam, not only its best reading.

How a call turn carries the beam (session, LiveKit) is in unit/agent/test_session_beam.py.
"""

from __future__ import annotations

import math

import pytest

from tierline.nlu.data import Example, asr_beams, load_noisy_intents
from tierline.nlu.errors import NluError
from tierline.nlu.evaluation.evaluate import predict_beams
from tierline.nlu.intents import FakeIntentClassifier
from tierline.nlu.pipeline import Nlu, beam_weights
from tierline.nlu.sentiment import LexiconSentiment

MISHEARD, SAID = "我很想起预算十万", "我很生气预算十万"


@pytest.fixture
def nlu() -> Nlu:
    return Nlu(FakeIntentClassifier({SAID: "complaint"}), LexiconSentiment())


def test_beam_weights_follow_the_log_probabilities() -> None:
    w = beam_weights([("a", -3.0), ("b", -4.0), ("c", -9.0)])
    assert math.isclose(sum(w), 1.0) and w[0] > w[1] > w[2] > 0
    assert beam_weights([("a", -3.0), ("b", -3.0)]) == [0.5, 0.5]
    assert beam_weights([("a", float("-inf")), ("b", -1.0)]) == [0.5, 0.5]


def test_words_the_best_reading_lost_still_count(nlu: Nlu) -> None:
    assert nlu.analyze(MISHEARD).intent.label == "other"
    beam = [(MISHEARD, -5.9), (MISHEARD, -6.7), (SAID, -6.9), (SAID, -7.0), (SAID, -7.2)]
    result = nlu.analyze(MISHEARD, beam)
    assert result.intent.label == "complaint"
    assert math.isclose(sum(result.scores.values()), 1.0, abs_tol=1e-3)
    assert result.text == MISHEARD and result.entities.budget_cny == 100_000


def test_a_far_likelier_best_reading_decides(nlu: Nlu) -> None:
    beam = [(MISHEARD, -2.0), (SAID, -12.0)]
    assert nlu.analyze(MISHEARD, beam).intent.label == "other"


def test_one_reading_is_the_plain_analysis(nlu: Nlu) -> None:
    assert nlu.analyze(SAID, [(SAID, -1.0)]) == nlu.analyze(SAID)


def test_evaluation_reads_a_copy_row_from_its_beam() -> None:
    fake = FakeIntentClassifier({SAID: "complaint"})
    beam = ((MISHEARD, -5.9), (SAID, -6.1), (SAID, -6.3))
    rows = [Example(MISHEARD, "complaint", "test", "asr", beam),
            Example(MISHEARD, "complaint", "test", "asr")]  # no beam: read as its text
    assert predict_beams(fake, rows) == ["complaint", "other"]


@pytest.mark.parametrize("copy", ["espeak", "kokoro"])
def test_the_committed_copies_record_the_beam_of_their_transcript(copy: str) -> None:
    rows = load_noisy_intents("test", copy)
    with_beam = [e for e in rows if e.beam]
    assert len(with_beam) >= 0.9 * sum(bool(e.text) for e in rows)
    # Whisper base's readings (up to 5, the first the transcript), then the call-centre
    # decoder's (up to 5) on most rows
    assert all(e.beam[0][0] == e.text and 1 < len(e.beam) <= 10 for e in with_beam)
    assert sum(len(e.beam) > 5 for e in with_beam) >= 0.8 * len(with_beam)
    assert all(lp1 <= 0 for e in with_beam for _, lp1 in e.beam)


def test_a_bad_beam_column_is_an_nlu_error(tmp_path) -> None:
    bad = tmp_path / "copy.tsv"
    bad.write_text("text\tasr\tbeam\n要买\t要买\t[[\"要买\"]]\n", encoding="utf-8")
    with pytest.raises(NluError, match="bad beam"):
        asr_beams(bad)
