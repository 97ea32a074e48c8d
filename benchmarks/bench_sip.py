"""Load benchmark of the built-in SIP endpoint: N simultaneous sipp calls of real speech.

Calls are made of AISHELL-1 clips (../shared/data/aishell1_sample, or $TIERLINE_DATA), several
per call with pauses between them so each clip is a caller turn, rendered to 8 kHz μ-law and
streamed by sipp (one sipp per call, all started together). The expected decision of each call
is what `tierline replay` decides on the same audio (computed first, same models).

A live line starts at an arbitrary phase of the 20 ms frame grid, and the endpointer can place
a turn's onset up to half a second differently when the audio comes 5-10 ms later (measured on
one of these calls: a turn starting at 14.82 s starts at 14.36 s), which can change what
Whisper hears and flip a decision near a tier boundary. So replay decides each candidate call
twice, as recorded and 10 ms later, and only calls decided the same both times (and not within
``--margin`` of a tier boundary) form the pool.

For N = 1, 2, 3, ... the benchmark reports whether every call completed with the expected final
tier and route, the p95 of ``latency_ms.decision`` (the caller's turn detected → route decision,
the same measure as replay --realtime) over all turns, the CPU the endpoint process used per
call, its resident memory, and where the time went (Whisper, waiting for Whisper, NLU, tier).
It reports the largest N meeting both the decisions and the latency target, and the largest N
whose decisions are all as expected whatever the latency; it stops at the first N whose
decisions are not. Not a test: nothing is asserted.

Usage: python benchmarks/bench_sip.py [--max-calls 6] [--clips 3] [--pool 4] [--no-readings]
       [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "e2e"))  # the sipp scenario builders of the interop tests

from sip_harness import answered, hang_up, invite, pause, rtp_stream, scenario, send  # noqa: E402
from timing import median as med  # noqa: E402
from timing import percentile  # noqa: E402

from tierline.audio.g711 import ulaw_decode, ulaw_encode  # noqa: E402

GAP_S = 2.0
HANGOVER_MS = 600


def data_dir() -> Path:
    base = Path(os.environ.get("TIERLINE_DATA", ROOT.parent / "shared" / "data"))
    return base / "aishell1_sample"


def make_calls(folder: Path, pool: int, clips: int) -> list[dict]:
    """``pool`` calls of ``clips`` AISHELL clips each (the longer sentences, at a phone line's
    level), as μ-law for sipp and as the same μ-law decoded to WAV for the replay reference, so
    both paths hear identical samples."""
    rows = [line.split("\t") for line in
            (data_dir() / "selected_60.tsv").read_text(encoding="utf-8").splitlines()[1:]]
    rows = [utt for utt, text in rows if len(text) >= 10]
    calls = []
    for k in range(pool):
        parts = [np.zeros(8000, dtype=np.float32)]
        for utt in rows[k * clips : (k + 1) * clips]:
            audio, rate = sf.read(str(data_dir() / "wav" / f"{utt}.wav"), dtype="float32")
            audio = soxr.resample(audio, rate, 8000)
            audio *= 0.5 / max(1e-6, float(np.abs(audio).max()))  # peak -6 dBFS
            parts += [audio, np.zeros(int(8000 * GAP_S), np.float32)]
        pcm = np.clip(np.concatenate(parts) * 32768, -32768, 32767).astype(np.int16)
        codes = ulaw_encode(pcm)
        raw = folder / f"call{k}.ul"
        raw.write_bytes(codes.tobytes())
        wav = folder / f"call{k}.wav"
        sf.write(str(wav), ulaw_decode(codes), 8000, subtype="PCM_16")
        calls.append({"name": f"call{k}", "wav": wav, "raw": raw, "seconds": len(pcm) / 8000})
    return calls


def reference(calls: list[dict], models) -> None:
    """What `tierline replay` decides on each call (the expected decision)."""
    from tierline.agent.replay import replay_file
    from tierline.agent.session import CallSession
    from tierline.segmentation.features import CustomerProfile

    for call in calls:
        decided, margins = set(), [1.0]
        pcm, _ = sf.read(str(call["wav"]), dtype="int16")
        shifted = call["wav"].with_suffix(".shifted.wav")
        sf.write(str(shifted), np.concatenate([np.zeros(80, np.int16), pcm]), 8000,
                 subtype="PCM_16")
        for path in (call["wav"], shifted):
            session = CallSession(models, CustomerProfile(), {"id": call["name"]})
            record, _ = replay_file(path, session)
            out = record.to_dict()
            decided.add((out["final_tier"], out["route"]["action"], out["route"]["queue"],
                         len(out["turns"])))
            for turn in out["turns"]:
                top = sorted(turn["tier"]["scores"].values(), reverse=True)
                margins.append(top[0] - top[1])
        *call["expected"], call["turns"] = sorted(decided)[0]
        call["expected"] = tuple(call["expected"])
        call["stable"] = len(decided) == 1
        call["margin"] = round(min(margins), 3)


class RssWatch:
    """Samples this process's resident memory every 0.5 s; the peak."""

    def __init__(self) -> None:
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            for line in Path("/proc/self/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    self.peak = max(self.peak, int(line.split()[1]) * 1024)
            time.sleep(0.5)

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak


def run_level(n: int, calls: list[dict], endpoint, folder: Path) -> dict:
    """N simultaneous calls; per-call correctness, latency, CPU, memory, time split."""
    before = len(endpoint.manager.records)
    procs = []
    watch = RssWatch()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    media = 40000 + 200 * n
    for i in range(n):
        call = calls[i % len(calls)]
        offer = invite(user=f"bench{i}", formats="0 101", port="[rtpstream_audio_port]",
                       rtpmaps="a=rtpmap:0 PCMU/8000\na=rtpmap:101 telephone-event/8000")
        ms = int(call["seconds"] * 1000) + 4000
        xml = scenario(send(offer), answered(), rtp_stream(call["raw"], 0), pause(ms), hang_up())
        path = folder / f"n{n}_{i}.xml"
        path.write_text(xml, encoding="latin-1")
        procs.append((call, subprocess.Popen(
            ["sipp", "-sf", str(path), f"127.0.0.1:{endpoint.port}", "-m", "1",
             "-i", "127.0.0.1", "-mp", str(media + 10 * i), "-nostdin",
             "-timeout", f"{ms // 1000 + 90}s", "-timeout_error"],
            cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)))
    codes = [p.wait() for _, p in procs]
    records = endpoint.wait_records(before + n, timeout=300)[before:]
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    rss = watch.stop()
    by_user = {r["call"]["sip"]["from"].split(":")[1].split("@")[0]: r for r in records}
    ok, turns, underruns = [], [], 0
    for i, (call, _) in enumerate(procs):
        rec = by_user.get(f"bench{i}")
        got = rec and (rec["final_tier"], rec["route"]["action"], rec["route"]["queue"])
        ok.append(bool(rec) and codes[i] == 0 and got == call["expected"]
                  and len(rec["turns"]) == call["turns"])
        turns += rec["turns"] if rec else []
        underruns += rec["call"]["sip"]["rtp"]["underruns"] if rec else 0
    lat = {k: [t["latency_ms"][k] for t in turns] for k in ("asr", "nlu", "tier", "decision")}
    wait = [d - a - n_ - t for d, a, n_, t in zip(lat["decision"], lat["asr"], lat["nlu"],
                                                  lat["tier"], strict=True)]

    def p95(xs):
        return percentile(xs, 95)

    return {"calls": n, "all_expected": all(ok), "calls_ok": sum(ok), "sipp_exit": codes,
            "turns": len(turns), "p95_decision_ms": p95(lat["decision"]),
            "median_decision_ms": med(lat["decision"]),
            "median_asr_ms": med(lat["asr"]), "p95_asr_ms": p95(lat["asr"]),
            "median_wait_ms": med(wait), "p95_wait_ms": p95(wait),
            "median_nlu_ms": med(lat["nlu"]), "median_tier_ms": med(lat["tier"]),
            "cpu_s": round(cpu, 1), "wall_s": round(wall, 1),
            "cpu_s_per_call": round(cpu / n, 2),
            "cpu_per_call_pct_of_core": round(100 * cpu / n / wall, 1),
            "peak_rss_mb": round(rss / 2**20),
            "underruns_per_call": round(underruns / n, 1),
            "decisions": [by_user[u]["final_tier"] for u in sorted(by_user)]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-calls", type=int, default=6)
    parser.add_argument("--clips", type=int, default=3, help="AISHELL clips (turns) per call")
    parser.add_argument("--pool", type=int, default=4, help="distinct calls")
    parser.add_argument("--margin", type=float, default=0.1,
                        help="leave out calls this close to a tier boundary (see above)")
    parser.add_argument("--target-ms", type=float, default=1500.0)
    parser.add_argument("--no-readings", action="store_true",
                        help="Whisper base's beam alone (no call-centre decoder readings)")
    parser.add_argument("--json", metavar="OUT")
    args = parser.parse_args()
    if not (data_dir() / "selected_60.tsv").is_file():
        print(f"bench_sip: AISHELL sample not found in {data_dir()} (set TIERLINE_DATA)",
              file=sys.stderr)
        return 2
    from tierline.agent.session import Models
    from tierline.agent.sip.config import parse
    from tierline.agent.sip.server import BackgroundEndpoint, CallManager
    from tierline.audio.prosody import prewarm
    from tierline.dialects.asr import AsrConfig, load_whisper
    from tierline.nlu.pipeline import Nlu

    folder = Path(tempfile.mkdtemp(prefix="bench-sip-"))
    t0 = time.perf_counter()
    models = Models(nlu=Nlu(), asr=load_whisper(None, AsrConfig(cpu_threads=2),
                                                       not args.no_readings))
    prewarm()
    print(f"models loaded in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    candidates = make_calls(folder, 2 * args.pool, args.clips)
    reference(candidates, models)
    for c in candidates:
        print(f"{c['name']}: {c['seconds']:.1f} s, {c['turns']} turns, replay decides "
              f"{c['expected']}, tier margin {c['margin']}, same at +10 ms: {c['stable']}",
              file=sys.stderr)
    calls = [c for c in candidates if c["stable"] and c["margin"] >= args.margin][: args.pool]
    print(f"pool: {[c['name'] for c in calls]}", file=sys.stderr)
    config = parse({"server": {"host": "127.0.0.1", "max_calls": args.max_calls + 2,
                               "records_dir": str(folder / "records"),
                               "recordings_dir": str(folder / "rec"),
                               "callbacks_file": str(folder / "callbacks.jsonl"),
                               "no_rtp_timeout_s": 60},
                    "tts": {"sample_rate": 8000}}, "bench")
    endpoint = BackgroundEndpoint(CallManager(config, models, port=0))
    results, best, correct = [], 0, 0
    try:
        for n in range(1, args.max_calls + 1):
            r = run_level(n, calls, endpoint, folder)
            r["passes"] = r["all_expected"] and r["p95_decision_ms"] <= args.target_ms
            results.append(r)
            print(json.dumps(r), file=sys.stderr)
            if not r["all_expected"]:
                break
            correct = n
            best = n if r["passes"] and best == n - 1 else best
    finally:
        endpoint.close()
    print(f"\n{'N':>2} {'ok':>5} {'p95 dec':>8} {'med dec':>8} {'med asr':>8} "
          f"{'med wait':>8} {'CPU/call':>9} {'RSS':>7}")
    for r in results:
        print(f"{r['calls']:>2} {r['calls_ok']:>2}/{r['calls']:<2} {r['p95_decision_ms']:>8.0f} "
              f"{r['median_decision_ms']:>8.0f} {r['median_asr_ms']:>8.0f} "
              f"{r['median_wait_ms']:>8.0f} {r['cpu_s_per_call']:>8.1f}s "
              f"{r['peak_rss_mb']:>5}MB")
    print(f"largest N with every call as expected and p95 decision <= {args.target_ms:.0f} ms: "
          f"{best}; with every call as expected: {correct}")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps({"largest_n": best, "largest_n_correct": correct,
                                               "pool": [{k: c[k] for k in ("name", "seconds",
                                                         "turns", "expected", "margin",
                                                                   "stable")}
                                                        for c in calls],
                                               "readings": not args.no_readings,
                                               "levels": results,
                                               "hangover_ms": HANGOVER_MS}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
