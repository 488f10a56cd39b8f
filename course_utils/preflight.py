"""The course's probes: quick experiments that find a bug before (or instead of) a long training run.

Each probe is a plain function of a run (:class:`course_utils.clinic.Run`, or anything with the same
handles: ``make_model``, ``make_optimizer``, ``step``, ``loss_terms``, ``split``, ``evaluate``,
``batches``) or of plain arrays, and returns numbers. The labs write their own versions (one probe per
lab); lab 12 assembles them into a preflight and uses it on runs it has not seen. :func:`preflight`
runs them all; :func:`diagnose` reads the findings with the course's rules, in the order that keeps
each rule specific (a probe that several bugs trip is read after the probes that tell them apart).

>>> from course_utils.clinic import broken_run
>>> findings = preflight(broken_run(0, "lr_too_low"))
>>> diagnose(findings)
'lr_too_low'
>>> round(findings["first_loss"] / findings["expected_first_loss"], 1) > 0.5
True
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

# -- lab 01: duplicates and leaks across splits -------------------------------------------------------------


def _rows(X) -> np.ndarray:
    X = X.detach().numpy() if hasattr(X, "detach") else np.asarray(X)
    return np.round(np.asarray(X, dtype=np.float64), 4).reshape(len(X), -1)


def duplicate_share(train, other=None) -> float:
    """The share of the rows of ``other`` that also appear in ``train`` (rounded to 4 decimals); without
    ``other``, the share of ``train``'s rows that repeat an earlier row of ``train``.

    >>> duplicate_share(np.array([[0, 1], [2, 3]]), np.array([[2, 3], [5, 5], [0, 1], [9, 9]]))
    0.5
    >>> duplicate_share(np.array([[0, 0], [0, 0], [0, 0], [1, 2]]))
    0.5
    """
    A = _rows(train)
    if other is None:
        _, first = np.unique(A, axis=0, return_index=True)
        return float(1 - len(first) / len(A))
    seen = {row.tobytes() for row in A}
    B = _rows(other)
    return float(np.mean([row.tobytes() in seen for row in B]))


def leak_scan(run) -> dict[str, float]:
    """Duplicates: the share of validation and test rows found in the training split, and the share of
    training rows that repeat another training row."""
    X_train = run.split("train")[0]
    return {name: duplicate_share(X_train, run.split(name)[0]) for name in ("val", "test")} | {
        "train": duplicate_share(X_train)}


# -- lab 02: what the inputs look like after the pipeline ------------------------------------------------------

def feature_statistics(X) -> dict[str, float]:
    """The largest |mean| of a feature, the mean std of the non-constant features, and the overall scale.

    >>> s = feature_statistics(np.array([[0.0, 1.0], [2.0, 1.0]]))
    >>> s["max_abs_mean"], s["mean_std"]
    (1.0, 1.0)
    """
    X = _rows(X)
    std = X.std(axis=0)
    moving = std > 1e-6
    return {"max_abs_mean": float(np.abs(X.mean(axis=0)).max()),
            "mean_std": float(std[moving].mean()) if moving.any() else 0.0,
            "scale": float(np.abs(X).mean())}


def split_shift(train, other) -> float:
    """How far ``other``'s features sit from ``train``'s: the mean over the non-constant features of the
    gap between their means, in units of ``train``'s std, plus the gap between their log stds. Near 0
    for two samples of one distribution through one pipeline.

    >>> a = np.random.default_rng(0).normal(size=(500, 3))
    >>> split_shift(a, a[:250]) < 0.2, split_shift(a, a * 3 + 2) > 1
    (True, True)
    """
    A, B = _rows(train), _rows(other)
    std_a, std_b = A.std(axis=0), B.std(axis=0)
    moving = (std_a > 1e-6) & (std_b > 1e-6)
    means = np.abs(B.mean(axis=0) - A.mean(axis=0))[moving] / std_a[moving]
    scales = np.abs(np.log(std_b[moving] / std_a[moving]))
    return float(means.mean() + scales.mean())


def repeatable_loads(run) -> dict[str, bool]:
    """Whether loading each split twice gives the same arrays (an augmentation makes them differ)."""
    same = {}
    for name in ("train", "val", "test"):
        a, b = run.split(name)[0], run.split(name)[0]
        same[name] = bool(torch.equal(torch.as_tensor(a), torch.as_tensor(b)))
    return same


# -- lab 03: activations at initialization ---------------------------------------------------------------------

def activation_stats(model: nn.Module, X) -> list[dict[str, float]]:
    """For each activation layer of a sequential ``model`` on the batch ``X``: mean, std, the share of
    *dead* units (ReLU: zero on every sample of the batch) and of *saturated* outputs (tanh, sigmoid:
    within 0.01 of a bound).

    >>> torch.manual_seed(0); model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    <torch._C.Generator object at ...>
    >>> stats = activation_stats(model, torch.randn(64, 4))
    >>> len(stats), 0 <= stats[0]["dead_share"] < 0.5
    (1, True)
    """
    from course_utils.diagnosis import saturated_share

    stats, h = [], torch.as_tensor(X, dtype=torch.float32)
    was = model.training
    model.eval()
    with torch.no_grad():
        for layer in model:
            h = layer(h)
            name = {nn.ReLU: "relu", nn.Tanh: "tanh", nn.Sigmoid: "sigmoid"}.get(type(layer))
            if name:
                dead = float((h.amax(dim=0) <= 0).float().mean()) if name == "relu" else 0.0
                stats.append({"mean": float(h.mean()), "std": float(h.std()), "dead_share": dead,
                              "saturated_share": saturated_share(h, name)})
    model.train(was)
    return stats


def dead_relus(run) -> float:
    """The share of dead ReLU units of a fresh model of the run, on its first batch (0 without ReLUs)."""
    stats = activation_stats(run.make_model(), run.batches[0][0])
    return max((s["dead_share"] for s in stats), default=0.0)


def output_sums(run) -> dict[str, float]:
    """Do a fresh model's outputs look like probabilities? The largest deviation from 1 of the row sums
    (a softmax over the classes) and of the column sums (a softmax over the batch), and the smallest
    output."""
    with torch.no_grad():
        model = run.make_model().eval()
        out = model(run.batches[0][0])
    return {"rows": float((out.sum(dim=1) - 1).abs().max()), "columns": float((out.sum(dim=0) - 1).abs().max()),
            "min": float(out.min())}


# -- lab 04: the loss before training, the training step itself ---------------------------------------------

def expected_first_loss(classes: int) -> float:
    """-ln(1/C): the cross-entropy of a uniform prediction over C classes.

    >>> round(expected_first_loss(10), 4)
    2.3026
    """
    return math.log(classes)


def prior_bias(counts) -> np.ndarray:
    """A last-layer bias whose softmax is the class prior (counts / total).

    >>> np.round(np.exp(prior_bias([1, 3])) / np.exp(prior_bias([1, 3])).sum(), 2).tolist()
    [0.25, 0.75]
    """
    counts = np.asarray(counts, dtype=np.float64)
    return np.log(counts / counts.sum())


def first_loss(run) -> float:
    """The loss of a fresh model of the run on its first batch, as the run computes it (every term)."""
    with torch.enable_grad():
        terms = run.loss_terms(run.make_model(), run.batches[0])
    return float(sum(float(v.detach()) for v in terms.values()))


def overfit_one_batch(run, steps: int = 60) -> list[float]:
    """The run's own training step repeated on its first batch: the losses (a healthy setup drives them
    toward 0)."""
    torch.manual_seed(0)
    model = run.make_model()
    optimizer = run.make_optimizer(model)
    optimizer.scheduler = None  # no schedule on one batch
    return [run.step(model, optimizer, run.batches[0]) for _ in range(steps)]


def input_independent_baseline(run, steps: int = 60) -> dict[str, float]:
    """Karpathy's baseline: the final loss of one batch trained with its real inputs and with zeroed
    inputs. Zeroed inputs can only learn the label frequencies; real inputs should do much better."""
    X, y = run.batches[0]
    results = {}
    for name, inputs in (("real", X), ("zeroed", torch.zeros_like(X))):
        torch.manual_seed(0)
        model = run.make_model()
        optimizer = run.make_optimizer(model)
        optimizer.scheduler = None
        losses = [run.step(model, optimizer, (inputs, y)) for _ in range(steps)]
        results[name] = float(np.mean(losses[-5:]))
    return results


def gradient_accumulates(run) -> float:
    """Two steps on the same batch from the same weights: the gradient norm left after the second over
    the first. 1 when the step zeroes the gradients, 2 when they accumulate."""
    model = run.make_model()
    optimizer = run.make_optimizer(model)
    optimizer.scheduler = None
    start = {k: v.clone() for k, v in model.state_dict().items()}
    norms = []
    for _ in range(2):
        model.load_state_dict(start)
        torch.manual_seed(0)
        run.step(model, optimizer, run.batches[0])
        norms.append(float(torch.sqrt(sum((p.grad ** 2).sum() for p in model.parameters() if p.grad is not None))))
    return norms[1] / max(norms[0], 1e-12)


def gradient_flow(run) -> dict[str, float]:
    """The gradient norm each loss term sends to the weights of a fresh model (0: a term that trains nothing)."""
    model = run.make_model()
    terms = run.loss_terms(model, run.batches[0])
    params = [p for p in model.parameters() if p.requires_grad]
    flow = {}
    for name, value in terms.items():
        if not value.requires_grad:
            flow[name] = 0.0
            continue
        grads = torch.autograd.grad(value, params, retain_graph=True, allow_unused=True)
        flow[name] = float(torch.sqrt(sum((g ** 2).sum() for g in grads if g is not None)))
    return flow


def repeatable_evaluation(run) -> bool:
    """Whether the run's evaluation predicts the validation split twice alike (dropout left active at
    evaluation makes the predictions differ)."""
    X = run.split("val")[0]
    torch.manual_seed(1)
    first = torch.as_tensor(run.predict(run.model, X))
    torch.manual_seed(2)
    return bool(torch.equal(first, torch.as_tensor(run.predict(run.model, X))))


# -- lab 08: the update/weight ratio ------------------------------------------------------------------------

def update_ratios(run, steps: int = 24) -> list[float]:
    """The update/weight ratio ||w_after - w_before|| / ||w_before|| of the first weight matrix, step by
    step, for a fresh model trained with the run's own step (and schedule) on its batches in turn."""
    torch.manual_seed(0)
    model = run.make_model()
    optimizer = run.make_optimizer(model)
    weight = next(p for p in model.parameters() if p.dim() == 2)
    ratios = []
    for i in range(steps):
        before = weight.detach().clone()
        run.step(model, optimizer, run.batches[i % len(run.batches)])
        ratios.append(float((weight.detach() - before).norm() / (before.norm() + 1e-12)))
    return ratios


# -- lab 01 and 11: the labels ---------------------------------------------------------------------------------

def _nearest_centroid(X, y):
    X, y = _rows(X), np.asarray(y)
    classes = np.unique(y)
    centroids = np.stack([X[y == c].mean(axis=0) for c in classes])
    return lambda Z: classes[np.argmin(((_rows(Z)[:, None, :] - centroids[None]) ** 2).sum(-1), axis=1)]


def batch_label_agreement(run) -> float:
    """How often the labels of the run's batches agree with a nearest-centroid classifier fitted on the
    training split (far above chance for labels that belong to their inputs)."""
    X, y = run.split("train")
    predict = _nearest_centroid(X, y)
    return float(np.mean([np.mean(predict(xb) == np.asarray(yb)) for xb, yb in run.batches]))


def label_disagreement(run, folds: int = 5) -> float:
    """The share of training labels that out-of-fold predictions of a 5-nearest-neighbour classifier
    disagree with (confident learning's first step)."""
    X, y = run.split("train")
    return float(np.mean(out_of_fold_knn(X, y, folds=folds) != np.asarray(y)))


def out_of_fold_knn(X, y, k: int = 5, folds: int = 5) -> np.ndarray:
    """Each sample's class by a majority of its ``k`` nearest neighbours in the *other* folds (sample i
    is in fold i mod ``folds``).

    >>> X = np.array([[0.0], [0.1], [0.2], [5.0], [5.1], [5.2]]); y = np.array([0, 0, 0, 1, 1, 1])
    >>> out_of_fold_knn(X, y, k=1, folds=3).tolist()
    [0, 0, 0, 1, 1, 1]
    """
    X, y = _rows(X), np.asarray(y)
    squared = (X ** 2).sum(axis=1)
    distance = squared[:, None] + squared[None, :] - 2 * X @ X.T
    fold = np.arange(len(X)) % folds
    distance[fold[:, None] == fold[None, :]] = np.inf
    nearest = np.argsort(distance, axis=1)[:, :k]
    votes = np.zeros((len(X), y.max() + 1))
    np.add.at(votes, (np.repeat(np.arange(len(X)), k), y[nearest].ravel()), 1)
    return votes.argmax(axis=1)


def classes_per_batch(run) -> float:
    """The mean number of distinct labels in the run's batches (a shuffled batch of 32 digits holds ~10)."""
    return float(np.mean([len(np.unique(np.asarray(yb))) for _, yb in run.batches]))


def confusion(run, name: str = "test") -> np.ndarray:
    """The confusion matrix of the trained model on a split (rows: true class, columns: predicted)."""
    X, y = run.split(name)
    predicted = np.asarray(run.predict(run.model, X))
    matrix = np.zeros((run.classes, run.classes), dtype=int)
    np.add.at(matrix, (np.asarray(y), predicted), 1)
    return matrix


def permuted_classes(matrix: np.ndarray) -> float:
    """The share of the samples that fall on one off-diagonal cell per row (a class-order mix-up puts
    most of them there).

    >>> permuted_classes(np.array([[1, 9], [8, 2]]))  # 17 of the 20 samples sit on the swapped cells
    0.85
    """
    off = matrix - np.diag(np.diag(matrix))
    return float(off.max(axis=1).sum() / matrix.sum())


def train_eval_gap(run) -> float:
    """Validation accuracy of the trained model in train mode (batch statistics) minus in eval mode."""
    X, y = run.split("val")
    model = run.model
    with torch.no_grad():
        model.train()
        torch.manual_seed(0)
        train_mode = float((model(X).argmax(1) == y).float().mean())
        model.eval()
        eval_mode = float((model(X).argmax(1) == y).float().mean())
    model.train()
    return train_mode - eval_mode


def has_batch_norm(model: nn.Module) -> bool:
    """Whether the model has a BatchNorm layer."""
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())


def weight_norm_change(run, steps: int = 30) -> float:
    """The norm of the weights after ``steps`` of the run's own training over its norm at the start."""
    torch.manual_seed(0)
    model = run.make_model()
    optimizer = run.make_optimizer(model)
    optimizer.scheduler = None
    norm = lambda: float(torch.sqrt(sum((p.detach() ** 2).sum() for p in model.parameters() if p.dim() == 2)))
    start = norm()
    for i in range(steps):
        run.step(model, optimizer, run.batches[i % len(run.batches)])
    return norm() / start


# -- the preflight: every probe, then the rules -----------------------------------------------------------------

def preflight(run) -> dict:
    """Every probe on ``run``, as one dict of findings (a fraction of a second on a tiny run)."""
    from course_utils.train import torch_threads

    with torch_threads(1):  # tiny models: one thread is fastest, by far on shared cores
        return _findings(run)


def _findings(run) -> dict:
    findings = {"classifier": run.classes is not None, "gradient_growth": gradient_accumulates(run),
                "update_ratios": update_ratios(run), "weight_norm_change": weight_norm_change(run),
                "first_loss": first_loss(run), "batch_size": len(run.batches[0][0])}
    if run.classes is None:
        findings["gradient_flow"] = gradient_flow(run)
        return findings
    X_train = run.split("train")[0]
    findings.update({
        "expected_first_loss": expected_first_loss(run.classes), "outputs": output_sums(run),
        "train_statistics": feature_statistics(X_train), "loads_repeat": repeatable_loads(run),
        "evaluation_repeats": repeatable_evaluation(run), "duplicates": leak_scan(run),
        "test_shift": split_shift(X_train, run.split("test")[0]), "batch_norm": has_batch_norm(run.model),
        "dead_relus": dead_relus(run), "classes_per_batch": classes_per_batch(run),
        "label_agreement": batch_label_agreement(run), "label_disagreement": label_disagreement(run),
        "permuted_test": permuted_classes(confusion(run, "test")),
    })
    return findings


#: the thresholds of :func:`diagnose`, named
RATIO_HIGH, RATIO_LOW, RATIO_COLLAPSE = 0.3, 1e-4, 0.05


def diagnose(findings: dict) -> str:
    """The bug kind the findings point to (a name of ``course_utils.clinic.KINDS``), or ``"none found"``."""
    f = findings
    if f["gradient_growth"] > 1.5:
        return "missing_zero_grad"
    if not f["classifier"] and min(f["gradient_flow"].values()) < 1e-8:
        return "detached_pinn_derivative"
    ratios = f["update_ratios"]
    if f["classifier"]:
        if f["outputs"]["min"] >= 0 and f["outputs"]["rows"] < 1e-4:
            return "softmax_before_cross_entropy"
        if f["outputs"]["min"] >= 0 and f["outputs"]["columns"] < 1e-4:
            return "softmax_dim0"
        stats = f["train_statistics"]
        if stats["scale"] > 5 or stats["mean_std"] > 5:
            return "unnormalized_inputs"
        if stats["max_abs_mean"] > 1e-3:
            return "leaked_normalization"
        if not f["loads_repeat"]["test"]:
            return "augmentation_on_test"
        if not f["evaluation_repeats"]:
            return "eval_mode_forgotten"
        if max(f["duplicates"]["val"], f["duplicates"]["test"]) > 0.05:
            return "train_test_duplicates"
        if f["duplicates"]["train"] > 0.05:
            return "blank_samples"
        if f["test_shift"] > 0.5:
            return "train_serve_skew"
        if f["batch_norm"] and f["batch_size"] < 16:
            return "batchnorm_small_batch"
        if f["dead_relus"] > 0.5:
            return "dead_relus_bad_init"
        if f["first_loss"] > 2 * f["expected_first_loss"]:
            return "exploding_init"
    if max(ratios[:3]) > RATIO_HIGH:  # the first steps (momentum builds up over them)
        return "lr_too_high"
    if np.median(ratios) < RATIO_LOW:
        return "lr_too_low"
    if ratios[-1] < RATIO_COLLAPSE * ratios[0]:
        return "scheduler_per_batch"
    if f["weight_norm_change"] < 0.7:
        return "weight_decay_too_strong"
    if f["classifier"]:
        if f["classes_per_batch"] <= 3:
            return "unshuffled_sorted_batches"
        if f["label_agreement"] < 0.5:
            return "labels_shuffled_apart"
        if f["label_disagreement"] > 0.15:
            return "label_noise"
        if f["permuted_test"] > 0.5:
            return "wrong_class_order"
    return "none found"
