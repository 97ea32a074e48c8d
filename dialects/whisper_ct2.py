"""Whisper on CTranslate2 directly: log-mel features, encoder windows, language detection, beams.

faster-whisper's ``transcribe`` pads every input to Whisper's 30 s window, so a 3 s turn costs the
encoder as much as 30 s of speech. CTranslate2 encodes shorter mel inputs too: this module cuts
the window to the audio plus a margin (``window="dynamic"``) or pads it to 30 s as Whisper was
trained (``"fixed"``), and exposes the three model calls a decode makes — encode, detect the
language on the encoder output, beam-search the tokens — so that one encoder output serves the
transcript, its language, a second decoder's readings and any classifier of the encoder states.
faster-whisper's feature extractor and tokenizer are reused; its model loader is not.

Nothing here decides what a transcript is (guards, loops, prompts): that is
:class:`tierline.dialects.asr.WhisperASR`'s business.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SAMPLE_RATE = 16_000
FRAMES_PER_S = 100
"""Mel frames per second (hop of 160 samples)."""
MAX_FRAMES = 3000
"""Whisper's 30 s window in mel frames."""
TIME_PRECISION = 0.02
"""Seconds per timestamp token (one encoder frame: two mel frames)."""
MAX_LENGTH = 448
"""Whisper's longest token sequence, prompt included."""
MAX_INITIAL_TIMESTAMP_INDEX = 50
"""The first timestamp is at most 1 s into the window (faster-whisper's default)."""


@dataclass(frozen=True)
class Beam:
    """One window's beam search.

    Attributes:
        sequences: Generated token ids of each hypothesis, best first (prompt excluded, end of
            text excluded).
        scores: Each hypothesis's mean token log-probability (length penalty 1).
        no_speech_prob: Probability of the no-speech token after the start of transcript.
        capped: Whether the best hypothesis stopped at the length bound instead of ending.
    """

    sequences: tuple[tuple[int, ...], ...]
    scores: tuple[float, ...]
    no_speech_prob: float
    capped: bool = False


class PendingBeam:
    """A beam search running on CTranslate2's threads (:meth:`WhisperRuntime.start`).

    Holds the encoder output the search reads until it is done.
    """

    def __init__(self, pending, eot: int, max_new: int, encoded) -> None:
        self._pending = pending
        self._eot = eot
        self._max_new = max_new
        self._encoded = encoded
        self._beam: Beam | None = None

    def result(self) -> Beam:
        """The finished beam (waits for it)."""
        if self._beam is None:
            result = self._pending.result()
            sequences = tuple(tuple(t for t in ids if t != self._eot)
                              for ids in result.sequences_ids)
            self._beam = Beam(sequences, tuple(float(s) for s in result.scores),
                              float(result.no_speech_prob),
                              capped=bool(sequences) and len(sequences[0]) >= self._max_new)
            self._pending = self._encoded = None
        return self._beam


def compression_ratio(text: str) -> float:
    """UTF-8 bytes over their zlib size: a decoder loop compresses far better than speech."""
    raw = text.encode("utf-8")
    return len(raw) / len(zlib.compress(raw)) if raw else 0.0


def window_frames(content: int, window: str, margin_frames: int) -> int:
    """Mel frames the encoder gets for ``content`` frames of audio.

    Args:
        content: Frames of audio in this window (at most :data:`MAX_FRAMES`).
        window: ``"fixed"`` (always 30 s, as Whisper was trained) or ``"dynamic"`` (the audio
            plus ``margin_frames`` of padding, even, at most 30 s).
        margin_frames: Padding after the audio for the dynamic window.
    """
    if window == "fixed":
        return MAX_FRAMES
    frames = min(MAX_FRAMES, content + margin_frames)
    return min(MAX_FRAMES, frames + frames % 2)  # the encoder's stride-2 convolution


class WhisperRuntime:
    """The CTranslate2 Whisper model(s) of one recogniser, its tokenizer and features.

    Args:
        model_dir: CTranslate2 Whisper directory (model.bin, config.json, tokenizer.json).
        reader_dir: A second model of the same encoder whose decoder reads the same encoder
            output (the call-centre decoder), or None.
        compute_type: CTranslate2 compute type.
        workers: Decodes one model runs at once (CTranslate2 ``inter_threads``).
        threads: Intra-op threads of each of those decodes.
    """

    def __init__(self, model_dir: str | Path, reader_dir: str | Path | None = None,
                 compute_type: str = "int8", workers: int = 1, threads: int = 1) -> None:
        import ctranslate2
        import tokenizers
        from faster_whisper.feature_extractor import FeatureExtractor
        from faster_whisper.tokenizer import Tokenizer

        self._ct2 = ctranslate2
        self.model_dir = Path(model_dir)

        def load(path: Path):
            return ctranslate2.models.Whisper(str(path), device="cpu", compute_type=compute_type,
                                              inter_threads=workers, intra_threads=threads)

        self.model = load(self.model_dir)
        self.reader = load(Path(reader_dir)) if reader_dir is not None else None
        self.features = FeatureExtractor(feature_size=self.model.n_mels)
        hf = tokenizers.Tokenizer.from_file(str(self.model_dir / "tokenizer.json"))
        self.tokenizer = Tokenizer(hf, self.model.is_multilingual, task="transcribe",
                                   language="zh" if self.model.is_multilingual else None)
        config = json.loads((self.model_dir / "config.json").read_text(encoding="utf-8"))
        self.languages = frozenset(hf.id_to_token(i)[2:-2] for i in config.get("lang_ids", ()))
        """Language codes the model knows (Whisper base: 99, without ``yue``)."""
        self._suppress = self._suppressed_tokens()

    def _suppressed_tokens(self) -> list[int]:
        """faster-whisper's default: non-speech symbols and the special tokens."""
        tok = self.tokenizer
        ids = set(tok.non_speech_tokens)
        ids.update((tok.transcribe, tok.translate, tok.sot, tok.sot_prev, tok.sot_lm,
                    tok.no_speech))
        return sorted(ids)

    def mel(self, audio: np.ndarray) -> np.ndarray:
        """Log-mel features of a whole utterance, (mels, frames); one frame per 10 ms."""
        feats = self.features(audio)
        return feats[:, : feats.shape[1] - 1]  # the last frame only covers the padding

    def encode(self, mel: np.ndarray, frames: int):
        """Encoder output of one window: ``mel`` cut or padded (zeros, as faster-whisper pads
        the 30 s window) to ``frames``; a CTranslate2 ``StorageView`` (1, frames/2, width)."""
        window = np.zeros((mel.shape[0], frames), dtype=np.float32)
        n = min(frames, mel.shape[1])
        window[:, :n] = mel[:, :n]
        view = self._ct2.StorageView.from_array(np.ascontiguousarray(window[None]))
        return self.model.encode(view)

    def detect_language(self, encoded) -> list[tuple[str, float]]:
        """Languages Whisper hears in an encoder output, likeliest first, as (code, prob)."""
        if not self.model.is_multilingual:
            return [("en", 1.0)]
        return [(token[2:-2], float(p)) for token, p in self.model.detect_language(encoded)[0]]

    def prompt(self, language: str, previous: str | None, timestamps: bool = True) -> list[int]:
        """Decoder prompt: optional previous text, start of transcript, language, task."""
        tok = self.tokenizer
        out: list[int] = []
        if previous:
            text_ids = tok.encode(" " + previous.strip())
            out += [tok.sot_prev, *text_ids[-(MAX_LENGTH // 2 - 1):]]
        out.append(tok.sot)
        if self.model.is_multilingual:
            out += [tok.tokenizer.token_to_id(f"<|{language}|>"), tok.transcribe]
        if not timestamps:
            out.append(tok.no_timestamps)
        return out

    def generate(self, encoded, prompt: list[int], *, beam_size: int, hypotheses: int,
                 max_new: int, repetition_penalty: float, reader: bool = False) -> Beam:
        """Beam search over one window's encoder output (temperature 0).

        Args:
            encoded: :meth:`encode`'s output.
            prompt: :meth:`prompt`'s tokens.
            beam_size: Beam width.
            hypotheses: Hypotheses to return (at most ``beam_size``).
            max_new: Most tokens to generate (the length bound against runaway decoding).
            repetition_penalty: Penalty on tokens already generated (1: none).
            reader: Decode with the second model instead of the transcript's.
        """
        return self.start(encoded, prompt, beam_size=beam_size, hypotheses=hypotheses,
                          max_new=max_new, repetition_penalty=repetition_penalty,
                          reader=reader).result()

    def start(self, encoded, prompt: list[int], *, beam_size: int, hypotheses: int,
              max_new: int, repetition_penalty: float, reader: bool = False) -> PendingBeam:
        """:meth:`generate` started on the model's own CTranslate2 threads; the caller goes on
        and collects the beam with :meth:`PendingBeam.result`. The call-centre decoder's beam
        is started this way beside the transcript's, so one decode uses both of a model's
        replicas (``workers``) when the box has a core to spare.
        """
        model = self.reader if reader else self.model
        # CTranslate2's Whisper generates at most max_length // 2 tokens (OpenAI's sample_len
        # of n_text_ctx // 2; measured: max_length 33 stopped a 28-token reading at 16)
        max_new = max(1, min(max_new, MAX_LENGTH // 2))
        pending = model.generate(
            encoded, [prompt], asynchronous=True, beam_size=beam_size,
            num_hypotheses=min(hypotheses, beam_size),
            length_penalty=1.0, repetition_penalty=repetition_penalty,
            max_length=2 * max_new, return_scores=True, return_no_speech_prob=True,
            suppress_blank=True, suppress_tokens=self._suppress,
            max_initial_timestamp_index=MAX_INITIAL_TIMESTAMP_INDEX)[0]
        return PendingBeam(pending, self.tokenizer.eot, max_new, encoded)

    def text(self, tokens: tuple[int, ...] | list[int]) -> str:
        """The text of a token sequence (timestamps and specials dropped), decoded in one piece
        so a character split over two tokens is whole; a character the sequence leaves
        unfinished (a split cut by the length bound) is dropped rather than shown as U+FFFD."""
        return self.tokenizer.decode(list(tokens)).replace("\ufffd", "")


@dataclass(frozen=True)
class Piece:
    """One timestamped stretch of a window's best hypothesis.

    Attributes:
        start_s: Start, seconds from the start of the utterance.
        end_s: End, seconds from the start of the utterance.
        tokens: Its tokens, timestamps included.
    """

    start_s: float
    end_s: float
    tokens: tuple[int, ...]


def split_pieces(tokens: tuple[int, ...], timestamp_begin: int, offset_s: float,
                 content_frames: int) -> tuple[list[Piece], int]:
    """Cut a window's best hypothesis at its timestamps, as faster-whisper does.

    Args:
        tokens: The hypothesis (no prompt, no end of text).
        timestamp_begin: Id of ``<|0.00|>``.
        offset_s: Where the window starts in the utterance.
        content_frames: Mel frames of audio in the window.

    Returns:
        The pieces, and how many mel frames of the window they consumed: all of them, unless
        the hypothesis ends inside an unfinished piece after the window's start, which is then
        left for the next window to start at its last timestamp.
    """

    def at(token: int) -> float:
        return offset_s + (token - timestamp_begin) * TIME_PRECISION

    single_ending = len(tokens) >= 2 and tokens[-2] < timestamp_begin <= tokens[-1]
    pairs = [i for i in range(1, len(tokens))
             if tokens[i] >= timestamp_begin and tokens[i - 1] >= timestamp_begin]
    if not pairs:
        stamps = [t for t in tokens if t >= timestamp_begin]
        end = at(stamps[-1]) if stamps and stamps[-1] != timestamp_begin \
            else offset_s + content_frames / FRAMES_PER_S
        return [Piece(offset_s, end, tuple(tokens))], content_frames
    cuts = pairs + ([len(tokens)] if single_ending else [])
    pieces, last = [], 0
    for cut in cuts:
        part = tokens[last:cut]
        pieces.append(Piece(at(part[0]), at(part[-1]), tuple(part)))
        last = cut
    if single_ending:
        return pieces, content_frames
    consumed = (tokens[last - 1] - timestamp_begin) * 2  # an encoder frame is two mel frames
    # a piece left unfinished at the window's start would be decoded again forever
    return pieces, consumed if 0 < consumed < content_frames else content_frames
