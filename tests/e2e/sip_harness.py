"""Real SIP peers for the endpoint's interop tests: the endpoint in a thread, sipp, baresip.

Everything listens on 127.0.0.1 only, every peer runs under a time limit, and every wait is
bounded. :class:`Endpoint` runs a :class:`~tierline.agent.sip.server.CallManager` on its own
event loop in a background thread (models loaded once per test module) and collects the call
records it writes.
"""

from __future__ import annotations

import dataclasses
import shutil
import socket
import struct
import subprocess
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from tierline.agent.sip.config import SipEndpointConfig, parse
from tierline.agent.sip.server import BackgroundEndpoint, CallManager
from tierline.audio.g711 import alaw_decode, alaw_encode, ulaw_decode, ulaw_encode

ROOT = Path(__file__).resolve().parents[2]
CALLS = ROOT / "samples" / "calls"
PCAPS = Path("/usr/share/sip-tester")


def free_port(kind: int = socket.SOCK_DGRAM) -> int:
    """A UDP port nobody uses on 127.0.0.1 right now (even, for RTP's sake)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, kind) as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port % 2 == 0 and port < 65000:
            return port
    raise RuntimeError("no free port")


def missing_tools(*names: str) -> list[str]:
    return [n for n in names if shutil.which(n) is None]


def endpoint_config(tmp: Path, **sections) -> SipEndpointConfig:
    """A config writing into ``tmp`` with RTP ports away from other tests."""
    base = free_port() // 1000 * 1000
    base = min(max(base, 20000), 60000)
    data = {"server": {"host": "127.0.0.1", "port": 5060, "rtp_port_min": base,
                       "rtp_port_max": base + 998, "records_dir": str(tmp / "records"),
                       "recordings_dir": str(tmp / "recordings"),
                       "callbacks_file": str(tmp / "callbacks.jsonl"),
                       "customers_dir": str(tmp / "customers"), "no_rtp_timeout_s": 30},
            "tts": {"sample_rate": 8000}}
    for key, value in sections.items():
        data.setdefault(key, {}).update(value)
    return parse(data, "test")


class Endpoint(BackgroundEndpoint):
    """The SIP endpoint in a background thread, with helpers for tests."""

    def __init__(self, config: SipEndpointConfig, models, answer_after_s: float = 0.2,
                 store=None) -> None:
        super().__init__(CallManager(config, models, port=0, answer_after_s=answer_after_s,
                                     store=store))

    def call(self, coro, timeout: float = 60):
        return self.run(coro, timeout)

    def configure(self, **changes) -> None:
        """Replace sections of the config (e.g. transfer=TransferConfig(...)) for new calls."""
        self.manager.config = dataclasses.replace(self.manager.config, **changes)

    def wait_idle(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while self.manager.active and time.monotonic() < deadline:
            time.sleep(0.2)


# ---------------------------------------------------------------------------------- sipp
SDP_OFFER = """v=0
o=user1 53655765 2353687637 IN IP[local_ip_type] [local_ip]
s=-
c=IN IP[media_ip_type] [media_ip]
t=0 0
m=audio {port} RTP/AVP {formats}
{rtpmaps}"""


def invite(user: str = "caller", formats: str = "8 101",
           rtpmaps: str = "a=rtpmap:8 PCMA/8000\na=rtpmap:101 telephone-event/8000",
           port: str = "[media_port]", branch: str = "[branch]",
           extra: str = "") -> str:
    """A sipp INVITE with an SDP offer."""
    body = SDP_OFFER.format(port=port, formats=formats, rtpmaps=rtpmaps)
    return f"""INVITE sip:bot@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch={branch}
From: <sip:{user}@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
To: <sip:bot@[remote_ip]:[remote_port]>
Call-ID: [call_id]
CSeq: 1 INVITE
Contact: <sip:{user}@[local_ip]:[local_port]>
Max-Forwards: 70
{extra}Content-Type: application/sdp
Content-Length: [len]

{body}
"""


def _in_dialog(method: str, cseq: int) -> str:
    """A request of the caller inside its dialog (To with the endpoint's tag)."""
    return f"""{method} sip:bot@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:caller@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
[last_To:]
Call-ID: [call_id]
CSeq: {cseq} {method}
Contact: <sip:caller@[local_ip]:[local_port]>
Max-Forwards: 70
Content-Length: 0

"""


ACK = _in_dialog("ACK", 1)
BYE = _in_dialog("BYE", 2)

def send(msg: str, retrans: bool = True) -> str:
    attr = ' retrans="500"' if retrans else ""
    return f"<send{attr}><![CDATA[\n{msg}\n]]></send>\n"


def scenario(*steps: str, name: str = "tierline") -> str:
    return (f'<?xml version="1.0" encoding="ISO-8859-1" ?>\n<scenario name="{name}">\n'
            + "".join(steps) + "</scenario>\n")


def answered() -> str:
    """Receive 100/180 (optional) and 200, send ACK."""
    return ('<recv response="100" optional="true"/>\n<recv response="180" optional="true"/>\n'
            '<recv response="200" rtd="true"/>\n' + send(ACK, retrans=False))


def hang_up() -> str:
    return send(BYE) + '<recv response="200" crlf="true"/>\n'


def pause(ms: int) -> str:
    return f'<pause milliseconds="{ms}"/>\n'


def play_pcap(path: Path) -> str:
    return f'<nop><action><exec play_pcap_audio="{path}"/></action></nop>\n'


def rtp_stream(path: Path, pt: int) -> str:
    return f'<nop><action><exec rtp_stream="{path},1,{pt}"/></action></nop>\n'


def run_sipp(xml: str, port: int, workdir: Path, *, timeout: float = 90, media_port: int = 0,
             extra: list[str] | None = None, name: str = "scenario",
             background: bool = False) -> subprocess.CompletedProcess | subprocess.Popen:
    """Run one sipp call of scenario ``xml`` against 127.0.0.1:``port`` (bounded in time)."""
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / f"{name}.xml"
    path.write_text(xml, encoding="latin-1")
    cmd = ["sipp", "-sf", str(path), f"127.0.0.1:{port}" if port else "", "-m", "1",
           "-i", "127.0.0.1", "-p", str(free_port()), "-mp", str(media_port or free_port()),
           "-nostdin", "-timeout", f"{int(timeout)}s", "-timeout_error", "-trace_err",
           "-trace_msg", "-max_recv_loops", "1000"]
    cmd = [c for c in cmd if c] + (extra or [])
    if background:
        return subprocess.Popen(cmd, cwd=workdir, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
    return subprocess.run(cmd, cwd=workdir, capture_output=True, text=True,
                          timeout=timeout + 30)


def sipp_messages(workdir: Path, name: str) -> str:
    """The messages sipp traced for scenario ``name`` (for assertions and failure reports)."""
    return "\n".join(p.read_text(errors="replace") for p in workdir.glob(f"{name}_*_messages.log"))


# ---------------------------------------------------------------------------------- audio
def g711_file(wav: Path, out: Path, law: str) -> np.ndarray:
    """Write ``wav`` as raw 8 kHz G.711 (``law`` "alaw" or "ulaw"); return the int16 audio."""
    audio, rate = sf.read(str(wav), dtype="int16", always_2d=True)
    pcm = audio[:, -1]  # the caller's channel of a stereo sample is the last
    if rate != 8000:
        import soxr

        pcm = soxr.resample(pcm.astype(np.float32) / 32768, rate, 8000)
        pcm = np.clip(pcm * 32768, -32768, 32767).astype(np.int16)
    encode = alaw_encode if law == "alaw" else ulaw_encode
    codes = encode(pcm)
    out.write_bytes(codes.tobytes())
    decode = alaw_decode if law == "alaw" else ulaw_decode
    return decode(codes)


def pcap_audio(path: Path) -> tuple[np.ndarray, int]:
    """The G.711 audio of the RTP packets in a pcap (decoded), and the payload type."""
    data = path.read_bytes()
    magic = struct.unpack_from("<I", data)[0]
    endian = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
    linktype = struct.unpack_from(endian + "I", data, 20)[0]
    off, payloads, pt = 24, [], None
    while off + 16 <= len(data):
        incl = struct.unpack_from(endian + "I", data, off + 8)[0]
        pkt = data[off + 16 : off + 16 + incl]
        off += 16 + incl
        l2 = {1: 14, 113: 16, 0: 4}.get(linktype, 14)
        ip = pkt[l2:]
        if len(ip) < 20 or ip[0] >> 4 != 4 or ip[9] != 17:
            continue
        udp = ip[(ip[0] & 0x0F) * 4 :]
        rtp = udp[8:]
        if len(rtp) < 12 or rtp[0] >> 6 != 2:
            continue
        pt = rtp[1] & 0x7F
        payloads.append(rtp[12:])
    codes = b"".join(payloads)
    pcm = alaw_decode(codes) if pt == 8 else ulaw_decode(codes)
    return pcm, pt or 0


def rms_db(x: np.ndarray) -> float:
    x = x.astype(np.float64)
    return 10 * np.log10(np.mean(x * x) + 1e-9)


def active(x: np.ndarray, threshold_db: float = 45.0) -> np.ndarray:
    """The 20 ms frames of ``x`` louder than ``threshold_db`` (int16 full scale ≈ 90 dB)."""
    n = len(x) // 160
    frames = x[: n * 160].reshape(n, 160).astype(np.float64)
    loud = 10 * np.log10(np.mean(frames**2, axis=1) + 1e-9) > threshold_db
    return frames[loud].reshape(-1)


def best_lag_correlation(ref: np.ndarray, got: np.ndarray) -> tuple[float, int]:
    """The normalised cross-correlation of ``ref`` against ``got`` at its best lag
    (signed: an inverted copy scores near -1)."""
    ref = ref.astype(np.float64)
    got = got.astype(np.float64)
    n = 1 << int(np.ceil(np.log2(len(ref) + len(got))))
    corr = np.fft.irfft(np.fft.rfft(got, n) * np.conj(np.fft.rfft(ref, n)), n)
    lag = int(np.argmax(np.abs(corr)))
    if lag >= len(got):
        lag -= n
    seg = got[max(0, lag) : max(0, lag) + len(ref)]
    r = ref[: len(seg)]
    denom = np.sqrt(np.sum(r * r) * np.sum(seg * seg)) + 1e-9
    return float(np.sum(r * seg) / denom), lag


def chunk_correlation(ref: np.ndarray, got: np.ndarray, chunk_s: float = 1.0) -> float:
    """The median, over the voiced 1 s chunks of ``ref``, of each chunk's signed correlation
    with ``got`` at that chunk's best lag near where ``ref`` as a whole sits in ``got``: robust
    to the silence a jitter buffer inserts when packets come late (which shifts the rest of
    the call), still -1 for inverted audio."""
    _, lag0 = best_lag_correlation(ref, got)
    n = int(8000 * chunk_s)
    scores = []
    for start in range(0, len(ref) - n + 1, n):
        part = ref[start : start + n]
        if len(active(part)) < n // 2:
            continue
        lo = max(0, start + lag0 - 8000 * 2)
        window = got[lo : start + lag0 + n + 8000 * 2]
        if len(window) >= n:
            scores.append(best_lag_correlation(part, window)[0])
    return float(np.median(scores)) if scores else 0.0


# ---------------------------------------------------------------------------------- baresip
BARESIP_CONFIG = """poll_method epoll
sip_listen 127.0.0.1:{port}
net_interface 127.0.0.1
audio_player aubridge,nil
audio_alert aubridge,nil
audio_source aufile,{wav}
ausrc_srate 8000
auplay_srate 8000
ausrc_channels 1
auplay_channels 1
rtp_ports {rtp}-{rtp_end}
module_path /usr/lib/baresip/modules
module g711.so
module aufile.so
module aubridge.so
module sndfile.so
module_app account.so
module_app menu.so
snd_path {dump}
"""


def baresip_dial(target: str, wav: Path, workdir: Path, seconds: int,
                 codecs: str = "PCMA,PCMU") -> tuple[subprocess.Popen, Path]:
    """Start baresip calling ``target`` with ``wav`` (8 kHz mono) as the microphone; it quits
    after ``seconds``. Returns the process and the folder its sndfile dumps land in."""
    conf = workdir / "baresip"
    dump = workdir / "dump"
    conf.mkdir(parents=True, exist_ok=True)
    dump.mkdir(exist_ok=True)
    rtp = free_port()
    (conf / "config").write_text(BARESIP_CONFIG.format(
        port=free_port(), wav=wav, rtp=rtp, rtp_end=rtp + 20, dump=dump), encoding="ascii")
    (conf / "accounts").write_text(
        f"<sip:caller@127.0.0.1>;regint=0;audio_codecs={codecs}\n", encoding="ascii")
    proc = subprocess.Popen(["baresip", "-f", str(conf), "-e", f"/dial {target}",
                             "-t", str(seconds)], cwd=workdir, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return proc, dump


# ---------------------------------------------------------------------------------- the agent
def _agent_answer(status: str, sdp: str = "") -> str:
    """The agent's response to the INVITE (its tag on To; with ``sdp``, an answer)."""
    body = (f"Content-Type: application/sdp\nContent-Length: [len]\n\n{sdp}" if sdp
            else "Content-Length: 0\n")
    return f"""SIP/2.0 {status}
[last_Via:]
[last_From:]
[last_To:];tag=[pid]agent[call_number]
[last_Call-ID:]
[last_CSeq:]
Contact: <sip:agent@[local_ip]:[local_port]>
{body}"""


AGENT_SDP = """v=0
o=agent 1 1 IN IP[local_ip_type] [local_ip]
s=-
c=IN IP[media_ip_type] [media_ip]
t=0 0
m=audio [media_port] RTP/AVP 8 0
a=rtpmap:8 PCMA/8000
a=rtpmap:0 PCMU/8000
"""
AGENT_OK = _agent_answer("200 OK", AGENT_SDP)
AGENT_RINGING = _agent_answer("180 Ringing")

BYE_OK = """SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:]
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0
"""


def agent_scenario(require_headers: bool = True, voice: Path | None = None) -> str:
    """A human agent's phone: answers, (plays ``voice``), waits for BYE. With
    ``require_headers`` the INVITE must carry X-Tierline-Tier and X-Tierline-Summary."""
    check = ""
    if require_headers:
        check = ('<action>\n<ereg regexp="X-Tierline-Tier: [a-z_]+" search_in="msg" '
                 'check_it="true" assign_to="tier"/>\n'
                 '<ereg regexp="X-Tierline-Summary: [^\\r\\n]+" search_in="msg" '
                 'check_it="true" assign_to="summary"/>\n</action>\n')
    steps = [f'<recv request="INVITE" crlf="true">\n{check}</recv>\n',
             send(AGENT_RINGING, retrans=False), send(AGENT_OK),
             '<recv request="ACK" optional="false" rtd="true" crlf="true"/>\n']
    if voice is not None:
        steps.append(play_pcap(voice))
    steps += ['<recv request="BYE"/>\n', send(BYE_OK, retrans=False),
              '<Reference variables="tier,summary"/>\n' if require_headers else ""]
    return scenario(*steps, name="agent")
