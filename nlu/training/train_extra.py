"""The ``train`` extra (torch, transformers, onnx), imported here and nowhere else.

Every training module of the project takes torch and the transformers classes from this module
(``from tierline.nlu.training.train_extra import torch``), so there is one install message,
one pin and one place to look when the extra changes. Importing this module is the check: on
an install without the extra it raises :class:`~tierline.nlu.errors.NluError` (the command line
prints it as one line, exit code 2) naming the missing package and the install commands.

The runtime never imports it, and neither do the trainers' command modules at import time
(``tierline --help`` lists them on a runtime-only install): they import it first thing in
``run``, before any work.
"""

from __future__ import annotations

from tierline.nlu.errors import NluError

try:
    import onnx
    import torch
    import torch.nn.functional as F
    from torch import nn
    from transformers import BertConfig, BertForMaskedLM, BertForSequenceClassification
    from transformers.modeling_outputs import SequenceClassifierOutput
except ImportError as exc:
    raise NluError(
        f"training needs the train extra ({exc.name} is missing): "
        "pip install torch==2.13.0 && pip install -e '.[train]'") from None

__all__ = ["BertConfig", "BertForMaskedLM", "BertForSequenceClassification", "F",
           "SequenceClassifierOutput", "nn", "onnx", "torch"]
