"""Callees for the campaign tests: sipp UAS scenarios on 127.0.0.1, one process per behaviour.

Each :class:`Callee` is one sipp process answering every INVITE sent to its port the same
way — a person (real speech: a short greeting, a wait, then sentences), a voicemail box (a
real asterisk prompt and its beep), ringing until cancelled, busy (486), a refusing trunk
(503), a decline (603) — and tracing every message it received, so a test counts the INVITEs
each number got (distinct Call-IDs; retransmissions are one dial).
"""

from __future__ import annotations

import re
import subprocess
from collections import Counter
from pathlib import Path

import numpy as np
from sip_harness import AGENT_SDP, _agent_answer, free_port, scenario, send

from tierline.audio.evaluation.amd_cases import excerpt
from tierline.audio.g711 import alaw_encode
from tierline.audio.io import load_audio, resample

SOUNDS = Path("/usr/share/asterisk/sounds/en")

# the answer of sip_harness's agent, with an SDP for sipp's rtp_stream (and DTMF)
ANSWER_SDP = (AGENT_SDP.replace("[media_port] RTP/AVP 8 0", "[rtpstream_audio_port] RTP/AVP 8 101")
              .replace("a=rtpmap:0 PCMU/8000", "a=rtpmap:101 telephone-event/8000"))


def _response(status: str, body: str = "") -> str:
    return _agent_answer(status, body)


def answering(audio: Path, bye_timeout_ms: int = 90000) -> str:
    """Answer, stream ``audio`` (raw A-law), wait for the caller's BYE (or give up)."""
    return scenario(
        '<recv request="INVITE" crlf="true"/>\n',
        send(_response("180 Ringing"), retrans=False),
        send(_response("200 OK", ANSWER_SDP)),
        '<recv request="ACK" crlf="true"/>\n',
        f'<nop><action><exec rtp_stream="{audio},1,8"/></action></nop>\n',
        f'<recv request="BYE" timeout="{bye_timeout_ms}" ontimeout="gone"/>\n',
        send(_response("200 OK"), retrans=False),
        '<label id="gone"/>\n<nop/>\n', name="callee")


def status_only(status: str) -> str:
    """Answer every INVITE with one final status (busy, refused, declined)."""
    return scenario(
        '<recv request="INVITE" crlf="true"/>\n',
        send(_response(status), retrans=False),
        '<recv request="ACK" crlf="true" timeout="10000" ontimeout="gone"/>\n',
        '<label id="gone"/>\n<nop/>\n', name="callee")


def ringing_forever() -> str:
    """Ring until the caller cancels: 200 to the CANCEL, 487 to the INVITE."""
    terminated = _response("487 Request Terminated").replace("[last_CSeq:]",
                                                             "CSeq: [$cseq] INVITE")
    return scenario(
        '<recv request="INVITE" crlf="true">\n<action>\n'
        '<ereg regexp="([0-9]+) INVITE" search_in="hdr" header="CSeq:" assign_to="all,cseq"/>\n'
        '</action>\n</recv>\n',
        send(_response("180 Ringing"), retrans=False),
        '<recv request="CANCEL" timeout="120000" ontimeout="gone"/>\n',
        send(_response("200 OK"), retrans=False),
        send(terminated, retrans=False),
        '<recv request="ACK" crlf="true" timeout="10000" ontimeout="gone"/>\n',
        '<label id="gone"/>\n<nop/>\n<Reference variables="all"/>\n', name="callee")


class Callee:
    """One sipp UAS process (runs until :meth:`stop`)."""

    def __init__(self, name: str, xml: str, workdir: Path, limit_s: int = 600) -> None:
        self.name = name
        self.port = free_port()
        self.workdir = workdir / name
        self.workdir.mkdir(parents=True, exist_ok=True)
        path = self.workdir / f"{name}.xml"
        path.write_text(xml, encoding="latin-1")
        cmd = ["sipp", "-sf", str(path), "-i", "127.0.0.1", "-p", str(self.port),
               "-mp", str(free_port()), "-nostdin", "-timeout", f"{limit_s}s",
               "-trace_msg", "-trace_err", "-max_recv_loops", "1000"]
        self.proc = subprocess.Popen(cmd, cwd=self.workdir, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.STDOUT)

    def uri(self, user: str) -> str:
        return f"sip:{user}@127.0.0.1:{self.port}"

    def messages(self) -> str:
        return "\n".join(p.read_text(errors="replace")
                         for p in self.workdir.glob(f"{self.name}_*_messages.log"))

    def invites(self) -> Counter:
        """Distinct INVITEs (Call-IDs) received, per user part of the request URI."""
        seen: dict[str, set[str]] = {}
        for block in re.split(r"-{10,}", self.messages()):
            if "message received" not in block:
                continue
            m = re.search(r"^INVITE sip:([^@\s]+)@", block, re.M)
            c = re.search(r"^Call-ID:\s*(\S+)", block, re.M | re.I)
            if m and c:
                seen.setdefault(m.group(1), set()).add(c.group(1))
        return Counter({user: len(ids) for user, ids in seen.items()})

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


def alaw_file(pcm8k: np.ndarray, path: Path) -> Path:
    """Raw A-law of 8 kHz float audio (for sipp's rtp_stream)."""
    pcm = np.clip(pcm8k * 32768, -32768, 32767).astype(np.int16)
    path.write_bytes(alaw_encode(pcm).tobytes())
    return path


def person_audio(clips: list[Path], out: Path) -> Path:
    """A person answering: a short real greeting, a 2.5 s wait (the bot speaks), then two
    real sentences with a pause, then a second of silence."""
    speech = [resample(load_audio(p), 16000, 8000) for p in clips]
    speech = [0.5 * s / max(1e-6, float(np.abs(s).max())) for s in speech]
    silence = [np.zeros(int(s * 8000), np.float32) for s in (0.4, 2.5, 1.5, 1.0)]
    greeting = excerpt(speech[0], 0.9)
    parts = [silence[0], greeting, silence[1], speech[1], silence[2], speech[2], silence[3]]
    return alaw_file(np.concatenate(parts).astype(np.float32), out)


def voicemail_audio(out: Path) -> Path:
    """A voicemail box: asterisk's real "please leave your message after the tone", its beep,
    then the silence of the recording."""
    intro = resample(load_audio(SOUNDS / "vm-intro.wav"), 16000, 8000)
    beep = resample(load_audio(SOUNDS / "beep.wav"), 16000, 8000)
    gap = np.zeros(int(0.3 * 8000), np.float32)
    tail = np.zeros(int(8 * 8000), np.float32)
    lead = np.zeros(int(0.5 * 8000), np.float32)
    return alaw_file(np.concatenate([lead, intro, gap, beep, tail]).astype(np.float32), out)
