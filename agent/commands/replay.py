"""`tierline replay AUDIO...`: recorded calls through VAD → Whisper → NLU → tier → route."""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from tierline.agent.clikit import (
    UsageError,
    add_asr_flags,
    add_endpointing_flags,
    add_nlu_flags,
    emit,
    endpointing,
    load_asr,
    load_nlu,
    open_out,
    summary_line,
    turn_line,
)
from tierline.core.errors import EXIT_BAD_INPUT, TierlineError, one_line


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("replay", help="replay recorded calls through the pipeline")
    p.add_argument("audio", nargs="+", metavar="AUDIO")
    p.add_argument("--customer", metavar="C.json",
                   help="customer CRM JSON (default: AUDIO's sibling NAME.customer.json)")
    p.add_argument("--json", metavar="OUT|-", help="write one JSON object per call")
    p.add_argument("--report", metavar="OUT.html",
                   help="write an HTML report (turn audio in OUT_files/ beside it)")
    p.add_argument("--report-agent", choices=("text", "audio", "off"), default="text",
                   help="the other channel of stereo calls in the report: transcribed (text, "
                        "default), clips only (audio) or left out (off)")
    p.add_argument("--realtime", action="store_true", help="pace frames at 1x real time")
    p.add_argument("--jobs", type=int, metavar="N",
                   help="files replayed at once (default: one per ASR thread, --threads); "
                        "each call's lines are printed when it is done, in the order given")
    p.add_argument("--channel", default="caller",
                   help="caller | agent | channel number (default caller)")
    p.add_argument("--caller-channel", type=int, default=1,
                   help="caller's channel in stereo recordings (default 1; agent is 0)")
    p.add_argument("--out-of-language-queue", metavar="QUEUE",
                   choices=["care", "senior_sales", "retention", "general"],
                   help="transfer a caller whose turn is in a language the bot does not read "
                        "(not Mandarin or Cantonese) to this queue (default: the bot keeps "
                        "the call)")
    p.add_argument("--db", metavar="URL|FILE",
                   help="CRM database the calls are written to, turn by turn (default "
                        "TIERLINE_DB_URL, else $TIERLINE_HOME/crm.sqlite3)")
    p.add_argument("--no-store", action="store_true",
                   help="do not write the calls to the CRM database")
    add_endpointing_flags(p)
    add_asr_flags(p)
    add_nlu_flags(p)
    p.set_defaults(func=run)


def _parse_channel(value: str) -> str | int:
    if value in ("caller", "agent"):
        return value
    try:
        return int(value)
    except ValueError:
        raise UsageError(f"--channel must be caller, agent or a channel number, not {value!r}") \
            from None


def _customer_for(audio: Path, explicit: str | None):
    """The explicit --customer file, else AUDIO's sibling NAME.customer.json, else unknown."""
    from tierline.segmentation.features import CustomerProfile, load_customer

    if explicit:
        return load_customer(explicit)
    sibling = audio.with_name(audio.stem + ".customer.json")
    return load_customer(sibling) if sibling.is_file() else CustomerProfile()


def _expected_for(audio: Path) -> dict | None:
    """A sample's NAME.expected.json (tier and route it must reach), if present."""
    sibling = audio.with_name(audio.stem + ".expected.json")
    if sibling.is_file():
        try:
            return json.loads(sibling.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            return None
    return None


def call_id(path: Path) -> str:
    """A call's unique id: the file stem and a hash of its content and absolute path, so
    ``x.ul`` and ``x.al``, or two folders' ``call1.wav``, never share stored evidence."""
    digest = hashlib.blake2b(digest_size=5)
    digest.update(str(path.resolve()).encode("utf-8", "surrogateescape") + b"\0")
    with path.open("rb") as fh:
        while block := fh.read(1 << 20):
            digest.update(block)
    return f"{path.stem}-{digest.hexdigest()}"


@dataclass
class _Prepared:
    """A file ready to replay, or why it cannot be."""

    path: Path
    info: object = None
    customer: object = None
    call: dict = field(default_factory=dict)
    error: str | None = None


def _prepare(path: Path, explicit, debug: bool = False) -> _Prepared:
    """Probe a file and find its customer; any bad input becomes the file's error (raised
    with ``debug``)."""
    from tierline.audio.io import probe

    item = _Prepared(path, call={"id": path.stem, "audio": str(path)})
    try:
        item.info = probe(path)
        item.call["id"] = call_id(path)
        item.customer = explicit or _customer_for(path, None)
    except (TierlineError, OSError) as exc:
        if debug:
            raise
        item.error = one_line(exc)
    return item


def _cut(info, position: float, error: str | None) -> dict | None:
    """How a file was cut short: at the decoded end, with what the header promised."""
    if error is None and not info.cut:
        return None
    claimed = info.claimed_s or info.duration_s
    return {"at_s": round(position, 2), "claimed_s": round(claimed, 2),
            "reason": error or f"the header promises {claimed:.1f} s, the file holds "
                               f"{info.duration_s:.1f} s"}


def _open_store(where: str | None):
    """The CRM store the replayed calls go to (bad URL, refused login: exit 2 now)."""
    from tierline.crm.store import CallStore

    return CallStore(where)


def _start_recording(store, session, customer, path: Path):
    """The call's CRM recorder (None without a store); a call stored before is kept."""
    if store is None:
        return None
    return store.for_session(
        session, customer, transport="replay", recordings=(str(path),),
        on_problem=lambda why: print(f"tierline: warning: {why}", file=sys.stderr, flush=True))


def _finish_recording(recorder, record: dict, error: str | None = None) -> None:
    if recorder is not None and recorder.active:
        recorder.finish(record, error)


class _Stopped(KeyboardInterrupt):
    """The interrupt, as it reaches a call replayed on a worker thread."""


class _Lines:
    """Where one call's lines go: printed at once when files are replayed one at a time,
    else held until the call is done and printed in the order the files were given."""

    def __init__(self, table, live: bool) -> None:
        self.table = table
        self.live = live
        self.held: list[tuple[object, str]] = []

    def say(self, text: str, stream=None) -> None:
        stream = stream or self.table
        if self.live:
            print(text, file=stream, flush=True)
        else:
            self.held.append((stream, text))

    def flush(self) -> None:
        for stream, text in self.held:
            print(text, file=stream, flush=True)
        self.held.clear()


@dataclass
class _Done:
    """One file's replay: its lines, and the call's record or why it failed."""

    item: _Prepared
    lines: _Lines
    result: dict | None = None
    error: str | None = None


def _jobs(args: argparse.Namespace, files: int) -> int:
    """Files replayed at once: ``--jobs``, or by default one per ASR thread (the decode
    queue's slots; at most the number of files)."""
    if args.jobs is not None and args.jobs < 1:
        raise UsageError(f"--jobs must be at least 1, not {args.jobs}")
    return max(1, min(files, args.jobs if args.jobs is not None else args.threads))


def run(args: argparse.Namespace) -> int:
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from tqdm import tqdm

    from tierline.agent.policy import RoutingPolicy
    from tierline.agent.replay import ReplayOptions, replay_file
    from tierline.agent.report import write_report
    from tierline.agent.report_media import MediaOptions, check_target
    from tierline.agent.session import CallSession, Models
    from tierline.segmentation.outcomes import remember_call

    if args.report:
        check_target(args.report)  # before hours of replay, not after
    explicit = _customer_for(Path(args.audio[0]), args.customer) if args.customer else None
    options = ReplayOptions(
        realtime=args.realtime,
        channel=_parse_channel(args.channel),
        caller_channel=args.caller_channel,
        endpointing=endpointing(args),
    )
    items = [_prepare(Path(p), explicit, args.debug) for p in args.audio]  # before models
    store = None if args.no_store else _open_store(args.db)  # a bad database: before models
    good = [i for i in items if i.error is None]
    jobs = _jobs(args, len(good))
    models = Models(nlu=load_nlu(args), asr=load_asr(args)) if good else None
    out, close = open_out(args.json)
    table = sys.stderr if args.json == "-" else sys.stdout
    results: list[dict] = []
    failed = 0
    stop = threading.Event()  # set when the replay is interrupted: workers end their calls

    def replay_one(item: _Prepared) -> _Done:
        done = _Done(item, _Lines(table, live=jobs == 1))
        info, customer = item.info, item.customer
        call = {**item.call, "customer": customer.id or None,
                "sample_rate": info.sample_rate, "channels": info.channels,
                "realtime": args.realtime,
                "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        expected = _expected_for(item.path)
        if expected:
            call["expected"] = expected
        session = CallSession(models, customer, call, RoutingPolicy(
            out_of_language_queue=args.out_of_language_queue))
        recorder = _start_recording(store, session, customer, item.path)
        done.lines.say(f"-- {item.path} ({info.duration_s:.1f} s, {info.sample_rate} Hz, "
                       f"{info.channels} ch) initial tier {session.record.initial_tier.label}")
        bar = tqdm(total=round(info.duration_s, 1), unit="s", file=sys.stderr,
                   disable=None if info.duration_s > 30 and jobs == 1 else True, leave=False,
                   desc=item.path.name)

        def progress(pos: float) -> None:
            if stop.is_set():
                raise _Stopped
            bar.update(round(pos, 1) - bar.n)

        def show(turn) -> None:
            bar.clear()
            done.lines.say(turn_line(turn))
            if recorder is not None:
                recorder.turn(turn, session.route)  # committed now: a crash keeps it

        try:
            record, error = replay_file(item.path, session, options, on_turn=show,
                                        on_progress=progress)
        except (TierlineError, OSError) as exc:
            _finish_recording(recorder, session.record.to_dict(), one_line(exc))
            if args.debug:
                raise
            done.error = one_line(exc)
            return done
        except BaseException:  # interrupted mid-call: say so in the CRM, keep its turns
            _finish_recording(recorder, session.record.to_dict(),
                              "the replay stopped before the end of the call")
            raise
        finally:
            bar.close()
        cut = _cut(info, record.call.get("duration_s", 0.0), error)
        record.call.pop("error", None)
        if cut:
            record.call["cut"] = cut
        done.result = record.to_dict()
        _finish_recording(recorder, done.result)
        done.lines.say(summary_line(item.path.name, done.result) + f" [call {call['id']}]")
        if cut:
            done.lines.say(f"tierline: warning: {item.path}: cut at {cut['at_s']:.1f} s of "
                           f"{cut['claimed_s']:.1f} s ({cut['reason']}); the "
                           f"{len(record.turns)} turns before it are kept", sys.stderr)
        if problem := remember_call(call["id"], session.scorer, customer.id or None,
                                    path=args.db, turns=len(record.turns)):
            done.lines.say(f"tierline: warning: {problem}", sys.stderr)  # for `feedback`
        return done

    def report(done: _Done) -> None:
        nonlocal failed
        done.lines.flush()
        if done.error is not None:
            failed += 1
            result = {"call": done.item.call, "error": done.error}
            results.append(result)
            emit(out, result)
            print(f"tierline: error: {done.item.path}: {done.error}", file=sys.stderr,
                  flush=True)
            return
        results.append(done.result)
        emit(out, done.result)

    pool = ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="replay") if jobs > 1 \
        else None
    pending: list = []
    try:
        if pool is None:
            for item in items:
                report(replay_one(item) if item.error is None
                       else _Done(item, _Lines(table, True), error=item.error))
        else:
            print(f"replaying {len(good)} files, {jobs} at a time", file=sys.stderr, flush=True)
            pending = [(item, pool.submit(replay_one, item) if item.error is None else None)
                       for item in items]
            while pending:  # in the order given, each as soon as it is done
                item, future = pending[0]
                report(future.result() if future is not None
                       else _Done(item, _Lines(table, True), error=item.error))
                pending.pop(0)
    finally:
        if pool is not None:
            stop.set()  # an interrupt: the calls on the line end at their next frame
            pool.shutdown(wait=True, cancel_futures=True)
            for _, future in pending:  # calls that ended before the interrupt keep their JSON
                if future is not None and future.done() and not future.cancelled() \
                        and future.exception() is None:
                    report(future.result())
        if close and out is not None:
            out.close()
        if args.report and results:
            media = MediaOptions(options.channel, options.caller_channel, options.endpointing,
                                 args.report_agent, models.asr if models else None,
                                 on_transcribe=lambda line: print(line, file=sys.stderr))
            write_report(results, args.report, "Tierline replay report", media)
            print(f"report written to {args.report}", file=sys.stderr)
    if failed:
        print(f"tierline: {failed} of {len(items)} file(s) failed", file=sys.stderr)
        return EXIT_BAD_INPUT
    return 0
