"""The SIP endpoint's configuration file (sip.toml; see samples/sip.toml and docs/sip.md).

``[server]``, ``[trunk]`` and ``[transfer]`` are the endpoint's own. ``[tts]``, ``[prompts]``,
``[queues.<name>]`` and ``[dtmf]`` mean exactly what they mean for the LiveKit worker and are
read by the same parser (:func:`tierline.agent.livekit.config.parse_config`), so one prompt or
queue table serves both transports.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from pathlib import Path

from tierline.agent.livekit.config import (
    ConfigError,
    LiveKitConfig,
    _build,
    _section,
    parse_config,
    read_toml,
)
from tierline.agent.sip.sdp import CODECS

SHARED = ("tts", "prompts", "queues", "dtmf")


@dataclass(frozen=True)
class ServerConfig:
    """How the endpoint listens and what it keeps."""

    host: str = "127.0.0.1"
    port: int = 5060
    advertised_address: str = ""
    rtp_port_min: int = 20000
    rtp_port_max: int = 20999
    max_calls: int = 8
    no_rtp_timeout_s: float = 20.0
    max_call_s: float = 3600.0
    jitter_ms: int = 60
    latch_rtp: bool = False
    records_dir: str = "out/sip"
    recordings_dir: str = "out/sip/recordings"
    retention_days: float = 30.0
    callbacks_file: str = "out/sip/callbacks.jsonl"
    customers_dir: str = ""


@dataclass(frozen=True)
class TrunkConfig:
    """The SIP trunk (or PBX) the box talks to."""

    address: str = ""
    allowed_addresses: tuple[str, ...] = ()
    codecs: tuple[str, ...] = ("PCMA", "PCMU")
    from_user: str = "tierline"


@dataclass(frozen=True)
class TransferConfig:
    """How calls reach the human queues."""

    mode: str = "refer"
    timeout_s: float = 30.0


@dataclass(frozen=True)
class SipEndpointConfig:
    """The whole file."""

    server: ServerConfig = field(default_factory=ServerConfig)
    trunk: TrunkConfig = field(default_factory=TrunkConfig)
    transfer: TransferConfig = field(default_factory=TransferConfig)
    shared: LiveKitConfig = field(default_factory=LiveKitConfig)
    source: str = "<defaults>"

    def allowed(self, host: str) -> bool:
        """Whether signalling from ``host`` is accepted (no list: everyone)."""
        if not self.trunk.allowed_addresses:
            return True
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            return False
        return any(ip in ipaddress.ip_network(net, strict=False)
                   for net in self.trunk.allowed_addresses)


def parse(data: dict, where: str = "<config>") -> SipEndpointConfig:
    """Validate a parsed TOML document.

    Raises:
        ConfigError: an unknown section or key, or a value of the wrong kind or range.
    """
    unknown = sorted(set(data) - {"server", "trunk", "transfer", *SHARED})
    if unknown:
        raise ConfigError(f"{where}: unknown section(s): {', '.join(unknown)}")
    server = _build(ServerConfig, _section(data, "server", where), where, "server")
    trunk = _build(TrunkConfig, _section(data, "trunk", where), where, "trunk")
    transfer = _build(TransferConfig, _section(data, "transfer", where), where, "transfer")
    if not 0 < server.port < 65536:
        raise ConfigError(f"{where}: [server] port must be 1-65535")
    if not 1024 <= server.rtp_port_min < server.rtp_port_max < 65536:
        raise ConfigError(f"{where}: [server] needs 1024 <= rtp_port_min < rtp_port_max < 65536")
    if server.max_calls < 1:
        raise ConfigError(f"{where}: [server] max_calls must be at least 1")
    if server.no_rtp_timeout_s < 1:
        raise ConfigError(f"{where}: [server] no_rtp_timeout_s must be at least 1")
    bad = [c for c in trunk.codecs if c.upper() not in CODECS]
    if bad or not trunk.codecs:
        raise ConfigError(f"{where}: [trunk] codecs must be a non-empty list of "
                          f"{' and '.join(CODECS)}, not {list(trunk.codecs)}")
    for net in trunk.allowed_addresses:
        try:
            ipaddress.ip_network(net, strict=False)
        except ValueError:
            raise ConfigError(f"{where}: [trunk] allowed_addresses: {net!r} is no address "
                              "or network") from None
    if transfer.mode not in ("refer", "bridge"):
        raise ConfigError(f"{where}: [transfer] mode must be refer or bridge")
    shared = parse_config({k: v for k, v in data.items() if k in SHARED}, where)
    return SipEndpointConfig(server, trunk, transfer, shared, where)


def load(path: str | Path | None) -> SipEndpointConfig:
    """Read the file (None: defaults, no queue targets)."""
    if path is None:
        return SipEndpointConfig()
    return parse(read_toml(path), str(path))
