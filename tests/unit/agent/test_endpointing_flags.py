"""The endpointing flags every listening command shares, and the settings they give."""

from __future__ import annotations

import argparse

import pytest

from tierline.agent.clikit import UsageError, add_endpointing_flags, endpointing
from tierline.audio.endpointer import ConfirmConfig


def parse(*argv: str) -> argparse.Namespace:
    p = argparse.ArgumentParser()
    add_endpointing_flags(p)
    return p.parse_args(argv)


def test_defaults_are_the_endpointers_own():
    config = endpointing(parse())
    assert config.confirm == ConfirmConfig()
    assert config.endpointer.aggressiveness == 2


def test_flags_reach_the_endpointer():
    config = endpointing(parse("--early-close-ms", "0", "--unfinished-hangover-ms", "800",
                               "--vad-aggressiveness", "3"))
    assert config.confirm.early_close_ms == 0
    assert config.confirm.unfinished_hangover_ms == 800
    assert config.endpointer.aggressiveness == 3


@pytest.mark.parametrize("flag", ["--early-close-ms", "--unfinished-hangover-ms"])
def test_a_negative_wait_is_a_usage_error(flag: str):
    with pytest.raises(UsageError, match=flag):
        endpointing(parse(flag, "-20"))
