"""A resumable LoRA training loop for Whisper's decoder (dialect adapters).

Teacher forcing on cached encoder outputs: cross-entropy on each clip's text and end tokens,
plus a KL term that holds the prompt positions (where Whisper reads the language and the
no-speech probability) to the shipped decoder, so a dialect adapter does not start calling
speech silence. Checkpoints (LoRA factors, optimiser, scheduler, step) are written every
``checkpoint_every`` steps and at the end, atomically; a run that finds a checkpoint with
the same settings and data continues from its step. A GPU is used when torch sees one.

Training only: torch comes through :mod:`tierline.nlu.training.train_extra`.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from tierline.dialects.training.torch_decoder import ADAPTED, WhisperDecoder
from tierline.nlu.training.train_extra import F, torch

PROMPT_TOKENS = 3
"""<|startoftranscript|><|lang|><|transcribe|>: given, not learnt."""


@dataclass(frozen=True)
class LoopSettings:
    """What a dialect adapter is trained with (stored in its meta record)."""

    rank: int = 16
    alpha: float = 32.0
    learning_rate: float = 5e-4
    epochs: int = 3
    batch: int = 4
    seed: int = 13
    kl_weight: float = 3.0
    cross_attention: bool = True
    checkpoint_every: int = 10


Item = tuple[np.ndarray, list[int]]
"""(encoder output (frames, width), target tokens)."""


def data_fingerprint(items: Sequence[Item]) -> str:
    """A short digest of the training data (tokens and encoder outputs)."""
    h = hashlib.blake2b(digest_size=8)
    for encoded, tokens in items:
        h.update(np.asarray(tokens, np.int64).tobytes())
        h.update(np.ascontiguousarray(encoded[:: max(1, len(encoded) // 16)]).tobytes())
    return h.hexdigest()


def device() -> torch.device:
    """The GPU when torch sees one, else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def _batch(items: Sequence[Item], dev: torch.device):
    width = max(len(t) for _, t in items)
    tokens = torch.full((len(items), width), items[0][1][-1], dtype=torch.long)
    mask = torch.zeros(len(items), width - 1)
    for i, (_, t) in enumerate(items):
        tokens[i, : len(t)] = torch.tensor(t)
        mask[i, PROMPT_TOKENS - 1: len(t) - 1] = 1
    encoded = torch.tensor(np.stack([e for e, _ in items]).astype(np.float32))
    return tokens.to(dev), mask.to(dev), encoded.to(dev)


def batch_loss(decoder: WhisperDecoder, items: Sequence[Item], kl_weight: float,
               dev: torch.device) -> torch.Tensor:
    """Cross-entropy of the text tokens plus ``kl_weight`` × KL(shipped ‖ adapted) at the
    prompt positions."""
    tokens, mask, encoded = _batch(items, dev)
    logits = decoder(tokens[:, :-1], encoded)
    ce = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tokens[:, 1:].reshape(-1),
                         reduction="none")
    loss = (ce * mask.reshape(-1)).sum() / mask.sum()
    if kl_weight:
        head = PROMPT_TOKENS - 1
        decoder.use_adapter(False)
        with torch.no_grad():
            shipped = F.log_softmax(decoder(tokens[:, :head], encoded), -1)
        decoder.use_adapter(True)
        kl = F.kl_div(F.log_softmax(logits[:, :head], -1), shipped, log_target=True,
                      reduction="none").sum(-1).mean()
        loss = loss + kl_weight * kl
    return loss


def train_lora(items: Sequence[Item], variables: dict, settings: LoopSettings,
               checkpoint: Path | None, log: Callable[[str], None]) -> WhisperDecoder:
    """Fit LoRA factors on ``items``; resumes from ``checkpoint`` when it matches.

    Args:
        items: Training clips (encoder outputs of equal length, tokens).
        variables: Whisper base's CTranslate2 variables.
        settings: Loop settings.
        checkpoint: Checkpoint file (None: no checkpoints).
        log: Progress lines.

    Returns:
        The decoder with trained factors (on the CPU).
    """
    dev = device()
    torch.manual_seed(settings.seed)
    adapted = ADAPTED if settings.cross_attention else tuple(
        a for a in ADAPTED if not a.startswith("attention/"))
    decoder = WhisperDecoder(variables, settings.rank, settings.alpha, adapted).to(dev)
    params = [p for p in decoder.parameters() if p.requires_grad]
    per_epoch = -(-len(items) // settings.batch)
    steps = settings.epochs * per_epoch
    opt = torch.optim.AdamW(params, lr=settings.learning_rate, weight_decay=0.0)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=settings.learning_rate,
                                                total_steps=steps, pct_start=0.1)
    stamp = json.dumps({"settings": asdict(settings), "data": data_fingerprint(items)},
                       sort_keys=True)
    step = 0
    if checkpoint is not None and checkpoint.is_file():
        state = torch.load(checkpoint, map_location=dev, weights_only=False)
        if state.get("stamp") == stamp:
            decoder.load_state_dict(state["lora"], strict=False)
            opt.load_state_dict(state["opt"])
            sched.load_state_dict(state["sched"])
            step = int(state["step"])
            log(f"resumed from {checkpoint} at step {step}/{steps}")
        else:
            log(f"{checkpoint} belongs to other settings or data: starting afresh")

    def save() -> None:
        if checkpoint is None:
            return
        lora = {k: v for k, v in decoder.state_dict().items()
                if k.endswith((".a", ".b"))}
        tmp = checkpoint.with_suffix(".tmp")
        torch.save({"stamp": stamp, "step": step, "lora": lora, "opt": opt.state_dict(),
                    "sched": sched.state_dict()}, tmp)
        tmp.replace(checkpoint)

    log(f"{len(items)} clips, {steps} steps of {settings.batch} on {dev.type}")
    t0, start = time.perf_counter(), step
    decoder.train()
    while step < steps:
        epoch, offset = divmod(step, per_epoch)
        order = np.random.default_rng([settings.seed, epoch]).permutation(len(items))
        batch = [items[j] for j in order[offset * settings.batch:(offset + 1) * settings.batch]]
        loss = batch_loss(decoder, batch, settings.kl_weight, dev)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        step += 1
        if step % settings.checkpoint_every == 0 or step == steps:
            save()
            rate = (time.perf_counter() - t0) / (step - start)
            log(f"step {step}/{steps} (epoch {epoch + 1}) loss {float(loss.detach()):.3f}, "
                f"{rate:.1f} s/step, about {rate * (steps - step) / 60:.1f} min left")
    return decoder.to(torch.device("cpu")).eval()
