"""The bug clinic: broken training runs drawn from a catalogue of the bugs the course teaches.

:func:`broken_run` draws a bug from :data:`KINDS` (from the seed) and trains a tiny network with it --
an MLP on scikit-learn's digits, or a small PINN for a heat equation -- then hands back what a
practitioner sees: the log, the curves, the monitors (update ratios, activation statistics, weight
norms, the learning rate), the first few batches, and handles to run probes on (a fresh model as the run
initializes it, its optimizer, one training step, its loss, its evaluation, its data splits as the
pipeline delivers them). Never the bug's name. :meth:`Run.retrain` trains the same run again with one
of :data:`FIXES` applied, so that a fix can be verified.

Everything is seeded: the same seed gives the same run, the same numbers. A run builds in well under a
second; nothing is stored on disk.

>>> run = broken_run(3)
>>> run.task in TASKS and len(run.log) > 3 and run.history["train_loss"] == broken_run(3).history["train_loss"]
True
>>> kind_of(3) in KINDS and sorted(fixes_for(kind_of(3)))[0] in FIXES
True
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field, replace
from typing import Any, Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from course_utils.train import torch_threads

DIGITS = "digits: 10 classes of 8x8 handwritten digits (64 features), a small MLP trained with SGD"
HEAT = ("heat: a PINN for u_t = k u_xx on x in [-1, 1], t in [0, 1], u(x, 0) = -sin(pi x), periodic by its input "
        "features, trained with Adam")
TASKS = (DIGITS, HEAT)


@dataclass(frozen=True)
class Kind:
    """One bug of the catalogue: what it is, the fix that repairs it, and the evidence that shows it."""

    name: str
    what: str
    fix: str
    evidence: str
    tasks: tuple[str, ...] = (DIGITS,)


#: the fixes a learner chooses from; the first ones repair a bug each, the last ones repair none
FIX_SCALER_ON_TRAIN = "fit the normalization statistics on the training split only"
FIX_DEDUPLICATE = "remove the test samples that duplicate training samples"
FIX_SOFTMAX_DIM = "take the softmax over the classes (dim=1), not over the batch"
FIX_NO_SOFTMAX = "remove the softmax: CrossEntropyLoss takes logits"
FIX_BIGGER_BATCH = "use batches of 32 or more with BatchNorm"
FIX_SAME_PIPELINE = "serve with the same fitted preprocessing as training"
FIX_LOWER_LR = "lower the learning rate"
FIX_HIGHER_LR = "raise the learning rate"
FIX_ZERO_GRAD = "call optimizer.zero_grad() before every backward()"
FIX_EVAL_MODE = "call model.eval() before evaluating"
FIX_ONE_PERMUTATION = "shuffle inputs and labels with the same permutation"
FIX_CLASS_ORDER = "encode the test labels with the training class order"
FIX_STANDARDIZE = "standardize the inputs (statistics of the training split)"
FIX_HE_INIT = "use He initialization with zero biases"
FIX_KEEP_GRAPH = "keep the PDE derivatives in the graph (create_graph=True, no detach)"
FIX_SCHEDULER_EPOCH = "step the scheduler once per epoch, not per batch"
FIX_AUGMENT_TRAIN_ONLY = "augment the training split only, never the test split"
FIX_RELABEL = "relabel or drop the training samples whose labels disagree with the data"
FIX_SHUFFLE = "shuffle the training set every epoch"
FIX_LESS_DECAY = "lower the weight decay"
FIX_DROP_BLANK = "drop the blank (corrupt) training samples"
DECOYS = ("clip the gradients", "train for more epochs", "add dropout", "use a bigger network")

KINDS: dict[str, Kind] = {k.name: k for k in (
    Kind("leaked_normalization", "the standardization statistics were computed on all splits, test included",
         FIX_SCALER_ON_TRAIN, "the training features are standardized but not with their own statistics: their "
         "means are not 0 (the scaler saw the other splits)"),
    Kind("train_test_duplicates", "copies of training samples sit in the test split",
         FIX_DEDUPLICATE, "a leak scan finds test rows identical to training rows"),
    Kind("softmax_dim0", "the model's last layer is a softmax over the batch axis (dim=0)",
         FIX_SOFTMAX_DIM, "the model's outputs sum to 1 over the batch (each column), not over the classes; "
         "a sample's prediction depends on the rest of its batch"),
    Kind("softmax_before_cross_entropy", "a softmax feeds CrossEntropyLoss, which applies its own",
         FIX_NO_SOFTMAX, "the model's outputs are probabilities (rows sum to 1), so the loss cannot go below "
         "about 1.46 even on one batch it overfits"),
    Kind("batchnorm_small_batch", "BatchNorm trained with batches of 4",
         FIX_BIGGER_BATCH, "the batches hold 4 samples and the model has a BatchNorm layer: its statistics are "
         "noisy, and the accuracy in eval mode falls below the accuracy in train mode"),
    Kind("train_serve_skew", "the test split is served without the training preprocessing",
         FIX_SAME_PIPELINE, "the test features have another mean and scale than the training features, although "
         "they come from the same distribution"),
    Kind("lr_too_high", "a learning rate far too high", FIX_LOWER_LR,
         "the update/weight ratio is large from the very first step, and the loss jumps", (DIGITS, HEAT)),
    Kind("lr_too_low", "a learning rate far too low", FIX_HIGHER_LR,
         "the update/weight ratio is tiny from the first step on, and the loss barely moves", (DIGITS, HEAT)),
    Kind("missing_zero_grad", "optimizer.zero_grad() is never called: gradients accumulate",
         FIX_ZERO_GRAD, "two steps on the same batch from the same weights leave twice the gradient: the "
         "gradients accumulate", (DIGITS, HEAT)),
    Kind("eval_mode_forgotten", "the evaluation runs in train mode (dropout active)",
         FIX_EVAL_MODE, "evaluating the same model on the same data twice gives two different accuracies"),
    Kind("labels_shuffled_apart", "the loader shuffles the labels with their own permutation",
         FIX_ONE_PERMUTATION, "the batches' labels do not match their inputs (a simple classifier fitted on the "
         "training split agrees with them at chance level), while one batch still overfits"),
    Kind("wrong_class_order", "the test labels use another class order than the training labels",
         FIX_CLASS_ORDER, "the test confusion matrix is a permutation: each true class goes to one other "
         "class, while the validation accuracy is high"),
    Kind("unnormalized_inputs", "raw pixel values (0 to 255) go into the network",
         FIX_STANDARDIZE, "the input features have a mean near 30 and a standard deviation near 80, not 0 and 1"),
    Kind("dead_relus_bad_init", "the first layer's biases start at -10: every ReLU is dead",
         FIX_HE_INIT, "the activation statistics of a fresh model: nearly every ReLU unit outputs 0 on a "
         "whole batch"),
    Kind("exploding_init", "weights drawn from N(0, 1): the logits start huge",
         FIX_HE_INIT, "the first loss is far above ln C: the fresh model is confidently wrong"),
    Kind("detached_pinn_derivative", "the PDE derivatives are taken without create_graph: the residual has "
         "no gradient", FIX_KEEP_GRAPH, "the residual term sends no gradient to the weights (its gradient "
         "norm is 0) and its curve does not fall", (HEAT,)),
    Kind("scheduler_per_batch", "a step scheduler meant per epoch is stepped per batch",
         FIX_SCHEDULER_EPOCH, "the learning rate and the update ratio collapse within the first epoch, then "
         "the loss stalls", (DIGITS, HEAT)),
    Kind("augmentation_on_test", "the test split is augmented (noise and shifts) at every load",
         FIX_AUGMENT_TRAIN_ONLY, "loading the test split twice gives two different arrays"),
    Kind("label_noise", "a third of the training labels are wrong",
         FIX_RELABEL, "out-of-fold predictions of a simple classifier disagree with about a third of the "
         "training labels"),
    Kind("unshuffled_sorted_batches", "the training set is sorted by class and never shuffled",
         FIX_SHUFFLE, "each batch holds one or two classes only"),
    Kind("weight_decay_too_strong", "a weight decay of 0.5",
         FIX_LESS_DECAY, "the weight norms shrink step after step while the loss stays high"),
    Kind("blank_samples", "a quarter of the training images are blank (all zeros) with their labels kept",
         FIX_DROP_BLANK, "many training rows are identical to one another (the same blank image)"),
)}
KIND_NAMES = tuple(KINDS)
FIXES = tuple(dict.fromkeys([kind.fix for kind in KINDS.values()])) + DECOYS


def fixes_for(kind: str) -> list[str]:
    """The fixes that repair ``kind`` (one here; the course does not grade a fix that hides the bug).

    >>> fixes_for("lr_too_high")
    ['lower the learning rate']
    """
    return [KINDS[kind].fix]


def kind_of(seed: int) -> str:
    """The bug a seed draws (the clinic's answer key: the checks use it, the learner does not)."""
    return KIND_NAMES[int(np.random.default_rng([int(seed), 1212]).integers(len(KIND_NAMES)))]


# -- the configuration a run is built from ----------------------------------------------------------------

@dataclass(frozen=True)
class _Config:
    seed: int
    task: str = DIGITS
    hidden: int = 48
    batch_norm: bool = False
    batch_size: int = 32
    lr: float = 0.05
    epochs: int = 8
    weight_decay: float = 5e-4
    normalize: str = "train"        # "train" | "all" | "none"
    serve: str = "same"             # "same" | "raw"
    softmax: int | None = None      # None | 0 | 1
    zero_grad: bool = True
    eval_mode: bool = True
    labels_apart: bool = False
    test_order: bool = True         # False: test labels in another class order
    init: str = "he"                # "he" | "dead" | "large"
    keep_graph: bool = True
    scheduler: str = "epoch"        # "epoch" | "batch"
    augment_test: bool = False
    label_noise: float = 0.0
    shuffle: bool = True
    blank: float = 0.0
    duplicates: float = 0.0
    dropout: float = 0.2
    clip: float | None = None


def _healthy_config(seed: int, task: str = DIGITS, batch_norm: bool | None = None) -> _Config:
    rng = np.random.default_rng([int(seed), 77])
    if task == HEAT:
        return _Config(seed, task, hidden=int(rng.choice([12, 16])), lr=float(rng.uniform(0.02, 0.04)),
                       epochs=8, batch_size=64, weight_decay=0.0)
    return _Config(seed, task, hidden=int(rng.choice([32, 48, 64])),
                   batch_norm=bool(rng.integers(2)) if batch_norm is None else batch_norm,
                   batch_size=int(rng.choice([32, 48])), lr=float(rng.uniform(0.03, 0.08)))


_BUGS: dict[str, Callable[[_Config], _Config]] = {
    "leaked_normalization": lambda c: replace(c, normalize="all"),
    "train_test_duplicates": lambda c: replace(c, duplicates=0.3),
    "softmax_dim0": lambda c: replace(c, softmax=0),
    "softmax_before_cross_entropy": lambda c: replace(c, softmax=1),
    "batchnorm_small_batch": lambda c: replace(c, batch_size=4, epochs=2),
    "train_serve_skew": lambda c: replace(c, serve="raw"),
    "lr_too_high": lambda c: replace(c, lr=c.lr * (100.0 if c.task == DIGITS else 60.0)),
    "lr_too_low": lambda c: replace(c, lr=c.lr * 1e-4),
    "missing_zero_grad": lambda c: replace(c, zero_grad=False),
    "eval_mode_forgotten": lambda c: replace(c, eval_mode=False),
    "labels_shuffled_apart": lambda c: replace(c, labels_apart=True),
    "wrong_class_order": lambda c: replace(c, test_order=False),
    "unnormalized_inputs": lambda c: replace(c, normalize="none"),
    "dead_relus_bad_init": lambda c: replace(c, init="dead"),
    "exploding_init": lambda c: replace(c, init="large"),
    "detached_pinn_derivative": lambda c: replace(c, keep_graph=False),
    "scheduler_per_batch": lambda c: replace(c, scheduler="batch"),
    "augmentation_on_test": lambda c: replace(c, augment_test=True),
    "label_noise": lambda c: replace(c, label_noise=1 / 3),
    "unshuffled_sorted_batches": lambda c: replace(c, shuffle=False),
    "weight_decay_too_strong": lambda c: replace(c, weight_decay=0.5),
    "blank_samples": lambda c: replace(c, blank=0.25),
}

#: the bugs that need a BatchNorm layer, or its absence (BatchNorm would hide them), to happen
_BATCH_NORM = {"batchnorm_small_batch": True, "dead_relus_bad_init": False, "unnormalized_inputs": False,
               "exploding_init": False}

#: what each fix sets back (a fix that is not the bug's own leaves the bug in place)
_REPAIRS: dict[str, Callable[[_Config, _Config], _Config]] = {
    FIX_SCALER_ON_TRAIN: lambda c, h: replace(c, normalize="train") if c.normalize == "all" else c,
    FIX_DEDUPLICATE: lambda c, h: replace(c, duplicates=0.0),
    FIX_SOFTMAX_DIM: lambda c, h: replace(c, softmax=None) if c.softmax == 0 else c,
    FIX_NO_SOFTMAX: lambda c, h: replace(c, softmax=None) if c.softmax == 1 else c,
    FIX_BIGGER_BATCH: lambda c, h: replace(c, batch_size=h.batch_size, epochs=h.epochs) if c.batch_size < 16 else c,
    FIX_SAME_PIPELINE: lambda c, h: replace(c, serve="same"),
    FIX_LOWER_LR: lambda c, h: replace(c, lr=h.lr) if c.lr > h.lr else c,
    FIX_HIGHER_LR: lambda c, h: replace(c, lr=h.lr) if c.lr < h.lr else c,
    FIX_ZERO_GRAD: lambda c, h: replace(c, zero_grad=True),
    FIX_EVAL_MODE: lambda c, h: replace(c, eval_mode=True),
    FIX_ONE_PERMUTATION: lambda c, h: replace(c, labels_apart=False),
    FIX_CLASS_ORDER: lambda c, h: replace(c, test_order=True),
    FIX_STANDARDIZE: lambda c, h: replace(c, normalize="train") if c.normalize == "none" else c,
    FIX_HE_INIT: lambda c, h: replace(c, init="he"),
    FIX_KEEP_GRAPH: lambda c, h: replace(c, keep_graph=True),
    FIX_SCHEDULER_EPOCH: lambda c, h: replace(c, scheduler="epoch"),
    FIX_AUGMENT_TRAIN_ONLY: lambda c, h: replace(c, augment_test=False),
    FIX_RELABEL: lambda c, h: replace(c, label_noise=0.0),
    FIX_SHUFFLE: lambda c, h: replace(c, shuffle=True),
    FIX_LESS_DECAY: lambda c, h: replace(c, weight_decay=h.weight_decay),
    FIX_DROP_BLANK: lambda c, h: replace(c, blank=0.0),
    # the decoys do what they say, and repair nothing
    "clip the gradients": lambda c, h: replace(c, clip=1.0),
    "train for more epochs": lambda c, h: replace(c, epochs=2 * c.epochs),
    "add dropout": lambda c, h: replace(c, dropout=0.5),
    "use a bigger network": lambda c, h: replace(c, hidden=2 * c.hidden),
}


def _config(seed: int, kind: str | None) -> tuple[_Config, _Config]:
    """(the broken configuration, the healthy one it came from) of ``seed`` with the bug ``kind``."""
    rng = np.random.default_rng([int(seed), 5])
    tasks = KINDS[kind].tasks if kind else (DIGITS,)
    task = tasks[0] if len(tasks) == 1 else (HEAT if rng.random() < 1 / 3 else DIGITS)
    healthy = _healthy_config(seed, task, _BATCH_NORM.get(kind))
    return (_BUGS[kind](healthy) if kind else healthy), healthy


# -- the run a practitioner sees ---------------------------------------------------------------------------

@dataclass
class Run:
    """A finished training run: what it printed and measured, and handles to probe it.

    * ``log`` -- the lines the training script printed; ``history`` -- curves per epoch (``train_loss``,
      ``val_loss``, ``val_metric``, ``lr``; for the PINN the loss terms too); ``monitors`` -- per epoch
      ``update_ratio`` (first layer), ``activation_mean``/``activation_std``/``dead_share`` (hidden units on
      a validation batch), ``weight_norm``; ``batches`` -- the first three training batches;
    * ``model`` -- the trained model; ``make_model()`` -- a fresh model as the run initializes it;
      ``make_optimizer(model)`` -- its optimizer (and scheduler: ``optimizer.scheduler``);
      ``step(model, optimizer, batch)`` -- one training step exactly as the run does it (returns the
      loss); ``loss_terms(model, batch)`` -- the loss as the run computes it, term by term;
      ``split(name)`` -- ``"train"``, ``"val"`` or ``"test"`` as the pipeline delivers it (a pair ``X, y``);
      ``evaluate(model, name)`` -- the run's evaluation of a split (accuracy; for the PINN, relative L2
      error); ``predict(model, X)`` -- the run's predictions;
    * ``retrain(fix)`` -- the same run trained again with one of :data:`FIXES` applied.
    """

    task: str
    classes: int | None
    log: list[str]
    history: dict[str, list[float]]
    monitors: dict[str, list[float]]
    batches: list[tuple]
    model: nn.Module
    make_model: Callable[[], nn.Module]
    make_optimizer: Callable[[nn.Module], torch.optim.Optimizer]
    step: Callable[..., float]
    loss_terms: Callable[..., dict]
    split: Callable[[str], tuple]
    evaluate: Callable[[nn.Module, str], float]
    predict: Callable[[nn.Module, Any], Any]
    retrain: Callable[[str], "Run"] = field(repr=False)

    def __repr__(self) -> str:
        return f"Run({self.task.split(':')[0]}, {len(self.log)} log lines)"

    def show(self, ax=None):
        """The curves in one figure: the losses (log scale) and the validation metric per epoch."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(1, 2, figsize=(8, 2.6))
        epochs = range(1, len(self.history["train_loss"]) + 1)
        for key in [k for k in self.history if k.endswith("loss")]:
            ax[0].plot(epochs, self.history[key], marker="o", ms=3, label=key)
        ax[0].set(yscale="log", xlabel="epoch", title="losses")
        ax[0].legend(fontsize=7)
        ax[1].plot(epochs, self.history["val_metric"], marker="o", ms=3)
        ax[1].set(xlabel="epoch", title="validation " + ("accuracy" if self.classes else "relative L2 error"))
        return ax


def broken_run(seed: int, kind: str | None = None) -> Run:
    """The run of ``seed``: a bug drawn from the catalogue (or ``kind``), trained and monitored."""
    kind = kind_of(seed) if kind is None else kind
    if kind not in KINDS:
        raise ValueError(f"unknown bug kind {kind!r}: one of {', '.join(KIND_NAMES)}")
    config, healthy = _config(seed, kind)
    return _build(config, healthy)


def healthy_run(seed: int, task: str = DIGITS) -> Run:
    """The same recipe without any bug (the lessons compare broken runs with it)."""
    config = _healthy_config(seed, task)
    return _build(config, config)


def _build(config: _Config, healthy: _Config) -> Run:
    with torch_threads(1):
        run = _build_heat(config) if config.task == HEAT else _build_digits(config)
    run.retrain = lambda fix: _retrain(config, healthy, fix)
    return run


def _retrain(config: _Config, healthy: _Config, fix: str) -> Run:
    if fix not in FIXES:
        raise ValueError(f"unknown fix {fix!r}: one of clinic.FIXES")
    return _build(_REPAIRS[fix](config, healthy), healthy)


def repaired(seed: int, kind: str, fix: str) -> bool:
    """Whether ``fix`` turns the broken configuration of ``seed`` back into the healthy one."""
    config, healthy = _config(seed, kind)
    return _REPAIRS[fix](config, healthy) == healthy


# -- digits ---------------------------------------------------------------------------------------------

N_TRAIN, N_VAL, N_TEST = 600, 300, 300


@functools.lru_cache(maxsize=1)
def _digits() -> tuple[np.ndarray, np.ndarray]:
    from course_utils.data import load_digits

    return load_digits()


def _standardize(fit_on: np.ndarray):
    mean, std = fit_on.mean(axis=0), fit_on.std(axis=0)
    std = np.where(std < 1e-8, 1.0, std)
    return lambda X: ((X - mean) / std).astype(np.float32)


def _shifted(images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Each 8x8 image moved by one pixel in a random direction, plus pixel noise (an augmentation)."""
    out = images.reshape(-1, 8, 8).copy()
    for i in range(len(out)):
        out[i] = np.roll(out[i], shift=(int(rng.integers(-1, 2)), int(rng.integers(-1, 2))), axis=(0, 1))
    return out.reshape(len(images), 64) + rng.normal(0.0, 0.1, size=(len(images), 64)).astype(np.float32)


def _digits_data(c: _Config):
    X, y = _digits()
    rng = np.random.default_rng([c.seed, 11])
    order = rng.permutation(len(X))[:N_TRAIN + N_VAL + N_TEST]
    Xtr, ytr = X[order[:N_TRAIN]].copy(), y[order[:N_TRAIN]].copy()
    Xva, yva = X[order[N_TRAIN:N_TRAIN + N_VAL]], y[order[N_TRAIN:N_TRAIN + N_VAL]]
    Xte, yte = X[order[N_TRAIN + N_VAL:]].copy(), y[order[N_TRAIN + N_VAL:]].copy()
    if c.duplicates:
        rows = rng.choice(N_TEST, int(c.duplicates * N_TEST), replace=False)
        source = rng.choice(N_TRAIN, len(rows), replace=False)
        Xte[rows], yte[rows] = Xtr[source], ytr[source]
    if c.blank:
        rows = rng.choice(N_TRAIN, int(c.blank * N_TRAIN), replace=False)
        Xtr[rows] = 0.0
    if c.label_noise:
        rows = rng.choice(N_TRAIN, int(c.label_noise * N_TRAIN), replace=False)
        ytr[rows] = (ytr[rows] + rng.integers(1, 10, len(rows))) % 10
    if not c.test_order:
        yte = 9 - yte
    if c.normalize == "none":
        transform = lambda X: (X * 255.0).astype(np.float32)
    else:
        transform = _standardize(Xtr if c.normalize == "train" else np.concatenate([Xtr, Xva, Xte]))
    serve = (lambda X: X.astype(np.float32)) if c.serve == "raw" else transform
    splits = {"train": (transform(Xtr), ytr), "val": (transform(Xva), yva)}
    loads = {"test": 0}

    def split(name: str):
        if name == "test":
            loads["test"] += 1
            raw = _shifted(Xte, np.random.default_rng([c.seed, 13, loads["test"]])) if c.augment_test else Xte
            return torch.from_numpy(serve(raw)), torch.from_numpy(yte)
        if name not in splits:
            raise ValueError("a split is 'train', 'val' or 'test'")
        X_, y_ = splits[name]
        return torch.from_numpy(X_.copy()), torch.from_numpy(y_.copy())

    return split


def _digits_model(c: _Config) -> nn.Module:
    torch.manual_seed(c.seed * 7 + 1)
    layers: list[nn.Module] = [nn.Linear(64, c.hidden)]
    if c.batch_norm:
        layers.append(nn.BatchNorm1d(c.hidden))
    layers += [nn.ReLU(), nn.Dropout(c.dropout), nn.Linear(c.hidden, 10)]
    if c.softmax is not None:
        layers.append(nn.Softmax(dim=c.softmax))
    model = nn.Sequential(*layers)
    for layer in model:
        if isinstance(layer, nn.Linear):
            if c.init == "large":
                nn.init.normal_(layer.weight, 0.0, 1.0)
            else:
                nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
            nn.init.zeros_(layer.bias)
    if c.init == "dead":
        nn.init.constant_(model[0].bias, -10.0)
    return model


def _optimizer(model: nn.Module, c: _Config) -> torch.optim.Optimizer:
    if c.task == HEAT:
        optimizer = torch.optim.Adam(model.parameters(), lr=c.lr)
    else:
        optimizer = torch.optim.SGD(model.parameters(), lr=c.lr, momentum=0.9, weight_decay=c.weight_decay)
    gamma = 0.5 if c.task == DIGITS else 0.7
    optimizer.scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=3, gamma=gamma)
    return optimizer


def _digits_loss(c: _Config, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    if c.softmax == 0:
        return F.nll_loss(torch.log(out + 1e-12), y)
    return F.cross_entropy(out, y)


def _training_step(c: _Config, loss_terms: Callable) -> Callable[..., float]:
    """One step as the run's loop does it: the bugs of the training step live here."""

    def step(model, optimizer, batch):
        model.train()
        if c.zero_grad:
            optimizer.zero_grad()
        loss = sum(loss_terms(model, batch).values())
        loss.backward()
        if c.clip:
            nn.utils.clip_grad_norm_(model.parameters(), c.clip)
        optimizer.step()
        if c.scheduler == "batch" and getattr(optimizer, "scheduler", None) is not None:
            optimizer.scheduler.step()
        return float(loss.detach())

    return step


def _monitored_step(step, model, optimizer, batch) -> tuple[float, float]:
    """(the loss, the update/weight ratio of the first weight matrix) of one step."""
    before = _first_weight(model).detach().clone()
    loss = step(model, optimizer, batch)
    return loss, float((_first_weight(model).detach() - before).norm() / (before.norm() + 1e-12))


def _record_monitors(monitors: dict, model: nn.Module, hidden: torch.Tensor, ratios: list, dead: torch.Tensor):
    monitors["update_ratio"].append(float(np.median(ratios)))
    monitors["activation_mean"].append(float(hidden.mean()))
    monitors["activation_std"].append(float(hidden.std()))
    monitors["dead_share"].append(float(dead))
    monitors["weight_norm"].append(_weight_norm(model))


def _first_weight(model: nn.Module) -> torch.Tensor:
    return next(p for p in model.parameters() if p.dim() == 2)


def _weight_norm(model: nn.Module) -> float:
    return float(torch.sqrt(sum((p.detach() ** 2).sum() for p in model.parameters() if p.dim() == 2)))


def _build_digits(c: _Config) -> Run:
    split = _digits_data(c)
    Xtr, ytr = split("train")
    Xva, yva = split("val")

    def make_model():
        return _digits_model(c)

    def make_optimizer(model):
        return _optimizer(model, c)

    def loss_terms(model, batch):
        X, y = batch
        return {"cross_entropy": _digits_loss(c, model(X), y)}

    step = _training_step(c, loss_terms)

    def predict(model, X):
        if c.eval_mode:
            model.eval()
        with torch.no_grad():
            out = model(torch.as_tensor(X, dtype=torch.float32))
        model.train()
        return out.argmax(dim=1)

    def evaluate(model, name):
        X, y = split(name)
        return float((predict(model, X) == y).float().mean())

    def eval_loss(model, X, y):
        if c.eval_mode:
            model.eval()
        with torch.no_grad():
            loss = _digits_loss(c, model(X), y)
        model.train()
        return float(loss)

    model = make_model()
    optimizer = make_optimizer(model)
    generator = torch.Generator().manual_seed(c.seed)
    if not c.shuffle:
        by_class = torch.argsort(ytr, stable=True)
        Xtr, ytr = Xtr[by_class], ytr[by_class]
    history = {"train_loss": [], "val_loss": [], "val_metric": [], "lr": []}
    monitors = {"update_ratio": [], "activation_mean": [], "activation_std": [], "dead_share": [],
                "weight_norm": []}
    log, batches = [f"task: {c.task}", f"model: {_describe(model)}", f"{len(Xtr)} training samples, batch size "
                    f"{c.batch_size}, {c.epochs} epochs, SGD lr {c.lr:.3g} momentum 0.9"], []
    probe_batch = Xva[:128]
    for epoch in range(c.epochs):
        order = torch.randperm(len(Xtr), generator=generator) if c.shuffle else torch.arange(len(Xtr))
        label_order = torch.randperm(len(Xtr), generator=generator) if c.labels_apart else order
        losses, ratios = [], []
        history["lr"].append(optimizer.param_groups[0]["lr"])
        for start in range(0, len(Xtr), c.batch_size):
            batch = (Xtr[order[start:start + c.batch_size]], ytr[label_order[start:start + c.batch_size]])
            if len(batches) < 3:
                batches.append(batch)
            loss, ratio = _monitored_step(step, model, optimizer, batch)
            losses.append(loss)
            ratios.append(ratio)
        if c.scheduler == "epoch":
            optimizer.scheduler.step()
        hidden = _hidden_outputs(model, probe_batch)
        history["train_loss"].append(float(np.mean(losses)))
        history["val_loss"].append(eval_loss(model, Xva, yva))
        history["val_metric"].append(evaluate(model, "val"))
        _record_monitors(monitors, model, hidden, ratios, (hidden.amax(dim=0) <= 0).float().mean())
        log.append(f"epoch {epoch + 1}/{c.epochs}  train loss {history['train_loss'][-1]:.4g}  val loss "
                   f"{history['val_loss'][-1]:.4g}  val accuracy {history['val_metric'][-1]:.3f}")
    log.append(f"test accuracy {evaluate(model, 'test'):.3f}")
    return Run(c.task, 10, log, history, monitors, batches, model, make_model, make_optimizer, step, loss_terms,
               split, evaluate, predict, retrain=None)


def _hidden_outputs(model: nn.Module, X: torch.Tensor) -> torch.Tensor:
    """The outputs of the first activation layer on ``X`` (eval mode, no gradient)."""
    was = model.training
    model.eval()
    with torch.no_grad():
        h = X
        for layer in model:
            h = layer(h)
            if isinstance(layer, (nn.ReLU, nn.Tanh)):
                break
    model.train(was)
    return h


def _describe(model: nn.Module) -> str:
    return " -> ".join(type(layer).__name__ + (f"({layer.in_features}, {layer.out_features})"
                                               if isinstance(layer, nn.Linear) else "") for layer in model)


# -- heat (PINN) ----------------------------------------------------------------------------------------

HEAT_K = 0.1
HEAT_STEPS = 8  # steps per epoch


def heat_exact(x, t):
    """The exact solution of the clinic's heat problem: -sin(pi x) exp(-k pi^2 t)."""
    return -np.sin(np.pi * x) * np.exp(-HEAT_K * np.pi ** 2 * t)


class _Periodic(nn.Module):
    """(x, t) -> (sin pi x, cos pi x, t): the network is periodic in x by construction."""

    def forward(self, xt):
        x, t = xt[:, :1], xt[:, 1:]
        return torch.cat([torch.sin(math.pi * x), torch.cos(math.pi * x), t], 1)


def _heat_model(c: _Config) -> nn.Module:
    torch.manual_seed(c.seed * 7 + 2)
    return nn.Sequential(_Periodic(), nn.Linear(3, c.hidden), nn.Tanh(), nn.Linear(c.hidden, 1))


def _heat_points(c: _Config, draw: int):
    g = torch.Generator().manual_seed(c.seed * 1000 + draw)
    x = torch.rand(c.batch_size, 1, generator=g) * 2 - 1
    t = torch.rand(c.batch_size, 1, generator=g)
    x0 = torch.rand(c.batch_size // 2, 1, generator=g) * 2 - 1
    return (torch.cat([x, t], 1), x0)


def _build_heat(c: _Config) -> Run:
    def make_model():
        return _heat_model(c)

    def make_optimizer(model):
        return _optimizer(model, c)

    def loss_terms(model, batch):
        points, x0 = batch
        xt = points.clone().requires_grad_(True)
        u = model(xt)
        du = torch.autograd.grad(u.sum(), xt, create_graph=True)[0]
        u_x, u_t = du[:, :1], du[:, 1:]
        u_xx = torch.autograd.grad(u_x.sum(), xt, create_graph=True)[0][:, :1]
        if not c.keep_graph:  # the bug: derivatives used as constants
            u_t, u_xx = u_t.detach(), u_xx.detach()
        residual = ((u_t - HEAT_K * u_xx) ** 2).mean()
        initial = ((model(torch.cat([x0, torch.zeros_like(x0)], 1)) + torch.sin(math.pi * x0)) ** 2).mean()
        return {"initial": initial, "residual": residual}

    step = _training_step(c, loss_terms)

    xs, ts = np.meshgrid(np.linspace(-1, 1, 41), np.linspace(0, 1, 21))
    grid = torch.tensor(np.stack([xs.ravel(), ts.ravel()], 1), dtype=torch.float32)
    exact = heat_exact(xs.ravel(), ts.ravel())

    def predict(model, X):
        with torch.no_grad():
            return model(torch.as_tensor(X, dtype=torch.float32))[:, 0]

    def evaluate(model, name):
        u = predict(model, grid).numpy()
        return float(np.linalg.norm(u - exact) / np.linalg.norm(exact))

    def split(name):
        if name == "train":
            points = _heat_points(c, 0)[0]
            return points, None
        if name in ("val", "test"):
            return grid.clone(), torch.tensor(exact, dtype=torch.float32)
        raise ValueError("a split is 'train', 'val' or 'test'")

    model = make_model()
    optimizer = make_optimizer(model)
    history = {"train_loss": [], "initial_loss": [], "residual_loss": [], "val_metric": [],
               "lr": []}
    monitors = {"update_ratio": [], "activation_mean": [], "activation_std": [], "dead_share": [],
                "weight_norm": []}
    log, batches = [f"task: {c.task}", f"model: {_describe(model)}", f"{c.batch_size} collocation points per "
                    f"step, {HEAT_STEPS} steps per epoch, {c.epochs} epochs, Adam lr {c.lr:.3g}"], []
    draw = 0
    for epoch in range(c.epochs):
        history["lr"].append(optimizer.param_groups[0]["lr"])
        ratios, terms = [], []
        for _ in range(HEAT_STEPS):
            batch = _heat_points(c, draw)
            draw += 1
            if len(batches) < 3:
                batches.append(batch)
            ratios.append(_monitored_step(step, model, optimizer, batch)[1])
        if c.scheduler == "epoch":
            optimizer.scheduler.step()
        terms = {k: float(v.detach()) for k, v in loss_terms(model, _heat_points(c, 10_000)).items()}
        history["train_loss"].append(sum(terms.values()))
        for k, v in terms.items():
            history[f"{k}_loss"].append(v)
        history["val_metric"].append(evaluate(model, "val"))
        hidden = _hidden_outputs(model, grid[:128])
        _record_monitors(monitors, model, hidden, ratios, (hidden.abs() > 0.99).float().mean())  # saturated tanh
        log.append(f"epoch {epoch + 1}/{c.epochs}  loss {history['train_loss'][-1]:.4g}  (initial "
                   f"{terms['initial']:.3g}, residual {terms['residual']:.3g})  "
                   f"relative L2 {history['val_metric'][-1]:.3f}")
    return Run(c.task, None, log, history, monitors, batches, model, make_model, make_optimizer, step, loss_terms,
               split, evaluate, predict, retrain=None)
