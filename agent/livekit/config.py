"""The LiveKit/telephony configuration file: worker, TTS, prompts, queues, SIP trunks, DTMF.

TOML (see samples/livekit.toml). Every value has a default except what only the operator can
know (trunk numbers and addresses, queue targets). A wrong value raises :class:`ConfigError`
naming the key and the file.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from tierline.agent.policy import DEFAULT_QUEUES, RoutingPolicy
from tierline.core.errors import TierlineError


class ConfigError(TierlineError, ValueError):
    """The configuration file is missing, unreadable or has a wrong value."""


DEFAULT_PROMPTS = {
    "greeting": "您好，这里是云帆科技客服，请问有什么可以帮您？",
    "acknowledgement": "好的，我明白了。请问还有什么需要了解的吗？",
    "handoff": "好的，马上为您转接{queue_name}，请稍候。",
    "retry": "正在重新为您接通，请稍候。",
    "fallback": "抱歉，{queue_name}暂时无法接通，我们已经为您登记回电，稍后会有专人联系您。",
    "goodbye": "感谢您的来电，再见。",
}

QUEUE_NAMES = {"care": "客户关怀专员", "senior_sales": "高级销售顾问",
               "retention": "客户成功经理", "general": "人工客服"}


@dataclass(frozen=True)
class Queue:
    """A human queue a call can be transferred to.

    Attributes:
        name: Queue key used by the routing policy.
        target: SIP URI (``sip:user@host``) or phone number (``tel:+86...``); "" = not set.
        spoken: How the bot names the queue to the caller.
        fallback: Queue tried when a transfer here fails, or "" for a callback ticket.
    """

    name: str
    target: str
    spoken: str
    fallback: str = ""


@dataclass(frozen=True)
class SipConfig:
    """LiveKit SIP trunks and the dispatch rule (`tierline sip setup`)."""

    trunk_name: str = "tierline-inbound"
    inbound_numbers: tuple[str, ...] = ()
    allowed_addresses: tuple[str, ...] = ()
    allowed_numbers: tuple[str, ...] = ()
    auth_username: str = ""
    auth_password: str = ""
    krisp_enabled: bool = False
    dispatch_rule_name: str = "tierline-dispatch"
    room_prefix: str = "call-"
    outbound_trunk_name: str = "tierline-outbound"
    outbound_address: str = ""
    outbound_numbers: tuple[str, ...] = ()
    outbound_auth_username: str = ""
    outbound_auth_password: str = ""
    outbound_transport: str = "udp"
    outbound_trunk_id: str = ""
    ringing_timeout_s: float = 30.0
    transfer_ringing_timeout_s: float = 30.0
    play_dialtone: bool = False


@dataclass(frozen=True)
class WorkerConfig:
    """How the agent worker runs."""

    agent_name: str = "tierline"
    max_calls: int = 4
    load_threshold: float = 0.75
    port: int = 8081
    host: str = ""
    records_dir: str = "out/livekit"
    callbacks_file: str = "out/livekit/callbacks.jsonl"
    drain_timeout_s: int = 600


@dataclass(frozen=True)
class TtsConfig:
    """Bot voice: ``espeak`` (offline) or ``module:Class`` of any livekit TTS plugin."""

    plugin: str = "espeak"
    sample_rate: int = 16_000
    voice: str = "cmn-latn-pinyin"
    speed_wpm: int = 150
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class LiveKitConfig:
    """The whole file."""

    worker: WorkerConfig = field(default_factory=WorkerConfig)
    tts: TtsConfig = field(default_factory=TtsConfig)
    prompts: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_PROMPTS))
    queues: dict[str, Queue] = field(default_factory=dict)
    sip: SipConfig = field(default_factory=SipConfig)
    dtmf: dict[str, str] = field(default_factory=lambda: {"0": "request_human"})
    llm: str = ""
    source: str = "<defaults>"
    out_of_language_queue: str | None = None

    def queue(self, name: str) -> Queue:
        """The named queue (target "" when the file does not configure it)."""
        return self.queues.get(name) or Queue(name, "", QUEUE_NAMES.get(name, name))

    def queue_targets(self) -> dict[str, str]:
        """Queue name → target, for the routing policy (unconfigured queues left out)."""
        return {name: q.target for name, q in self.queues.items() if q.target}

    def policy(self) -> RoutingPolicy:
        """The routing policy this file configures (queue targets, ``[routing]``)."""
        return RoutingPolicy(queues=self.queue_targets(),
                             out_of_language_queue=self.out_of_language_queue)


def _section(data: dict, key: str, where: str) -> dict:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: [{key}] must be a table")
    return value


def _build(cls: type, values: dict, where: str, section: str) -> Any:
    known = set(cls.__dataclass_fields__)
    unknown = sorted(set(values) - known)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) in [{section}]: {', '.join(unknown)}")
    defaults = cls()
    out = {}
    for key, value in values.items():
        default = getattr(defaults, key)
        if isinstance(default, tuple):
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ConfigError(f"{where}: [{section}] {key} must be a list of strings")
            value = tuple(value)
        elif isinstance(default, bool):
            if not isinstance(value, bool):
                raise ConfigError(f"{where}: [{section}] {key} must be true or false")
        elif isinstance(default, (int, float)):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ConfigError(f"{where}: [{section}] {key} must be a number")
            if value < 0:
                raise ConfigError(f"{where}: [{section}] {key} must be >= 0, not {value}")
            value = type(default)(value) if isinstance(default, float) else value
        elif isinstance(default, str) and not isinstance(value, str):
            raise ConfigError(f"{where}: [{section}] {key} must be a string")
        out[key] = value
    return cls(**out)


def _target_ok(target: str) -> bool:
    return (target.startswith(("sip:", "sips:", "tel:")) or
            (target.startswith("+") and target[1:].isdigit()))


def parse_config(data: dict, where: str = "<config>") -> LiveKitConfig:
    """Validate a parsed TOML document."""
    known = {"worker", "tts", "prompts", "queues", "sip", "dtmf", "llm", "routing"}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(f"{where}: unknown section(s): {', '.join(unknown)}")
    worker = _build(WorkerConfig, _section(data, "worker", where), where, "worker")
    if not worker.agent_name:
        raise ConfigError(f"{where}: [worker] agent_name must not be empty (explicit dispatch)")
    if not 0 < worker.load_threshold <= 1:
        raise ConfigError(f"{where}: [worker] load_threshold must be in (0, 1]")
    if worker.max_calls < 1:
        raise ConfigError(f"{where}: [worker] max_calls must be at least 1")
    tts_values = dict(_section(data, "tts", where))
    options = tts_values.pop("options", {})
    tts = _build(TtsConfig, tts_values, where, "tts")
    tts = TtsConfig(tts.plugin, tts.sample_rate, tts.voice, tts.speed_wpm, dict(options))
    if tts.plugin == "espeak" and tts.sample_rate not in (8000, 16000):
        raise ConfigError(f"{where}: [tts] sample_rate must be 8000 or 16000")
    prompts = dict(DEFAULT_PROMPTS)
    for key, value in _section(data, "prompts", where).items():
        if key not in DEFAULT_PROMPTS:
            raise ConfigError(f"{where}: unknown prompt '{key}' (known: "
                              f"{', '.join(DEFAULT_PROMPTS)})")
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(f"{where}: prompt '{key}' must be non-empty text")
        prompts[key] = value
    queues = {}
    for name, q in _section(data, "queues", where).items():
        if name not in DEFAULT_QUEUES:
            raise ConfigError(f"{where}: unknown queue '{name}' (known: "
                              f"{', '.join(DEFAULT_QUEUES)})")
        if not isinstance(q, dict):
            raise ConfigError(f"{where}: [queues.{name}] must be a table")
        target = q.get("target", "")
        if target and not _target_ok(str(target)):
            raise ConfigError(f"{where}: [queues.{name}] target must be sip:..., tel:+... or "
                              f"+digits, not {target!r}")
        fallback = q.get("fallback", "")
        if fallback and fallback not in DEFAULT_QUEUES:
            raise ConfigError(f"{where}: [queues.{name}] fallback '{fallback}' is no queue")
        queues[name] = Queue(name, str(target), str(q.get("name", QUEUE_NAMES[name])),
                             str(fallback))
    sip = _build(SipConfig, _section(data, "sip", where), where, "sip")
    if sip.outbound_transport not in ("auto", "udp", "tcp", "tls"):
        raise ConfigError(f"{where}: [sip] outbound_transport must be auto, udp, tcp or tls")
    dtmf = {}
    for digit, intent in _section(data, "dtmf", where).items():
        if digit not in "0123456789*#" or len(digit) != 1:
            raise ConfigError(f"{where}: [dtmf] key {digit!r} is not a DTMF digit")
        dtmf[digit] = str(intent)
    llm = data.get("llm", "")
    if not isinstance(llm, str):
        raise ConfigError(f"{where}: llm must be a model string")
    routing = dict(_section(data, "routing", where))
    out_of_language = routing.pop("out_of_language_queue", None)
    if routing:
        raise ConfigError(f"{where}: unknown [routing] key(s): {', '.join(sorted(routing))}")
    if out_of_language is not None and out_of_language not in DEFAULT_QUEUES:
        raise ConfigError(f"{where}: [routing] out_of_language_queue '{out_of_language}' is "
                          f"no queue (known: {', '.join(DEFAULT_QUEUES)})")
    return LiveKitConfig(worker, tts, prompts, queues, sip, dtmf or {"0": "request_human"},
                         llm, where, out_of_language)


def read_toml(path: str | Path) -> dict:
    """A configuration file's TOML document (one-line :class:`ConfigError` when it cannot be
    read); shared with the SIP endpoint's file."""
    path = Path(path)
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config file {path}: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None


def load_config(path: str | Path | None) -> LiveKitConfig:
    """Read the configuration file (None: built-in defaults, no queue targets)."""
    if path is None:
        return LiveKitConfig()
    return parse_config(read_toml(path), str(path))
