"""Exercises of lab 04, loss values & debugging (``solutions/04_losses.ipynb``).

Ids: ``loss.initial_loss``, ``loss.prior_bias``, ``loss.cross_entropy``, ``loss.bce_with_logits``,
``loss.diagnose``, ``loss.train_epoch``.

Cases are seeds and sizes; ``arguments`` builds the tensors and models. The hint rules compute the
typical *wrong* answers (log10 instead of ln, softmax applied twice, Sigmoid + BCELoss's clamp, a
missing ``zero_grad``...) to recognise them; the reference answers come from the solution notebook.
"""

from __future__ import annotations

import math

import numpy as np

from .compare import close, label
from .engine import Exercise
from .hints import like, when
from .values import as_float

LN10 = math.log(10.0)


def _not_finite(got, want, case) -> bool:
    try:
        return not math.isfinite(as_float(got))
    except (TypeError, ValueError):
        return False


# -- loss.prior_bias ----------------------------------------------------------------------------------

def _softmax(values) -> list[float]:
    z = np.asarray(values, dtype=np.float64)
    e = np.exp(z - z.max())
    return (e / e.sum()).tolist()


def _prior(case) -> np.ndarray:
    counts = np.asarray(case["counts"], dtype=np.float64)
    return counts / counts.sum()


def _bias_observe(result, kwargs) -> list[float]:
    """A bias is judged by the class probabilities it gives a network whose weights are zero."""
    values = result.detach().cpu().numpy() if hasattr(result, "detach") else np.asarray(result, dtype=np.float64)
    return _softmax(np.asarray(values, dtype=np.float64).ravel())


# -- loss.cross_entropy and loss.bce_with_logits ------------------------------------------------------

def _logits_arguments(case: dict) -> dict:
    """Seeded logits of shape (n, classes) scaled by ``scale``, and integer targets."""
    import torch

    generator = torch.Generator().manual_seed(case["seed"])
    logits = torch.randn(case["n"], case["classes"], generator=generator, dtype=torch.float64) * case["scale"]
    targets = torch.randint(0, case["classes"], (case["n"],), generator=generator)
    return {"logits": logits, "targets": targets}


def _ce_wrong(case: dict, how: str) -> float:
    import torch
    import torch.nn.functional as F

    args = _logits_arguments(case)
    logits, targets = args["logits"], args["targets"]
    if how == "softmax twice":
        return F.cross_entropy(torch.softmax(logits, dim=1), targets).item()
    if how == "batch axis":
        return F.nll_loss(torch.log_softmax(logits, dim=0), targets).item()
    if how == "sum":
        return F.cross_entropy(logits, targets, reduction="sum").item()
    if how == "log10":
        return F.cross_entropy(logits, targets).item() / LN10
    raise ValueError(how)


def _binary_arguments(case: dict) -> dict:
    """Seeded logits of shape (n,) scaled by ``scale``, and 0/1 float targets."""
    import torch

    generator = torch.Generator().manual_seed(case["seed"])
    logits = torch.randn(case["n"], generator=generator, dtype=torch.float64) * case["scale"]
    targets = torch.randint(0, 2, (case["n"],), generator=generator).to(torch.float64)
    return {"logits": logits, "targets": targets}


def _bce_wrong(case: dict, how: str) -> float:
    import torch
    import torch.nn.functional as F

    args = _binary_arguments(case)
    logits, targets = args["logits"], args["targets"]
    if how == "sigmoid + BCELoss":  # PyTorch clamps each log at -100
        return F.binary_cross_entropy(torch.sigmoid(logits), targets).item()
    if how == "targets flipped":
        return F.binary_cross_entropy_with_logits(logits, 1 - targets).item()
    if how == "sum":
        return F.binary_cross_entropy_with_logits(logits, targets, reduction="sum").item()
    raise ValueError(how)


# -- loss.diagnose ------------------------------------------------------------------------------------

def _gaps(case: dict) -> dict[str, float]:
    return {"high bias": case["train"] - case["human"], "high variance": case["train_dev"] - case["train"],
            "data mismatch": case["dev"] - case["train_dev"]}


def _diagnose_like(case: dict, gaps: dict[str, float]) -> str:
    name, gap = max(gaps.items(), key=lambda item: item[1])
    return name if gap > case.get("tolerance", 0.02) else "good"


# -- loss.train_epoch ---------------------------------------------------------------------------------

def _epoch_arguments(case: dict) -> dict:
    """A seeded 3-class problem, a small MLP with dropout, SGD, and the generator that shuffles.

    The engine seeds everything again just before the call: dropout masks then follow from that seed,
    the same for every correct implementation (one forward pass per batch)."""
    import torch
    from torch import nn

    generator = torch.Generator().manual_seed(case["seed"])
    n, d, classes = case["n"], case["features"], 3
    centres = torch.randn(classes, d, generator=generator) * 2
    y = torch.randint(0, classes, (n + 60,), generator=generator)
    X = centres[y] + torch.randn(n + 60, d, generator=generator) * case["noise"]
    torch.manual_seed(case["seed"])
    model = nn.Sequential(nn.Linear(d, 32), nn.ReLU(), nn.Dropout(case["dropout"]), nn.Linear(32, classes))
    optimizer = torch.optim.SGD(model.parameters(), lr=case["lr"])
    return {"model": model, "optimizer": optimizer, "X": X[:n], "y": y[:n], "X_val": X[n:], "y_val": y[n:],
            "batch_size": case["batch_size"], "generator": torch.Generator().manual_seed(case["seed"] + 1)}


def _epoch_observe(result, kwargs) -> dict:
    losses, accuracy = result
    return {"losses": [as_float(v) for v in losses], "val_accuracy": as_float(accuracy)}


def _buggy_epoch(case: dict, bug: str) -> dict:
    """One epoch with exactly one of the planted bugs of lesson 04 (never the correct loop)."""
    import torch
    import torch.nn.functional as F

    if bug not in ("no zero_grad", "labels shuffled apart", "softmax on the batch axis"):
        raise ValueError(bug)
    from course_utils.data import set_seed

    a = _epoch_arguments(case)
    set_seed(0)  # as the engine does just before it calls the learner's function
    model, optimizer, X, y = a["model"], a["optimizer"], a["X"], a["y"]
    order = torch.randperm(len(X), generator=a["generator"])
    label_order = torch.randperm(len(X), generator=a["generator"]) if bug == "labels shuffled apart" else order
    X, y = X[order], y[label_order]
    model.train()
    losses = []
    for start in range(0, len(X), a["batch_size"]):
        xb, yb = X[start:start + a["batch_size"]], y[start:start + a["batch_size"]]
        if bug != "no zero_grad":
            optimizer.zero_grad()
        out = model(xb)
        if bug == "softmax on the batch axis":
            out = torch.softmax(out, dim=0)
        loss = F.cross_entropy(out, yb)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    model.eval()
    with torch.no_grad():
        accuracy = (model(a["X_val"]).argmax(1) == a["y_val"]).float().mean().item()
    return {"losses": losses, "val_accuracy": accuracy}


def _losses_match(got, want) -> bool:
    try:
        return len(got["losses"]) == len(want["losses"]) and np.allclose(got["losses"], want["losses"], rtol=1e-4)
    except (TypeError, KeyError):
        return False


EXERCISES = (
    Exercise(
        id="loss.initial_loss",
        title="Expected cross-entropy of an untrained C-class classifier",
        points=1,
        cases=({"n_classes": 5}, {"n_classes": 10}, {"n_classes": 2}),
        compare=close(rtol=1e-6),
        hints=(
            like(lambda want, case: -want, "the sign is flipped: the loss is -ln(1/C) = ln C, a positive number"),
            like(lambda want, case: want / LN10, "that is log10(C); cross-entropy uses the natural log, ln C"),
            like(lambda want, case: want / math.log(2), "that is log2(C) (bits); PyTorch's losses use ln C (nats)"),
            like(lambda want, case: 1 / case["n_classes"],
                 "1/C is the probability an untrained network gives each class; the loss is -ln of it"),
        ),
    ),
    Exercise(
        id="loss.prior_bias",
        title="Last-layer bias that makes the softmax output the class prior",
        points=1,
        cases=({"counts": [900, 100]}, {"counts": [50, 30, 15, 5]}, {"counts": [10, 10, 10]}),
        compare=close(rtol=1e-5, atol=1e-8),
        observe=_bias_observe,
        hints=(
            like(lambda want, case: _softmax(_prior(case)),
                 "you used the prior p itself as the bias; the softmax exponentiates, so the bias must be ln p"),
            like(lambda want, case: _softmax(-np.log(_prior(case))),
                 "the sign is flipped: -ln p makes the rare classes the most probable; use ln p"),
            like(lambda want, case: _softmax(np.asarray(case["counts"], dtype=np.float64)),
                 "you used the counts as the bias; the softmax needs their logarithm, ln(count / total)"),
            like(lambda want, case: _softmax(np.log10(_prior(case))),
                 "log10 is not the inverse of exp: use the natural logarithm, ln p"),
        ),
    ),
    Exercise(
        id="loss.cross_entropy",
        title="Mean cross-entropy from logits, numerically stable",
        points=2,
        cases=({"seed": 0, "n": 8, "classes": 5, "scale": 1.0}, {"seed": 1, "n": 32, "classes": 3, "scale": 3.0},
               {"seed": 2, "n": 6, "classes": 4, "scale": 1000.0}),
        compare=close(rtol=1e-6, atol=1e-9),
        arguments=_logits_arguments,
        observe=lambda result, kwargs: as_float(result),
        hints=(
            when(_not_finite, "the loss overflowed (inf or nan) on large logits: subtract each row's maximum "
                              "before exponentiating (log-sum-exp), or use torch.logsumexp"),
            like(lambda want, case: _ce_wrong(case, "softmax twice"),
                 "you applied a softmax before a loss that already contains one (F.cross_entropy takes "
                 "logits): the softmax is applied twice"),
            like(lambda want, case: _ce_wrong(case, "batch axis"),
                 "the softmax is taken over the batch axis (dim=0): normalize each row over the classes (dim=1)"),
            like(lambda want, case: _ce_wrong(case, "sum"),
                 "that is the sum over the batch; return the mean, as nn.CrossEntropyLoss does by default"),
            like(lambda want, case: _ce_wrong(case, "log10"), "use the natural logarithm, not log10"),
        ),
    ),
    Exercise(
        id="loss.bce_with_logits",
        title="Binary cross-entropy from logits, numerically stable",
        points=2,
        cases=({"seed": 0, "n": 10, "scale": 1.0}, {"seed": 1, "n": 20, "scale": 4.0},
               {"seed": 2, "n": 8, "scale": 300.0}),
        compare=close(rtol=1e-6, atol=1e-9),
        arguments=_binary_arguments,
        observe=lambda result, kwargs: as_float(result),
        hints=(
            when(_not_finite, "log(sigmoid(z)) is -inf once sigmoid(z) rounds to 0 (z below about -37 in "
                              "float64): use max(z, 0) - z*y + log(1 + exp(-|z|)), which never overflows"),
            like(lambda want, case: _bce_wrong(case, "sigmoid + BCELoss"),
                 "Sigmoid followed by BCELoss: PyTorch clamps each log at -100, so confident mistakes cost "
                 "100 instead of |z|; compute the loss from the logits (the stable formula)"),
            like(lambda want, case: _bce_wrong(case, "targets flipped"),
                 "y and 1 - y are swapped: the loss is -[y log s + (1 - y) log(1 - s)] with s = sigmoid(z)"),
            like(lambda want, case: _bce_wrong(case, "sum"), "that is the sum over the batch; return the mean"),
        ),
    ),
    Exercise(
        id="loss.diagnose",
        title="Bias, variance or data mismatch from four error rates",
        points=1,
        cases=({"human": 0.01, "train": 0.08, "train_dev": 0.09, "dev": 0.10},
               {"human": 0.01, "train": 0.015, "train_dev": 0.09, "dev": 0.10},
               {"human": 0.01, "train": 0.015, "train_dev": 0.02, "dev": 0.10},
               {"human": 0.01, "train": 0.02, "train_dev": 0.025, "dev": 0.03},
               {"human": 0.05, "train": 0.06, "train_dev": 0.065, "dev": 0.07}),
        compare=label(),
        hints=(
            when(lambda got, want, case: {str(got).lower(), want} == {"high bias", "high variance"},
                 "bias and variance are swapped: avoidable bias = train - human error, "
                 "variance = train-dev - train error"),
            when(lambda got, want, case: want == "data mismatch" and str(got).lower() == "high variance",
                 "the gap is between train-dev and dev: train-dev comes from the training distribution, so a "
                 "jump at dev means the dev data differ (data mismatch), not that the model overfits"),
            when(lambda got, want, case: str(got).lower() == _diagnose_like(
                case, {**_gaps(case), "high bias": case["train"]}) != want,
                 "measure the bias against human (Bayes) error, not against 0: train - human is the "
                 "avoidable part"),
            when(lambda got, want, case: want == "good" and str(got).lower() != "good",
                 "every gap is within the tolerance (0.02): the answer is 'good'"),
        ),
    ),
    Exercise(
        id="loss.train_epoch",
        title="Fix the buggy training epoch",
        points=3,
        cases=({"seed": 0, "n": 120, "features": 6, "noise": 1.0, "dropout": 0.3, "lr": 0.1, "batch_size": 20},
               {"seed": 1, "n": 90, "features": 4, "noise": 1.5, "dropout": 0.5, "lr": 0.05, "batch_size": 30}),
        compare=close(rtol=1e-4, atol=1e-6),
        arguments=_epoch_arguments,
        observe=_epoch_observe,
        hints=(
            like(lambda want, case: _buggy_epoch(case, "no zero_grad"),
                 "the gradients accumulate from batch to batch: call optimizer.zero_grad() before backward()"),
            like(lambda want, case: _buggy_epoch(case, "labels shuffled apart"),
                 "the labels were shuffled with their own permutation: index X and y with the SAME one"),
            like(lambda want, case: _buggy_epoch(case, "softmax on the batch axis"),
                 "a softmax over the batch axis feeds F.cross_entropy, which wants raw logits: remove it"),
            when(lambda got, want, case: _losses_match(got, want) and got["val_accuracy"] != want["val_accuracy"],
                 "training is right but the validation accuracy is measured with dropout still active: "
                 "call model.eval() (and torch.no_grad()) before evaluating"),
        ),
    ),
)
