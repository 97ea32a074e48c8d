"""`tierline train tier`: train the tier model (and its text-blind twin) with torch, export ONNX.

Training data: dialogs drawn by
:class:`~tierline.segmentation.training.generator.DialogGenerator` from the *train* template pool
(one example per turn prefix), plus, when given, the seed's three files
(``--dialogs/--numerical/--labels``; one example per dialog). A second generated set
(another seed, same pool) picks the best epoch; the *test* template pool is never touched.

The network is a small MLP (F → 64 → 32 → 4, ReLU, dropout) on standardised features,
class-weighted cross-entropy with label smoothing, Adam, and jitter on the lexicon and voice
scores. The export writes the standardisation and the three layers as a plain ONNX graph
(``features`` → ``logits``) with ``onnx.helper``, plus a JSON with the version, feature names,
columns and training facts. The text-blind model is the same network on the voice and CRM
columns only (:data:`tierline.segmentation.state.TEXT_BLIND`).

torch and onnx come from the ``train`` extra, through :mod:`tierline.nlu.training.train_extra`
(the project's one import of them): :func:`run` imports it before any work, so a missing extra
is one line on stderr, exit code 2.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from tierline.segmentation.errors import TierDataError
from tierline.segmentation.records import TIERS
from tierline.segmentation.state import FEATURE_NAMES, TEXT_BLIND

HIDDEN = (64, 32)
NOISE = {"sentiment_last": 0.15, "sentiment_min": 0.15, "sentiment_mean": 0.15,
         "anger_max": 0.1, "anger_last": 0.1, "arousal_max": 0.1, "arousal_last": 0.1}
"""Training-time Gaussian jitter (raw units) on the lexicon and voice scores, so the model
cannot key on their exact values (e.g. "sentiment exactly 0" standing in for a missed
intent); label smoothing 0.05 keeps it from being certain on unseen phrasings."""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dialogs", metavar="CSV", help="seed-format dialogs (train_dialogs.csv)")
    p.add_argument("--numerical", metavar="CSV", help="seed-format CRM columns")
    p.add_argument("--labels", metavar="CSV", help="seed-format labels 0..3")
    p.add_argument("--generated", type=int, default=8000, metavar="N",
                   help="generated training dialogs (default 8000; 0 = seed files only)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--epochs", type=int, default=40, help="training epochs (default 40)")
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads (default 2)")
    p.add_argument("--write-generated", metavar="DIR",
                   help="also write the generated training dialogs as seed-format CSVs")
    p.add_argument("--out", metavar="DIR",
                   help="output directory (default $TIERLINE_HOME/models/tier; the shipped "
                        "model is segmentation/ in the repository)")


def _check(args: argparse.Namespace) -> None:
    given = [args.dialogs, args.numerical, args.labels]
    if any(given) and not all(given):
        raise TierDataError("--dialogs, --numerical and --labels go together")
    if args.generated < 0 or args.epochs < 1 or args.threads < 1:
        raise TierDataError("--generated must be >= 0, --epochs and --threads >= 1")
    if args.generated == 0 and not any(given):
        raise TierDataError("nothing to train on: give --generated N or the seed files")


def _fit(x: np.ndarray, y: np.ndarray, xv: np.ndarray, yv: np.ndarray,
         epochs: int, seed: int, names: list[str],
         keep_last: bool = False) -> tuple[list[np.ndarray], np.ndarray, np.ndarray, dict]:
    """Train the MLP; returns layer weights (W, b pairs), mean, std, and training facts.

    ``names`` are the feature names of ``x``'s columns (for the :data:`NOISE` jitter). The
    weights are those of the epoch with the best validation macro-F1, or of the last epoch
    when ``keep_last``.
    """
    from tierline.nlu.training.train_extra import torch

    torch.manual_seed(seed)
    mean = x.mean(axis=0)
    std = np.where(x.std(axis=0) < 1e-6, 1.0, x.std(axis=0))
    xt = torch.tensor((x - mean) / std, dtype=torch.float32)
    yt = torch.tensor(y)
    xvt = torch.tensor((xv - mean) / std, dtype=torch.float32)
    sizes = (x.shape[1], *HIDDEN, len(TIERS))
    layers: list = []
    for i in range(len(sizes) - 1):
        layers.append(torch.nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers += [torch.nn.ReLU(), torch.nn.Dropout(0.1)]
    net = torch.nn.Sequential(*layers)
    jitter = torch.zeros(x.shape[1])
    for name, sigma in NOISE.items():
        if name in names:
            jitter[names.index(name)] = sigma / float(std[names.index(name)])
    counts = np.bincount(y, minlength=len(TIERS)).astype(np.float64)
    weights = torch.tensor(counts.sum() / (len(TIERS) * np.maximum(counts, 1)),
                           dtype=torch.float32)
    loss_fn = torch.nn.CrossEntropyLoss(weight=weights, label_smoothing=0.05)
    opt = torch.optim.Adam(net.parameters(), lr=3e-3, weight_decay=1e-4)
    gen = torch.Generator().manual_seed(seed)
    best: tuple[float, int, dict] = (-1.0, 0, {})
    for epoch in range(epochs):
        net.train()
        for idx in torch.randperm(len(xt), generator=gen).split(256):
            opt.zero_grad()
            xb = xt[idx] + torch.randn(len(idx), x.shape[1], generator=gen) * jitter
            loss_fn(net(xb), yt[idx]).backward()
            opt.step()
        net.eval()
        with torch.no_grad():
            pred = net(xvt).argmax(1).numpy()
        f1 = macro_f1(yv, pred)
        if f1 > best[0] or keep_last:
            best = (f1, epoch + 1, {k: v.clone() for k, v in net.state_dict().items()})
    net.load_state_dict(best[2])
    linears = [m for m in net if isinstance(m, torch.nn.Linear)]
    params = [p for m in linears for p in (m.weight.detach().numpy(), m.bias.detach().numpy())]
    return params, mean, std, {"best_epoch": best[1], "validation_macro_f1": round(best[0], 4)}


def fit_temperature(logits: np.ndarray, y: np.ndarray) -> float:
    """Temperature that minimises the negative log-likelihood of ``logits`` (Guo et al., 2017).

    Dividing the logits by this one scalar changes the confidence, never the argmax.
    """
    best_t, best_nll = 1.0, float("inf")
    for t in np.geomspace(0.2, 5.0, 241):
        z = logits / t
        z = z - z.max(axis=1, keepdims=True)
        nll = float(np.mean(np.log(np.exp(z).sum(axis=1)) - z[np.arange(len(y)), y]))
        if nll < best_nll:
            best_t, best_nll = float(t), nll
    return round(best_t, 4)


def _calibration_data(args: argparse.Namespace, nlu) -> tuple[np.ndarray, ...]:
    """Dialogs for fitting the temperature: ``fit`` phrasings to train a scratch model on,
    ``calib`` phrasings (never seen by that model) to measure its confidence on."""
    from tierline.segmentation.training.dataset import from_generated
    from tierline.segmentation.training.generator import DialogGenerator

    n = max(args.generated // 2, 400)
    xf, yf = from_generated(DialogGenerator(nlu, "fit").generate(n, args.seed + 2, "fit"))
    xc, yc = from_generated(DialogGenerator(nlu, "calib").generate(
        max(n // 4, 200), args.seed + 3, "calib"))
    return xf, yf, xc, yc


def _unseen_phrasing_temperature(data: tuple[np.ndarray, ...], cols: list[int], epochs: int,
                                 args: argparse.Namespace) -> float:
    """Temperature that calibrates a model on phrasings it was not trained on.

    Fitting on validation dialogs of the training phrasings over-sharpens (the model is
    near-perfect there); the shift that matters in use is unseen wording. A scratch model is
    trained on the ``fit`` half of the training phrasings and its logits on ``calib``
    phrasings set the temperature applied to the full model. The scratch model trains for
    the full model's ``epochs`` and keeps its last weights: a network's logits grow with
    training, so a scratch model stopped at another epoch sets a temperature for another
    logit scale (a model stopped at epoch 13 was left overconfident: ECE 0.042, 0.030 with
    this rule; docs/tiering.md).
    """
    xf, yf, xc, yc = data
    params, mean, std, _ = _fit(xf[:, cols], yf, xc[:, cols], yc, epochs, args.seed,
                                [FEATURE_NAMES[i] for i in cols], keep_last=True)
    h = (xc[:, cols] - mean) / std
    for i in range(0, len(params), 2):
        h = h @ params[i].T + params[i + 1]
        if i + 2 < len(params):
            h = np.maximum(h, 0.0)
    return fit_temperature(h, yc)


def macro_f1(y: np.ndarray, pred: np.ndarray) -> float:
    """Macro-averaged F1 over the tiers present in ``y`` or ``pred``."""
    scores = []
    for c in sorted(set(y.tolist()) | set(pred.tolist())):
        tp = int(((pred == c) & (y == c)).sum())
        fp = int(((pred == c) & (y != c)).sum())
        fn = int(((pred != c) & (y == c)).sum())
        scores.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return float(np.mean(scores)) if scores else 0.0


def export_onnx(path: Path, params: list[np.ndarray], mean: np.ndarray,
                std: np.ndarray) -> None:
    """Write standardisation + MLP as an ONNX graph ``features`` [n, F] → ``logits`` [n, 4]."""
    from onnx import TensorProto, checker, helper, numpy_helper, save

    inits = [numpy_helper.from_array(mean.astype(np.float32), "mean"),
             numpy_helper.from_array((1.0 / std).astype(np.float32), "inv_std")]
    nodes = [helper.make_node("Sub", ["features", "mean"], ["centred"]),
             helper.make_node("Mul", ["centred", "inv_std"], ["h0"])]
    n_layers = len(params) // 2
    for i in range(n_layers):
        w, b = params[2 * i], params[2 * i + 1]
        inits += [numpy_helper.from_array(w.astype(np.float32), f"w{i}"),
                  numpy_helper.from_array(b.astype(np.float32), f"b{i}")]
        out = "logits" if i == n_layers - 1 else f"z{i}"
        nodes.append(helper.make_node("Gemm", [f"h{i}", f"w{i}", f"b{i}"], [out], transB=1))
        if i < n_layers - 1:
            nodes.append(helper.make_node("Relu", [out], [f"h{i + 1}"]))
    graph = helper.make_graph(
        nodes, "tierline_tier",
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["n", len(mean)])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["n", len(TIERS)])],
        inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)],
                              producer_name="tierline")
    model.ir_version = 8
    checker.check_model(model)
    save(model, str(path))


def _save(out: Path, name: str, params, mean, std, columns, facts: dict) -> None:
    export_onnx(out / f"{name}.onnx", params, mean, std)
    meta = {"version": facts["version"], "tiers": list(TIERS), "features": list(FEATURE_NAMES),
            "columns": list(columns), "hidden": list(HIDDEN), **facts}
    (out / f"{name}.json").write_text(json.dumps(meta, ensure_ascii=False, indent=1) + "\n",
                                      encoding="utf-8")


def run(args: argparse.Namespace) -> int:
    """Train both models and write them to ``--out``."""
    _check(args)
    from tierline.dialects.models import tierline_home
    from tierline.segmentation.model import MAIN
    from tierline.segmentation.model import TEXT_BLIND as BLIND_NAME
    from tierline.segmentation.seedfmt import load_seed, write_seed
    from tierline.segmentation.training.dataset import from_generated, from_seed
    from tierline.segmentation.training.generator import DialogGenerator

    seed_dialogs = load_seed(args.dialogs, args.numerical, args.labels) if args.dialogs else []
    from tierline.nlu.training.train_extra import torch  # NluError if the extra is missing

    torch.set_num_threads(args.threads)
    out = Path(args.out) if args.out else tierline_home() / "models" / "tier"
    out.mkdir(parents=True, exist_ok=True)

    t0 = time.perf_counter()
    gen = DialogGenerator(split="train")
    train = gen.generate(args.generated, seed=args.seed, prefix="train")
    val = gen.generate(max(args.generated // 5, 200), seed=args.seed + 1, prefix="val")
    if args.write_generated:
        written = write_seed(((d.id, d.customer, d.utterances, d.label) for d in train),
                             args.write_generated)
        print(f"generated dialogs written: {', '.join(map(str, written))}")
    x, y = from_generated(train)
    xs, ys = from_seed(seed_dialogs, gen)
    x, y = np.concatenate([x, xs]), np.concatenate([y, ys])
    xv, yv = from_generated(val)
    if args.generated == 0:  # seed files only: validate on them too (small data)
        xv, yv = xs, ys
    print(f"training examples: {len(y)} ({len(train)} generated dialogs, "
          f"{len(seed_dialogs)} seed dialogs); validation {len(yv)}; "
          f"class counts {np.bincount(y, minlength=4).tolist()}")
    calib_data = _calibration_data(args, gen.nlu)
    version = time.strftime("%Y%m%d-%H%M%S")
    data = {"generated_dialogs": len(train), "seed_dialogs": len(seed_dialogs),
            "seed": args.seed, "epochs": args.epochs, "examples": int(len(y)),
            "template_split": "train"}
    staging = Path(tempfile.mkdtemp(prefix=".tier-", dir=out))
    try:
        for name, cols in ((MAIN, tuple(range(len(FEATURE_NAMES)))), (BLIND_NAME, TEXT_BLIND)):
            c = list(cols)
            params, mean, std, facts = _fit(x[:, c], y, xv[:, c], yv, args.epochs, args.seed,
                                            [FEATURE_NAMES[i] for i in c])
            facts["temperature"] = _unseen_phrasing_temperature(
                calib_data, c, facts["best_epoch"], args)
            _save(staging, name, params, mean, std, cols, {"version": f"{name}-{version}",
                                                           "training": {**data, **facts}})
            print(f"{name}: best epoch {facts['best_epoch']}, validation macro-F1 "
                  f"{facts['validation_macro_f1']:.3f}")
        for f in sorted(staging.iterdir()):  # both models or neither
            os.replace(f, out / f.name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    print(f"written: {', '.join(str(out / f'{n}.onnx') for n in (MAIN, BLIND_NAME))}")
    print(f"done in {time.perf_counter() - t0:.1f} s")
    return 0
