"""One error base: every error a user can fix is a TierlineError, reported in one line, exit 2.

The CLI reporting one in one line is in e2e/test_cli_bad_input.py.
"""

from __future__ import annotations

import importlib
import pkgutil

import pytest

from tierline.core.errors import EXIT_BAD_INPUT, TierlineError, exit_code_for, one_line

RUNTIME_PACKAGES = ["tierline.core", "tierline.audio", "tierline.dialects", "tierline.nlu",
                    "tierline.segmentation", "tierline.agent"]
SKIP = ("training", "evaluation", "livekit", "synthetic")


def _error_classes() -> list[type]:
    found = []
    for name in RUNTIME_PACKAGES:
        pkg = importlib.import_module(name)
        for info in pkgutil.walk_packages(pkg.__path__, f"{name}."):
            if any(part in SKIP for part in info.name.split(".")):
                continue
            module = importlib.import_module(info.name)
            for obj in vars(module).values():
                if (isinstance(obj, type) and issubclass(obj, Exception)
                        and obj.__module__ == module.__name__):
                    found.append(obj)
    return found


def test_every_error_of_ours_derives_from_tierline_error():
    classes = _error_classes()
    assert len(classes) >= 10
    strays = [c.__qualname__ for c in classes if not issubclass(c, TierlineError)]
    assert strays == []


def test_exit_codes_live_in_one_place():
    from tierline.audio.errors import AudioError
    from tierline.nlu.errors import NluError

    assert exit_code_for(AudioError("x")) == EXIT_BAD_INPUT
    assert exit_code_for(NluError("x")) == EXIT_BAD_INPUT
    assert exit_code_for(FileNotFoundError(2, "No such file", "a.wav")) == EXIT_BAD_INPUT
    assert exit_code_for(KeyError("bug")) is None
    assert one_line(FileNotFoundError(2, "No such file", "a.wav")) == "No such file: a.wav"
    assert "\n" not in one_line(TierlineError("two\nlines"))


def test_a_missing_shipped_nlu_model_is_an_error_unless_fallback_is_allowed(tmp_path,
                                                                           monkeypatch):
    import tierline.nlu.models as shipped
    from tierline.nlu.errors import NluError
    from tierline.nlu.intents import KeywordIntentClassifier
    from tierline.nlu.pipeline import Nlu

    monkeypatch.setattr(shipped, "INTENT_MODEL", tmp_path / "missing.onnx")
    with pytest.raises(NluError, match="--allow-fallback"):
        Nlu()
    with pytest.warns(RuntimeWarning, match="rule-based intent"):
        nlu = Nlu(allow_fallback=True)
    assert isinstance(nlu.intents, KeywordIntentClassifier)


def test_a_corrupt_shipped_nlu_model_is_an_error(tmp_path, monkeypatch):
    import tierline.nlu.models as shipped
    from tierline.nlu.errors import NluError
    from tierline.nlu.pipeline import Nlu

    bad = tmp_path / "sentiment.int8.onnx"
    bad.write_bytes(b"not an onnx file")
    monkeypatch.setattr(shipped, "SENTIMENT_MODEL", bad)
    with pytest.raises(NluError, match="sentiment"):
        Nlu()
