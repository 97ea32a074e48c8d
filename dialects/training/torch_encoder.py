"""Whisper's audio encoder in torch, read from CTranslate2 weights, with LoRA adapters.

Training only (the ``train`` extra). The module reproduces CTranslate2's Whisper encoder: two
GELU convolutions over the log-mel frames (the second with stride 2), the stored positional
encodings cut to the window's length, pre-norm self-attention layers with a fused QKV matrix
and a GELU feed-forward block, then a final layer norm. Any window of up to 30 s works, as in
CTranslate2, so a student can be trained on the window the runtime gives it. Every weight is
frozen; the attention and feed-forward matrices get trainable low-rank updates
(:class:`tierline.dialects.training.torch_decoder.LoRALinear`), which start at zero.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from tierline.dialects.training.torch_decoder import LoRALinear

ADAPTED = ("self_attention/linear_0", "self_attention/linear_1", "ffn/linear_0", "ffn/linear_1")
"""Encoder matrices of each layer that get an update."""


def _frozen(array: np.ndarray) -> nn.Parameter:
    return nn.Parameter(torch.tensor(np.asarray(array, np.float32)), requires_grad=False)


class WhisperEncoder(nn.Module):
    """Whisper's encoder from CTranslate2 variables (``encoder/...``).

    Args:
        variables: The model file's variables by name.
        rank: LoRA rank of the adapted matrices (0: none, the encoder as shipped).
        alpha: LoRA scale numerator.
    """

    def __init__(self, variables: Mapping[str, np.ndarray], rank: int = 0,
                 alpha: float = 32.0) -> None:
        super().__init__()

        def var(name: str) -> np.ndarray:
            return variables["encoder/" + name]

        self.heads = int(var("num_heads"))
        self.conv1_w, self.conv1_b = _frozen(var("conv1/weight")), _frozen(var("conv1/bias"))
        self.conv2_w, self.conv2_b = _frozen(var("conv2/weight")), _frozen(var("conv2/bias"))
        self.register_buffer("positions", torch.tensor(
            np.asarray(var("position_encodings/encodings"), np.float32)))
        names = {k.split("/")[1] for k in variables if k.startswith("encoder/layer_")}
        self.n_layers = sum(1 for n in names if n[len("layer_"):].isdigit())
        self.linears = nn.ModuleDict()
        self.norms = nn.ParameterDict()
        for i in range(self.n_layers):
            for lin in ADAPTED:
                name = f"layer_{i}/{lin}"
                self.linears[_key(name)] = LoRALinear(var(name + "/weight"), var(name + "/bias"),
                                                      rank, alpha)
            for block in ("self_attention", "ffn"):
                for part in ("gamma", "beta"):
                    name = f"layer_{i}/{block}/layer_norm/{part}"
                    self.norms[_key(name)] = _frozen(var(name))
        self.norms["final__gamma"] = _frozen(var("layer_norm/gamma"))
        self.norms["final__beta"] = _frozen(var("layer_norm/beta"))

    def _norm(self, x: torch.Tensor, prefix: str) -> torch.Tensor:
        return F.layer_norm(x, x.shape[-1:], self.norms[prefix + "__gamma"],
                            self.norms[prefix + "__beta"], eps=1e-5)

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        """Encoder states.

        Args:
            mel: (batch, mels, frames) log-mel features, frames even and at most 3000.

        Returns:
            (batch, frames / 2, width) states.
        """
        x = F.gelu(F.conv1d(mel, self.conv1_w, self.conv1_b, padding=1))
        x = F.gelu(F.conv1d(x, self.conv2_w, self.conv2_b, stride=2, padding=1))
        x = x.transpose(1, 2) + self.positions[: mel.shape[-1] // 2]
        batch, steps, width = x.shape

        def heads(t: torch.Tensor) -> torch.Tensor:
            return t.view(batch, steps, self.heads, width // self.heads).transpose(1, 2)

        for i in range(self.n_layers):
            layer = f"layer_{i}"
            h = self._norm(x, _key(f"{layer}/self_attention/layer_norm"))
            q, k, v = self.linears[_key(f"{layer}/self_attention/linear_0")](h).split(width, -1)
            a = F.scaled_dot_product_attention(heads(q), heads(k), heads(v))
            x = x + self.linears[_key(f"{layer}/self_attention/linear_1")](
                a.transpose(1, 2).reshape(batch, steps, width))
            h = self._norm(x, _key(f"{layer}/ffn/layer_norm"))
            h = F.gelu(self.linears[_key(f"{layer}/ffn/linear_0")](h))
            x = x + self.linears[_key(f"{layer}/ffn/linear_1")](h)
        return self._norm(x, "final")

    def factors(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """The trained updates by CTranslate2 variable name (``encoder/.../weight``)."""
        return {f"encoder/{key.replace('__', '/')}/weight": module.factors()
                for key, module in self.linears.items() if module.rank}


def _key(name: str) -> str:
    return name.replace("/", "__")  # ModuleDict keys cannot hold "." or "/"
