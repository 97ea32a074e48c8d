"""`tierline train MODEL ...`: reproduce a model from the repository (`TRAINERS` lists them).

Each model family provides a trainer module with ``add_arguments(parser)`` and
``run(args) -> int``. Trainer modules reach torch/transformers only inside ``run``, through
:mod:`tierline.nlu.training.train_extra`, which raises an ``NluError`` (one line, exit 2)
naming the ``train`` extra when they are missing, so ``tierline --help`` works on a
runtime-only install.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util

TRAINERS: dict[str, tuple[str, str]] = {
    "nlu": ("tierline.nlu.training.train", "intent and sentiment models (ONNX INT8)"),
    "tier": ("tierline.segmentation.training.train", "tier model (ONNX)"),
    "asr": ("tierline.dialects.training.train_adapter",
            "call-centre decoder adapter of Whisper base (LoRA), or with --dialect "
            "a dialect's adapter from a folder of recordings"),
    "dialect-id": ("tierline.dialects.training.train_dialect_id",
                   "dialect identifier on Whisper encoder states (ONNX)"),
    "turn-end": ("tierline.audio.training.turn_end",
                 "end-of-turn model of the endpointer (words a turn ends on; JSON)"),
    "asr-window": ("tierline.dialects.training.train_window",
                   "short-window encoder of Whisper base, distilled from its 30 s window "
                   "(experimental, not shipped: docs/results.md)"),
}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a model from the repository's data")
    kinds = p.add_subparsers(dest="model", required=True, metavar="MODEL")
    for name, (module_name, what) in TRAINERS.items():
        if importlib.util.find_spec(module_name) is None:
            continue  # this model family has no trainer yet
        module = importlib.import_module(module_name)
        q = kinds.add_parser(name, help=f"train the {what}")
        module.add_arguments(q)
        q.set_defaults(func=module.run)
