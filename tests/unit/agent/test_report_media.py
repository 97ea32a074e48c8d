"""The report's audio: clips cut on the turns' timeline, the agent channel of a stereo sample
cut and transcribed (a scripted recogniser), and bad or missing files turned into notes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from helpers.paths import CALLS

from tierline.agent.report_media import (
    PAD_S,
    ClipsFolder,
    MediaOptions,
    ReportError,
    check_target,
    cut,
    safe_name,
    write_call_media,
    write_media,
)
from tierline.audio.records import Frame
from tierline.dialects.asr import FakeASR

STEREO = CALLS / "medium_price_continue.wav"  # agent 0, caller 1, 8 kHz


def frames(n: int) -> list[Frame]:
    pcm = np.arange(n * 320, dtype=np.int64).astype(np.int16)
    return [Frame(pcm[i * 320:(i + 1) * 320], i * 0.02) for i in range(n)]


def test_cut_gives_each_span_its_exact_samples_even_when_spans_overlap():
    got = dict(cut(frames(100), [(0, 0.1, 0.5), (1, 0.45, 0.75), (2, -0.2, 0.03),
                                 (3, 1.9, 5.0)]))
    ramp = np.arange(100 * 320, dtype=np.int64).astype(np.int16)
    assert np.array_equal(got[0], ramp[1600:8000])
    assert np.array_equal(got[1], ramp[7200:12000])  # overlaps span 0
    assert np.array_equal(got[2], ramp[:480])  # starts before the call
    assert np.array_equal(got[3], ramp[30400:])  # the call ends inside it
    assert list(dict(cut(frames(10), []))) == []


def turn(index: int, start: float, end: float) -> dict:
    return {"index": index, "start_s": start, "end_s": end, "text": "x"}


def stereo_record(path: Path = STEREO) -> dict:
    return {"call": {"id": "price", "audio": str(path), "channels": 2},
            "turns": [turn(0, 10.1, 15.66), turn(1, 22.12, 24.66)],
            "final_tier": "medium", "route": {"action": "continue"}}


def test_caller_clips_are_the_caller_channel_at_the_turn_times(tmp_path: Path):
    options = MediaOptions(agent="off")
    media = write_call_media(stereo_record(), tmp_path / "c", "r_files/c/", options)
    assert media.turns == {0: "r_files/c/turn-001.wav", 1: "r_files/c/turn-002.wav"}
    original, rate = sf.read(str(STEREO))
    for index, (start, end) in enumerate([(10.1, 15.66), (22.12, 24.66)]):
        clip, clip_rate = sf.read(str(tmp_path / "c" / f"turn-{index + 1:03d}.wav"))
        assert clip_rate == rate == 8000  # a telephone call stays 8 kHz
        assert abs(len(clip) / rate - (end - start + 2 * PAD_S)) < 0.03
        lo = round((start - PAD_S) * rate)
        caller, agent = original[lo:lo + len(clip), 1], original[lo:lo + len(clip), 0]
        assert np.corrcoef(clip, caller)[0, 1] > 0.95
        assert abs(np.corrcoef(clip, agent)[0, 1]) < 0.3
    assert media.agent == ()
    assert any("left out" in n for n in media.notes)


def test_the_agent_channel_is_cut_and_transcribed(tmp_path: Path):
    asr = FakeASR(["您好，这里是客服", "好的，我们稍后再联系"])
    told: list[str] = []
    media = write_call_media(stereo_record(), tmp_path / "c", "h/",
                             MediaOptions(agent="text", asr=asr, on_transcribe=told.append))
    assert told == ["report: transcribing the agent channel of medium_price_continue.wav"]
    assert [a.text for a in media.agent] == ["您好，这里是客服", "好的，我们稍后再联系"]
    # the bot speaks before the caller's first turn and between the two turns
    first, second = media.agent
    assert first.end_s <= 10.1 and 15.66 <= second.start_s <= 22.12
    for said in media.agent:
        clip, rate = sf.read(str(tmp_path / "c" / said.href.removeprefix("h/")))
        assert rate == 8000 and abs(len(clip) / rate - (said.end_s - said.start_s)) < 0.5
    only_audio = write_call_media(stereo_record(), tmp_path / "d", "h/",
                                  MediaOptions(agent="audio", asr=FakeASR(["never"])))
    assert len(only_audio.agent) == 2 and {a.text for a in only_audio.agent} == {None}


def test_the_caller_channel_setting_is_followed(tmp_path: Path):
    """Replaying the agent channel (--channel agent) makes channel 1 the other side."""
    media = write_call_media(stereo_record(), tmp_path / "c", "h/",
                             MediaOptions(channel="agent", agent="audio"))
    clip, rate = sf.read(str(tmp_path / "c" / "turn-001.wav"))
    original, _ = sf.read(str(STEREO))
    lo = round((10.1 - PAD_S) * rate)
    assert np.corrcoef(clip, original[lo:lo + len(clip), 0])[0, 1] > 0.95
    assert media.agent  # the caller's channel, cut as the other side


def test_missing_broken_and_audioless_calls_become_notes(tmp_path: Path):
    gone = stereo_record(tmp_path / "gone.wav")
    notes = write_call_media(gone, tmp_path / "a", "", MediaOptions()).notes
    assert "was not found" in notes[0]
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"RIFF not really a wave file" * 10)
    media = write_call_media(stereo_record(junk), tmp_path / "b", "", MediaOptions())
    assert media.turns == {} and media.notes[0].startswith("Audio not playable here")
    failed = {"call": {"id": "x", "audio": str(STEREO)}, "error": "bad"}
    typed = {"call": {"id": "t", "source": "chat"}, "turns": [turn(0, 0, 1)]}
    assert write_call_media(failed, tmp_path / "c", "", MediaOptions()) is None
    assert write_call_media(typed, tmp_path / "d", "", MediaOptions()) is None


def test_clip_folders_are_safe_names_and_replace_only_a_reports_own(tmp_path: Path):
    assert safe_name("../../etc/passwd") == "etc_passwd"
    assert safe_name("<script>") == "script" and safe_name("...") == "call"
    report = tmp_path / "r.html"
    record = stereo_record()
    record["call"]["id"] = "../../evil"
    media, folder = write_media([record, record], report, MediaOptions(agent="off"))
    folder.commit()
    made = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.wav"))
    assert made == ["r_files/01-evil/turn-001.wav", "r_files/01-evil/turn-002.wav",
                    "r_files/02-evil/turn-001.wav", "r_files/02-evil/turn-002.wav"]
    assert media[1].turns[0] == "r_files/02-evil/turn-001.wav"
    again = ClipsFolder(report)  # a second report replaces the first one's clips
    again.commit()
    assert not list((tmp_path / "r_files").rglob("*.wav"))
    (tmp_path / "x_files").mkdir()
    with pytest.raises(ReportError):
        check_target(tmp_path / "x.html")
