"""Per-frame verdicts of the two VAD stages: webrtcvad (fast) and a confirming detector.

webrtcvad answers within the 20 ms frame and costs microseconds, but fires on noise, clicks
and coughs. The confirming detector (Silero by default) is a small neural model that separates
speech from noise far better but reacts about 60 ms later. The endpointer and the barge-in
controller both read the pair.
"""

from __future__ import annotations

from dataclasses import dataclass

import webrtcvad

from tierline.audio.detector import SpeechDetector, check_frame
from tierline.audio.errors import AudioError
from tierline.audio.records import PIPELINE_RATE, Frame


@dataclass(frozen=True)
class FrameVerdict:
    """What both stages say about one frame.

    Attributes:
        frame: The frame.
        fast: webrtcvad's voiced decision.
        prob: The confirming detector's speech probability, [0, 1].
    """

    frame: Frame
    fast: bool
    prob: float


class TwoStageVAD:
    """Runs webrtcvad and a confirming detector on every frame of one stream.

    Args:
        aggressiveness: webrtcvad mode 0..3.
        detector: Confirming stage; default :class:`tierline.audio.silero.SileroVAD`.
    """

    def __init__(self, aggressiveness: int = 2, detector: SpeechDetector | None = None) -> None:
        if aggressiveness not in (0, 1, 2, 3):
            raise AudioError(f"VAD aggressiveness must be 0..3, not {aggressiveness!r}")
        if detector is None:
            from tierline.audio.silero import SileroVAD

            detector = SileroVAD()
        self.detector = detector
        self._vad = webrtcvad.Vad(aggressiveness)

    def classify(self, frame: Frame) -> FrameVerdict:
        """Both stages' verdicts on the next frame of the stream.

        Raises:
            AudioError: The frame is not 320 int16 samples.
        """
        pcm = check_frame(frame)
        fast = self._vad.is_speech(pcm.tobytes(), PIPELINE_RATE)
        return FrameVerdict(frame, fast, self.detector.probability(frame))

    def reset(self) -> None:
        """Forget the stream (the confirming detector's state)."""
        self.detector.reset()
