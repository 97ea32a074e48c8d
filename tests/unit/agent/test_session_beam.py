"""A call turn read from the recogniser's beam: what else was heard, one utterance's readings.

The beam reading itself (weights, evaluation, the committed copies) is in
unit/nlu/test_nlu_beam.py.
"""

from __future__ import annotations

from tierline.agent.session import CallSession, Models
from tierline.nlu.intents import FakeIntentClassifier
from tierline.nlu.pipeline import Nlu
from tierline.nlu.sentiment import LexiconSentiment
from tierline.segmentation.features import CustomerProfile

MISHEARD, SAID = "我很想起预算十万", "我很生气预算十万"


def test_a_turn_read_from_the_beam_shows_what_else_was_heard() -> None:
    nlu = Nlu(FakeIntentClassifier({SAID: "complaint"}), LexiconSentiment())
    session = CallSession(Models(nlu=nlu), CustomerProfile(), {"id": "beam"})
    beam = ((MISHEARD, -5.9), (MISHEARD, -6.7), (SAID, -6.9), (SAID, -7.0), (SAID, -7.2))
    turn = session.on_text(MISHEARD, alternatives=beam)
    assert turn.intent[0] == "complaint" and turn.text == MISHEARD
    assert turn.to_dict()["also_heard"] == [SAID]
    typed = session.on_text(SAID)
    assert typed.also_heard == () and "also_heard" not in typed.to_dict()
    # a reading that differs only by what the NLU folds (full-width comma) is not "else"
    wide = session.on_text("我很想起，你们", alternatives=(("我很想起，你们", -5.0),
                                                          ("我很想起,你们", -5.5),
                                                          (SAID, -6.0)))
    assert wide.also_heard == (SAID,)


def test_a_livekit_turn_keeps_the_readings_of_its_one_utterance() -> None:
    from tierline.agent.livekit.agent import merge_heard  # livekit: imported by this test only
    from tierline.agent.livekit.ledger import HeardUtterance

    beam = ((MISHEARD, -5.9), (SAID, -6.9))
    one = HeardUtterance(0.0, 1.0, 0.0, MISHEARD, "zh", None, 0.5, 700.0, None, beam)
    assert merge_heard([one])["alternatives"] == beam
    # readings of two utterances cannot be joined: the merged turn reads its text alone
    assert merge_heard([one, one])["alternatives"] == ()
