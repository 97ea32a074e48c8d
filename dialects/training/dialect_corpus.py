"""The real dialect recordings in the shared data folder, labelled by family and speaker.

Three manifests describe them (``../shared/data/README.md``): ``asr_manifest.tsv`` (AISHELL
and other Mandarin, WenetSpeech-Yue, WenetSpeech-Chuan), ``unlabeled_or_label_only_audio.tsv``
(clips with a dialect label but no transcript) and ``dialects_more/manifest.tsv`` (wu, chuan,
min, yue, hakka, regional Mandarin). This module turns them into :class:`LabelledClip` rows:

- **family**: one of :data:`tierline.dialects.families.FAMILIES`; regional Mandarin
  (Zhongyuan, Ji-Lu) and the studio customer-service reader are ``mandarin``; English clips
  are left out.
- **speaker**: the group a speaker-disjoint split keeps together. Where a source names the
  speaker it is used (AISHELL's ``S0150``, the manifest's speaker column). WenetSpeech clips
  are named after the source recording (``gd0006277_2929310_2932210``: recording
  ``gd0006277``), and clips of one recording count as one speaker. Where a source gives
  neither, every file of one source set counts as one speaker (``myna_sg_hokkien_input02`` …
  ``input11`` → ``myna_sg_hokkien``): stricter than one speaker per file, since such sets
  are often one person.
- **transcript** and whether a human wrote it: only AISHELL's are human references; the
  WenetSpeech ones come from the datasets' automatic pipelines (confidence 0.8–1.0), the
  DiaMoE prompt texts and the SenseVoice example from their repositories.

A file that appears twice (the same bytes under two paths) is kept once.
"""

from __future__ import annotations

import csv
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from tierline.dialects.families import FAMILIES


@dataclass(frozen=True)
class LabelledClip:
    """One real recording with its dialect family and speaker group.

    Attributes:
        path: Audio file.
        family: Dialect family.
        speaker: Speaker group (module docstring).
        transcript: What was said, in the family's own writing, or "" when unknown.
        human: Whether :attr:`transcript` is a human reference (else automatic or a prompt).
        source: Where the clip comes from (folder of the shared data).
    """

    path: Path
    family: str
    speaker: str
    transcript: str = ""
    human: bool = False
    source: str = ""


_WENET_KEY = re.compile(r"^(.+?)_\d+_\d+$")
_TRAILING_INDEX = re.compile(r"^(.*?)[_-]?(?:input)?\d+$")
_AISHELL = re.compile(r"BAC009(S\d{4})W\d{4}")


def _family_of(label: str) -> str | None:
    """Family of a free-text dialect label in the shared manifests (None: not Chinese)."""
    low = label.lower()
    if low.startswith(("yue", "cantonese")):
        return "yue"
    if low.startswith(("sichuan", "chuan")):
        return "chuan"
    if low.startswith("zh") or "mandarin" in low:
        return "mandarin"
    return None


def _speaker_from_name(stem: str) -> str:
    """A speaker group from a file name when the source names none (module docstring)."""
    aishell = _AISHELL.search(stem)
    if aishell:
        return "aishell_" + aishell.group(1)
    wenet = _WENET_KEY.match(stem)
    if wenet:
        return wenet.group(1)
    indexed = _TRAILING_INDEX.match(stem)
    return indexed.group(1) if indexed and indexed.group(1) else stem


def _rows(path: Path) -> list[dict[str, str]]:
    if not path.is_file():
        return []
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


def _speaker_of(rel: str, row: dict[str, str]) -> str:
    """Speaker group of a row of the two top-level manifests (module docstring)."""
    stem = Path(rel).stem
    key = re.search(r"key (\S+?)\)", row.get("source", ""))
    if key:  # WenetSpeech-Chuan samples are renamed 001.wav ...; the source names the key
        return _speaker_from_name(key.group(1))
    if "BAC009" in stem or rel.startswith(("aishell1_sample/", "wenetspeech")):
        return _speaker_from_name(stem)
    return f"{rel.split('/')[0]}_{stem}"  # no speaker given: one per file


def _from_shared_manifest(data: Path, name: str) -> list[LabelledClip]:
    """Rows of ``asr_manifest.tsv`` or ``unlabeled_or_label_only_audio.tsv``."""
    out = []
    for row in _rows(data / name):
        family = _family_of(row.get("language_dialect", ""))
        if family is None:
            continue
        rel = row["path"]
        provenance = row.get("transcript_provenance", "")
        human = provenance.startswith(("AISHELL human", "reference from test/resources"))
        out.append(LabelledClip(data / rel, family, _speaker_of(rel, row),
                                row.get("transcript", ""), human, rel.split("/")[0]))
    return out


def _from_dialects_more(data: Path) -> list[LabelledClip]:
    out = []
    folder = data / "dialects_more"
    for row in _rows(folder / "manifest.tsv"):
        family = row.get("family", "")
        family = "mandarin" if family.startswith("mandarin") else family
        if family not in FAMILIES:
            continue
        stem = Path(row["path"]).stem
        speaker = row.get("speaker") or _speaker_from_name(stem)
        out.append(LabelledClip(folder / row["path"], family, speaker,
                                row.get("transcript", ""), False, "dialects_more"))
    return out


def _digest(path: Path) -> str:
    return hashlib.blake2b(path.read_bytes(), digest_size=16).hexdigest()


def load_corpus(data: Path) -> list[LabelledClip]:
    """Every labelled Chinese clip of the shared data folder, duplicates removed, in a fixed
    order (manifest order). Missing files are left out."""
    seen: set[str] = set()
    out = []
    for clip in (*_from_shared_manifest(data, "asr_manifest.tsv"),
                 *_from_shared_manifest(data, "unlabeled_or_label_only_audio.tsv"),
                 *_from_dialects_more(data)):
        if not clip.path.is_file():
            continue
        digest = _digest(clip.path)
        if digest in seen:
            continue
        seen.add(digest)
        out.append(clip)
    return out


def write_folder_tsv(clips: list[LabelledClip], family: str, folder: Path) -> int:
    """Write ``folder/transcripts.tsv`` naming the transcribed clips of ``family`` in place
    (absolute paths: the shared audio is not copied), for ``tierline train asr --dialect``.

    Returns:
        Rows written.
    """
    rows = [c for c in clips if c.family == family and c.transcript]
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "transcripts.tsv").open("w", encoding="utf-8", newline="") as fh:
        fh.write("path\ttranscript\tspeaker\n")
        for c in rows:
            fh.write(f"{c.path.resolve()}\t{c.transcript}\t{c.speaker}\n")
    return len(rows)


def main(argv: list[str] | None = None) -> int:
    """``python -m tierline.dialects.training.dialect_corpus FAMILY FOLDER``: a training
    folder (transcripts.tsv only) for one family of the shared data."""
    import argparse

    from tierline.nlu.data import shared_data_dir

    parser = argparse.ArgumentParser(description=main.__doc__.splitlines()[0])
    parser.add_argument("family", choices=FAMILIES)
    parser.add_argument("folder", type=Path)
    parser.add_argument("--data", help="shared data (default $TIERLINE_DATA or ../shared/data)")
    args = parser.parse_args(argv)
    n = write_folder_tsv(load_corpus(shared_data_dir(args.data)), args.family, args.folder)
    print(f"{n} {args.family} clips with a transcript listed in {args.folder}/transcripts.tsv")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
