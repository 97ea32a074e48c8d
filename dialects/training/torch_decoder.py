"""Whisper's text decoder in torch, read from CTranslate2 weights, with LoRA adapters.

Training only (the ``train`` extra, imported through
:mod:`tierline.nlu.training.train_extra`). The module reproduces CTranslate2's pre-norm Whisper
decoder: learned positions, causal self-attention with a fused QKV matrix, cross-attention
over the encoder output with a fused KV matrix, a GELU feed-forward block, a final layer norm
and the output projection tied to the token embeddings. Every weight is frozen; the adapted
matrices get a trainable low-rank update ``B @ A · alpha / rank`` with ``B`` starting at zero,
so an untrained adapter leaves the model exactly as shipped.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from contextlib import nullcontext

import numpy as np

from tierline.nlu.training.train_extra import F, nn, torch

ADAPTED = ("self_attention/linear_0", "self_attention/linear_1", "attention/linear_0",
           "attention/linear_2", "ffn/linear_0", "ffn/linear_1")
"""Decoder matrices that get an update: self-attention QKV and output, cross-attention query
and output, both feed-forward matrices. The cross-attention KV matrix reads the encoder
output and stays frozen, so its product can be computed without gradients."""

_LINEARS = ("self_attention/linear_0", "self_attention/linear_1", "attention/linear_0",
            "attention/linear_1", "attention/linear_2", "ffn/linear_0", "ffn/linear_1")


def _frozen(array: np.ndarray) -> nn.Parameter:
    return nn.Parameter(torch.tensor(np.asarray(array, np.float32)), requires_grad=False)


class LoRALinear(nn.Module):
    """A frozen linear layer with an optional trainable low-rank update."""

    def __init__(self, weight: np.ndarray, bias: np.ndarray, rank: int, alpha: float) -> None:
        super().__init__()
        self.weight = _frozen(weight)
        self.bias = _frozen(bias)
        self.rank = rank
        self.active = True
        if rank:
            fan_in = self.weight.shape[1]
            self.a = nn.Parameter(torch.randn(rank, fan_in) / math.sqrt(fan_in))
            self.b = nn.Parameter(torch.zeros(self.weight.shape[0], rank))
            self.scale = alpha / rank

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.linear(x, self.weight, self.bias)
        if self.rank and self.active:
            y = y + F.linear(F.linear(x, self.a), self.b) * self.scale
        return y

    def factors(self) -> tuple[np.ndarray, np.ndarray]:
        """(a, b · scale): the update is their product."""
        return self.a.detach().numpy().copy(), (self.b.detach() * self.scale).numpy()


def _layer_norm(gamma: np.ndarray, beta: np.ndarray) -> nn.LayerNorm:
    norm = nn.LayerNorm(gamma.shape[0], eps=1e-5)
    norm.weight = _frozen(gamma)
    norm.bias = _frozen(beta)
    return norm


class WhisperDecoder(nn.Module):
    """Whisper's decoder from CTranslate2 variables (``decoder/...``).

    Args:
        variables: The model file's variables by name (:class:`Ct2Weights.variables`).
        rank: LoRA rank of the adapted matrices (0: none).
        alpha: LoRA scale numerator.
        adapted: Which matrices of each layer get an update (a subset of :data:`ADAPTED`).
    """

    def __init__(self, variables: Mapping[str, np.ndarray], rank: int = 16,
                 alpha: float = 32.0, adapted: tuple[str, ...] = ADAPTED) -> None:
        super().__init__()

        def var(name: str) -> np.ndarray:
            return variables["decoder/" + name]

        self.heads = int(var("num_heads"))
        self.register_buffer("embeddings", torch.tensor(np.asarray(var("embeddings/weight"),
                                                                    np.float32)))
        self.register_buffer("positions", torch.tensor(
            np.asarray(var("position_encodings/encodings"), np.float32)))
        names = {k.split("/")[1] for k in variables if k.startswith("decoder/layer_")}
        self.n_layers = sum(1 for n in names if n[len("layer_"):].isdigit())
        self.linears = nn.ModuleDict()
        self.norms = nn.ModuleDict()
        for i in range(self.n_layers):
            for lin in _LINEARS:
                name = f"layer_{i}/{lin}"
                self.linears[_key(name)] = LoRALinear(var(name + "/weight"), var(name + "/bias"),
                                                      rank if lin in adapted else 0, alpha)
            for block in ("self_attention", "attention", "ffn"):
                name = f"layer_{i}/{block}/layer_norm"
                self.norms[_key(name)] = _layer_norm(var(name + "/gamma"), var(name + "/beta"))
        self.final_norm = _layer_norm(var("layer_norm/gamma"), var("layer_norm/beta"))
        self.encoder_grad = False
        """Let gradients flow back into the encoder output (a trained encoder's student)."""

    def _linear(self, layer: int, name: str) -> LoRALinear:
        return self.linears[_key(f"layer_{layer}/{name}")]

    def _norm(self, layer: int, block: str) -> nn.LayerNorm:
        return self.norms[_key(f"layer_{layer}/{block}/layer_norm")]

    def _attend(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                causal: bool) -> torch.Tensor:
        batch, steps, width = q.shape

        def heads(x: torch.Tensor) -> torch.Tensor:
            return x.view(batch, x.shape[1], self.heads, width // self.heads).transpose(1, 2)

        out = F.scaled_dot_product_attention(heads(q), heads(k), heads(v), is_causal=causal)
        return out.transpose(1, 2).reshape(batch, steps, width)

    def forward(self, tokens: torch.Tensor, encoded: torch.Tensor) -> torch.Tensor:
        """Next-token logits.

        Args:
            tokens: (batch, steps) token ids, the prompt first.
            encoded: (batch, frames, width) encoder output.

        Returns:
            (batch, steps, vocabulary) logits; position t predicts token t + 1.
        """
        return self.hidden_states(tokens, encoded)[-1] @ self.embeddings.T

    def hidden_states(self, tokens: torch.Tensor, encoded: torch.Tensor) -> list[torch.Tensor]:
        """Every layer's output, then the final layer norm's: (batch, steps, width) each.

        What a short-window student is taught to match (after futo-org/whisper-acft).
        """
        states = []
        x = self.embeddings[tokens] + self.positions[: tokens.shape[1]]
        width = x.shape[-1]
        for i in range(self.n_layers):
            h = self._norm(i, "self_attention")(x)
            q, k, v = self._linear(i, "self_attention/linear_0")(h).split(width, dim=-1)
            x = x + self._linear(i, "self_attention/linear_1")(self._attend(q, k, v, True))
            h = self._norm(i, "attention")(x)
            q = self._linear(i, "attention/linear_0")(h)
            with nullcontext() if self.encoder_grad else torch.no_grad():
                k, v = self._linear(i, "attention/linear_1")(encoded).split(width, dim=-1)
            x = x + self._linear(i, "attention/linear_2")(self._attend(q, k, v, False))
            h = self._norm(i, "ffn")(x)
            x = x + self._linear(i, "ffn/linear_1")(F.gelu(self._linear(i, "ffn/linear_0")(h)))
            states.append(x)
        states.append(self.final_norm(x))
        return states

    def use_adapter(self, active: bool) -> None:
        """Switch the updates on or off (off: the shipped model, for a distillation target)."""
        for module in self.linears.values():
            module.active = active

    def factors(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """The trained updates by CTranslate2 variable name (``decoder/.../weight``)."""
        return {f"decoder/{key.replace('__', '/')}/weight": module.factors()
                for key, module in self.linears.items() if module.rank}


def _key(name: str) -> str:
    return name.replace("/", "__")  # ModuleDict keys cannot hold "." or "/"
