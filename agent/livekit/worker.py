"""The Tierline agent worker: an ``AgentServer`` with explicit dispatch, for live and offline calls.

Models load once per job process in :func:`setup_process` (livekit's setup/prewarm function).
:func:`entrypoint` runs one call: a live SIP caller in a LiveKit room, or — for
`tierline worker offline` — a recording fed through a file input inside a simulated job of the
real process pool (``AgentServer.run(devmode=True, unregistered=True)`` + ``simulate_job``).
Every job process is a call of its own, with its own inference queue; the queues share the
worker's decode budget (:mod:`tierline.dialects.decode_slots`), so the box runs no more decodes
at once than it has ASR threads, however many calls it holds. The load reported to LiveKit
(:func:`make_load_fnc`) counts calls, CPU and the decodes waiting for that budget.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
from pathlib import Path
from typing import Any

from livekit import rtc
from livekit.agents import AgentServer, JobContext, JobExecutorType, JobProcess, utils
from livekit.agents.voice import room_io

from tierline.agent.livekit.agent import TierlineAgent
from tierline.agent.livekit.call import make_session, run_file_call
from tierline.agent.livekit.config import LiveKitConfig, load_config
from tierline.agent.livekit.ledger import CallLedger
from tierline.agent.livekit.prompts import Prompts
from tierline.agent.livekit.telephony import Telephony
from tierline.agent.session import CallSession, Models

logger = logging.getLogger("tierline.livekit")

ENV_CONFIG = "TIERLINE_LIVEKIT_CONFIG"
ENV_ASR_MODEL = "TIERLINE_ASR_MODEL"
ENV_ASR_THREADS = "TIERLINE_ASR_THREADS"
ENV_ASR_READINGS = "TIERLINE_ASR_READINGS"
"""The call-centre decoder's directory, or empty for none; unset: the bundled one when
``TIERLINE_ASR_MODEL`` is unset too (:func:`tierline.dialects.models.resolve_readings_model`)."""
ENV_DIALECT = "TIERLINE_DIALECT_ID"
"""``0`` turns dialect identification off (default on with the bundled Whisper base)."""
ENV_DECODE_SLOTS = "TIERLINE_DECODE_SLOTS"
"""The worker's decode-slot directory, set by :func:`build_server` for its job processes."""


def _asr_config():
    """The job processes' decoding settings (``TIERLINE_ASR_THREADS`` CPU threads)."""
    from tierline.dialects.asr import AsrConfig

    return AsrConfig(cpu_threads=int(os.environ.get(ENV_ASR_THREADS, "2")))


def decode_slots_dir() -> Path:
    """This worker's decode-slot directory, ``$TIERLINE_HOME/run/decode-<worker pid>``; the
    directories of workers no longer running are removed."""
    import shutil

    from tierline.dialects.models import tierline_home

    run = tierline_home() / "run"
    for old in run.glob("decode-*"):
        pid = old.name.removeprefix("decode-")
        if pid.isdigit() and int(pid) != os.getpid() and not _running(int(pid)):
            shutil.rmtree(old, ignore_errors=True)
    return run / f"decode-{os.getpid()}"


def _running(pid: int) -> bool:
    """Whether process ``pid`` exists (another user's counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def setup_process(proc: JobProcess) -> None:
    """Load the models and configuration once per job process."""
    from tierline.agent.livekit.tts import pinyin_of
    from tierline.dialects.asr import WhisperASR
    from tierline.dialects.decode_slots import BoxSlots
    from tierline.dialects.inference_queue import process_queue
    from tierline.dialects.models import resolve_asr_model, resolve_readings_model
    from tierline.nlu.pipeline import Nlu

    t0 = time.perf_counter()
    model = os.environ.get(ENV_ASR_MODEL) or None
    readings = os.environ.get(ENV_ASR_READINGS)
    reader = resolve_readings_model(model) if readings is None else (readings or None)
    config = _asr_config()
    slots = os.environ.get(ENV_DECODE_SLOTS)
    # the process's queue, made first so every recogniser below shares the box's budget
    process_queue(config.parallel, BoxSlots(slots, config.parallel) if slots else None)
    asr = WhisperASR(resolve_asr_model(model), config, reader)
    if os.environ.get(ENV_DIALECT, "1") != "0":
        from tierline.dialects.call_dialect import with_dialects

        asr = with_dialects(asr, config)  # each job's session tracks its caller's dialect
    proc.userdata["models"] = Models(nlu=Nlu(), asr=asr)
    pinyin_of("预热")  # loads pypinyin's dictionaries now, not on the first prompt
    proc.userdata["config"] = load_config(os.environ.get(ENV_CONFIG) or None)
    proc.userdata["setup_s"] = round(time.perf_counter() - t0, 2)
    logger.info("models loaded in %.2f s (pid %s)", proc.userdata["setup_s"], proc.pid)


def make_load_fnc(max_calls: int, slots_dir: str | Path | None = None, slots: int = 2):
    """Load for LiveKit's dispatcher, in [0, 1]: the largest of

    - active calls / ``max_calls``;
    - CPU use (over half a second);
    - decodes waiting for the box's ``slots`` (summed over the live job processes' stats in
      ``slots_dir``) / (2 × ``slots``): at 1 a new turn waits about two decode times, the
      point at which the SIP endpoint answers 503 (``InferenceQueue.full``).

    The dispatcher sends no new call to a worker whose load is at its ``load_threshold``.
    """
    from livekit.agents.utils.hw import get_cpu_monitor

    from tierline.dialects.decode_slots import box_load
    from tierline.dialects.inference_queue import WAITING_PER_WORKER

    monitor = get_cpu_monitor()
    backlog_capacity = WAITING_PER_WORKER * slots

    def load(server: AgentServer) -> float:
        calls = len(server.active_jobs) / max(1, max_calls)
        decodes = box_load(slots_dir).waiting / backlog_capacity if slots_dir else 0.0
        return min(1.0, max(calls, monitor.cpu_percent(interval=0.5), decodes))

    return load


def build_server(config: LiveKitConfig, *, devmode: bool = False,
                 port: int | None = None, max_retry: int = 16) -> AgentServer:
    """The AgentServer for this deployment (explicit dispatch by ``agent_name``)."""
    w = config.worker
    slots_dir = decode_slots_dir()
    os.environ[ENV_DECODE_SLOTS] = str(slots_dir)  # before the job processes' forkserver starts
    server = AgentServer(
        setup_fnc=setup_process,
        load_fnc=make_load_fnc(w.max_calls, slots_dir, _asr_config().parallel),
        load_threshold=w.load_threshold,
        num_idle_processes=1 if devmode else min(2, w.max_calls),
        initialize_process_timeout=180.0,
        job_executor_type=JobExecutorType.PROCESS,
        # an ephemeral port on all interfaces would differ per address family: loopback then
        host="127.0.0.1" if port == 0 and not w.host else w.host,
        port=w.port if port is None else port,
        max_retry=max_retry,
    )
    server.rtc_session(entrypoint, agent_name=w.agent_name)
    return server


def _job_metadata(ctx: JobContext) -> dict[str, Any]:
    for raw in (ctx.job.metadata, ctx.job.room.metadata):
        if raw:
            try:
                data = json.loads(raw)
            except json.JSONDecodeError:
                logger.warning("job metadata is not JSON; ignored")
                continue
            if isinstance(data, dict):
                return data
    return {}


async def entrypoint(ctx: JobContext) -> None:
    """One call, live or offline."""
    meta = _job_metadata(ctx)
    if "offline" in meta:
        await _offline_call(ctx, meta["offline"])
    else:
        await _live_call(ctx, meta)


# ---------------------------------------------------------------------------------- offline
class _Events:
    """JSON lines the offline parent reads while the job runs."""

    def __init__(self, path: str) -> None:
        self.path = Path(path)

    def write(self, obj: dict[str, Any]) -> None:
        with self.path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(obj, ensure_ascii=False) + "\n")


async def _offline_call(ctx: JobContext, job: dict[str, Any]) -> None:
    from tierline.agent.clikit import turn_line
    from tierline.audio.vad import EndpointerConfig
    from tierline.segmentation.features import CustomerProfile, load_customer

    events = _Events(job["events"])
    try:
        models: Models = ctx.proc.userdata["models"]
        config: LiveKitConfig = ctx.proc.userdata["config"]
        path = job.get("customer_path")
        customer = load_customer(path) if path else CustomerProfile()
        call = dict(job["call"])
        call["livekit_job"] = ctx.job.id
        session = CallSession(models, customer, call, config.policy())
        recorder = _recorder(session, customer, None)

        def on_turn(turn) -> None:
            if recorder is not None:
                recorder.turn(turn, session.route)
            events.write({"event": "turn", "line": turn_line(turn)})

        result = await run_file_call(
            job["audio"], session, config, speed=float(job.get("speed", 1.0)),
            endpointer=EndpointerConfig(aggressiveness=int(job.get("vad_aggressiveness", 2))),
            channel=job.get("channel", "caller"), caller_channel=int(job.get("caller_channel", 1)),
            on_turn=on_turn)
        if recorder is not None:
            recorder.finish(result.record.to_dict(), result.error)
        info = session.record.call.setdefault("livekit", {})
        info.update({"agent_name": config.worker.agent_name, "worker_pid": os.getpid(),
                     "models_loaded_s": ctx.proc.userdata.get("setup_s")})
        events.write({"event": "record", "record": result.record.to_dict(),
                      "error": result.error})
    except Exception as exc:
        logger.exception("offline call failed")
        events.write({"event": "error", "error": f"{type(exc).__name__}: {exc}"})
    finally:
        ctx.shutdown("offline call finished")


async def run_offline(job: dict[str, Any], config_path: str | None, *,
                      on_event=None, timeout: float = 900.0) -> dict[str, Any]:
    """Run one recorded call as a simulated job of a real, unregistered AgentServer.

    Args:
        job: What the job needs: audio, customer, call metadata, speed, events file.
        config_path: The LiveKit configuration file (None: defaults).
        on_event: Called with every event the job writes (turn lines, the record).
        timeout: Longest run, seconds.

    Returns:
        The last event: ``{"event": "record", ...}`` or ``{"event": "error", ...}``.
    """
    from livekit.protocol import models

    config = load_config(config_path)
    if config_path:
        os.environ[ENV_CONFIG] = str(Path(config_path).resolve())
    events = Path(job["events"])
    events.write_text("", encoding="utf-8")
    server = build_server(config, devmode=True, port=0)
    started = asyncio.Event()
    server.on("worker_started", lambda *_: started.set())
    run_task = asyncio.create_task(server.run(devmode=True, unregistered=True))
    last: dict[str, Any] = {"event": "error", "error": "the job wrote no result"}
    try:
        waiter = asyncio.create_task(started.wait())
        done, _ = await asyncio.wait({waiter, run_task}, timeout=60,
                                     return_when=asyncio.FIRST_COMPLETED)
        waiter.cancel()
        if run_task in done:
            run_task.result()
        if not started.is_set():
            raise RuntimeError("the agent worker did not start within 60 s")
        room = f"offline-{Path(job['audio']).stem}"
        await server.simulate_job(room, fake_job=True, room_info=models.Room(
            sid=utils.shortuuid("RM_offline_"), name=room,
            metadata=json.dumps({"offline": job}, ensure_ascii=False)))
        offset, deadline, seen_job = 0, time.monotonic() + timeout, False
        while time.monotonic() < deadline:
            await asyncio.sleep(0.1)
            offset, items = _read_new(events, offset)
            for item in items:
                last = item
                if on_event is not None:
                    on_event(item)
            seen_job = seen_job or bool(server.active_jobs)
            if last.get("event") in ("record", "error") and not server.active_jobs:
                break
            if seen_job and not server.active_jobs and not items:
                offset, items = _read_new(events, offset)
                for item in items:
                    last = item
                    if on_event is not None:
                        on_event(item)
                break
        else:
            last = {"event": "error", "error": f"the call did not finish within {timeout:.0f} s"}
    finally:
        await server.aclose()
        if not run_task.done():
            run_task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await run_task
    return last


def _read_new(path: Path, offset: int) -> tuple[int, list[dict[str, Any]]]:
    try:
        with path.open("rb") as f:
            f.seek(offset)
            data = f.read()
    except FileNotFoundError:
        return offset, []
    end = data.rfind(b"\n") + 1
    lines = data[:end].decode("utf-8").splitlines()
    return offset + end, [json.loads(line) for line in lines if line.strip()]


# ---------------------------------------------------------------------------------- live
async def _live_call(ctx: JobContext, meta: dict[str, Any]) -> None:
    from tierline.segmentation.features import CustomerError, CustomerProfile, parse_customer

    models: Models = ctx.proc.userdata["models"]
    config: LiveKitConfig = ctx.proc.userdata["config"]
    await ctx.connect()
    caller = await ctx.wait_for_participant(
        kind=[rtc.ParticipantKind.PARTICIPANT_KIND_SIP,
              rtc.ParticipantKind.PARTICIPANT_KIND_STANDARD])
    try:
        customer = parse_customer(meta["customer"]) if meta.get("customer") else CustomerProfile()
    except CustomerError as exc:
        logger.error("dispatch metadata has a bad customer (%s); treating caller as unknown", exc)
        customer = CustomerProfile()
    number = caller.attributes.get("sip.phoneNumber", "")
    call = {"id": ctx.room.name, "audio": None, "customer": customer.id or None,
            "transport": "livekit", "realtime": True,
            "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    session_call = CallSession(models, customer, call, config.policy())
    recorder = _recorder(session_call, customer, number or None)
    ledger = CallLedger()
    telephony = Telephony(ctx.api, config)

    async def transfer(queue: str, headers: dict[str, str], on_retry):
        return await telephony.transfer(ctx.room.name, caller.identity, queue, headers, on_retry)

    is_sip = caller.kind == rtc.ParticipantKind.PARTICIPANT_KIND_SIP
    agent = TierlineAgent(session_call, ledger, Prompts(config, session_call),
                          transfer=transfer if is_sip else None,
                          callbacks_file=config.worker.callbacks_file, with_llm=bool(config.llm),
                          on_turn=recorder.follow(session_call) if recorder else None)
    agent.info.update({"mode": "live", "caller_identity": caller.identity,
                       "caller_number": number, "job": ctx.job.id,
                       "agent_name": config.worker.agent_name})
    session = make_session(session_call, config, ledger)

    @ctx.room.on("sip_dtmf_received")
    def _on_dtmf(ev: rtc.SipDTMF) -> None:
        agent.on_dtmf(ev.digit)

    @ctx.room.on("participant_disconnected")
    def _on_left(p: rtc.RemoteParticipant) -> None:
        if p.identity == caller.identity:
            ledger.hung_up.set()

    async def finish(reason: str = "") -> None:
        _complete_record(session_call, ledger, agent, reason)
        _store_record(session_call, config)
        if recorder is not None:
            await asyncio.to_thread(recorder.finish, session_call.record.to_dict())

    ctx.add_shutdown_callback(finish)
    await session.start(agent, room=ctx.room, room_options=room_io.RoomOptions(
        participant_identity=caller.identity, close_on_disconnect=True))


def _complete_record(call: CallSession, ledger: CallLedger, agent: TierlineAgent,
                     reason: str) -> None:
    """Decide transcribed-but-uncommitted speech of a caller who hung up mid-turn."""
    left = ledger.take_turn()
    if left:
        logger.warning("caller hung up mid-turn: deciding %d transcribed utterance(s)", len(left))
        from tierline.agent.livekit.agent import merge_heard

        call.on_text(**merge_heard(left))
    agent.info["hangup_mid_turn"] = bool(left)
    agent.info["ended"] = reason or "session closed"


def _recorder(session: CallSession, customer, phone: str | None):
    """The call's CRM recorder (turns committed as they are decided), or None when the
    database cannot be opened (logged: the call goes on, calls.jsonl still gets it)."""
    try:
        from tierline.crm.store import CallStore

        return CallStore().for_session(session, customer, transport="livekit", phone=phone)
    except Exception as exc:  # the store must never cost a call
        logger.error("call %s not written to the CRM store: %s", session.record.call["id"], exc)
        return None


def _store_record(call: CallSession, config: LiveKitConfig) -> None:
    """Our own store: one JSON line per call in records_dir/calls.jsonl."""
    path = Path(config.worker.records_dir) / "calls.jsonl"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(call.record.to_dict(), ensure_ascii=False) + "\n")
    except OSError as exc:
        logger.error("cannot store call record in %s: %s", path, exc)


# ---------------------------------------------------------------------------------- start
class ServerUnreachable(ConnectionError):
    """LIVEKIT_URL is missing or the LiveKit server does not answer."""


def livekit_env() -> tuple[str, str, str]:
    """LIVEKIT_URL, LIVEKIT_API_KEY and LIVEKIT_API_SECRET from the environment.

    Raises:
        ServerUnreachable: one of them is not set.
    """
    names = ("LIVEKIT_URL", "LIVEKIT_API_KEY", "LIVEKIT_API_SECRET")
    values = [os.environ.get(n, "").strip() for n in names]
    missing = [n for n, v in zip(names, values, strict=True) if not v]
    if missing:
        raise ServerUnreachable(f"{', '.join(missing)} not set: export the LiveKit server URL "
                                "and API credentials (see docs/livekit.md)")
    return values[0], values[1], values[2]


async def check_server(url: str, timeout: float = 5.0) -> None:
    """GET the server's HTTP root (LiveKit answers 200 "OK") before registering.

    Raises:
        ServerUnreachable: bad URL, connection refused, timeout or a non-2xx answer.
    """
    import aiohttp
    from yarl import URL

    http = URL(url)
    if http.scheme not in ("ws", "wss", "http", "https") or not http.host:
        raise ServerUnreachable(f"LIVEKIT_URL must be ws(s):// or http(s)://host, not {url!r}")
    http = http.with_scheme({"ws": "http", "wss": "https"}.get(http.scheme, http.scheme))
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as s, \
                s.get(http.with_path("/")) as resp:
            if resp.status >= 400:
                raise ServerUnreachable(f"LiveKit server at {url} answered HTTP {resp.status}")
    except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
        reason = "timed out" if isinstance(exc, asyncio.TimeoutError) else str(exc) or type(
            exc).__name__
        raise ServerUnreachable(f"cannot reach LiveKit server at {url}: {reason}") from None


async def serve(config: LiveKitConfig, port: int | None = None, max_retry: int = 3) -> None:
    """Register with the LiveKit server and take calls until SIGINT/SIGTERM.

    Raises:
        ServerUnreachable: the server cannot be reached, before or after start-up.
    """
    import signal

    url, _key, _secret = livekit_env()
    await check_server(url)
    server = build_server(config, port=port, max_retry=max_retry)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    run_task = asyncio.create_task(server.run(devmode=False))
    stop_task = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({run_task, stop_task}, return_when=asyncio.FIRST_COMPLETED)
        if run_task.done():
            exc = run_task.exception()
            if exc is not None:
                raise ServerUnreachable(f"lost the LiveKit server at {url}: {exc}") from None
            return
        logger.info("draining: waiting for active calls to end")
        with contextlib.suppress(asyncio.TimeoutError):
            await server.drain(timeout=config.worker.drain_timeout_s)
    finally:
        stop_task.cancel()
        await server.aclose()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await run_task
