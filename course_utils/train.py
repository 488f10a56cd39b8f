"""A tiny, readable training loop shared by the lessons.

Everything a lesson needs to train a small network on a CPU in seconds, and
nothing more: read :func:`train_epoch` and :func:`fit` once, they are the whole loop.

>>> from course_utils.data import make_moons, set_seed
>>> X, y = make_moons(200, seed=0)
>>> _ = set_seed(0)
>>> model = mlp([2, 16, 2])
>>> history = fit(model, X, y, epochs=30, lr=0.5)
>>> history["train_loss"][-1] < history["train_loss"][0]
True
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, Iterator, Sequence

import numpy as np
import torch
from torch import nn

ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "linear": nn.Identity,
}


def mlp(sizes: Sequence[int], activation: str = "relu") -> nn.Sequential:
    """A multilayer perceptron: ``Linear`` layers of ``sizes`` with an activation between them.

    >>> mlp([4, 8, 3], "tanh")
    Sequential(
      (0): Linear(in_features=4, out_features=8, bias=True)
      (1): Tanh()
      (2): Linear(in_features=8, out_features=3, bias=True)
    )
    """
    layers: list[nn.Module] = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(n_in, n_out))
        if i < len(sizes) - 2:
            layers.append(ACTIVATIONS[activation]())
    return nn.Sequential(*layers)


def accuracy(logits: torch.Tensor, y: torch.Tensor) -> float:
    """Fraction of rows whose largest logit is the true class."""
    return (logits.argmax(dim=1) == y).float().mean().item()


@torch.no_grad()
def evaluate(model: nn.Module, X, y, loss_fn: nn.Module | None = None) -> dict[str, float]:
    """Loss and accuracy of ``model`` on ``(X, y)``, in evaluation mode."""
    X, y = _tensors(X, y)
    loss_fn = loss_fn or nn.CrossEntropyLoss()
    was_training = model.training
    model.eval()
    logits = model(X)
    model.train(was_training)
    return {"loss": loss_fn(logits, y).item(), "accuracy": accuracy(logits, y)}


@contextmanager
def torch_threads(threads: int | None) -> Iterator[None]:
    """PyTorch's intra-op threads set to ``threads`` inside the block and restored after it
    (``None``: left as they are). Small networks train faster on one thread, and much faster
    when the cores are shared.

    >>> before = torch.get_num_threads()
    >>> with torch_threads(1):
    ...     torch.get_num_threads()
    1
    >>> torch.get_num_threads() == before
    True
    """
    previous = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def train_epoch(model: nn.Module, X: torch.Tensor, y: torch.Tensor, optimizer: torch.optim.Optimizer,
                loss_fn: nn.Module, batch_size: int, generator: torch.Generator) -> None:
    """One pass over ``(X, y)`` in an order drawn from ``generator``: one optimizer step per mini-batch.

    >>> _ = torch.manual_seed(0)
    >>> model, X, y = nn.Linear(2, 2), torch.randn(10, 2), torch.tensor([0, 1] * 5)
    >>> before = model.weight.detach().clone()
    >>> train_epoch(model, X, y, torch.optim.SGD(model.parameters(), lr=0.1), nn.CrossEntropyLoss(),
    ...             batch_size=4, generator=torch.Generator().manual_seed(0))
    >>> bool((model.weight != before).any())
    True
    """
    model.train()
    order = torch.randperm(len(X), generator=generator)
    for start in range(0, len(X), batch_size):
        batch = order[start:start + batch_size]
        optimizer.zero_grad()
        loss_fn(model(X[batch]), y[batch]).backward()
        optimizer.step()


def fit(model: nn.Module, X, y, *, epochs: int = 20, lr: float = 0.1, batch_size: int = 64,
        optimizer: str = "sgd", momentum: float = 0.0, weight_decay: float = 0.0,
        loss_fn: nn.Module | None = None, validation: tuple | None = None,
        seed: int = 0) -> dict[str, list[float]]:
    """Train ``model`` with mini-batches and return its learning curves.

    ``history["train_loss"][0]`` is measured *before* the first step, so the
    initial loss can be checked against its expected value (ln C for C
    balanced classes). ``validation=(X_val, y_val)`` adds ``val_loss`` and
    ``val_accuracy``.
    """
    X, y = _tensors(X, y)
    loss_fn = loss_fn or nn.CrossEntropyLoss()
    optimizers = {"sgd": lambda p: torch.optim.SGD(p, lr=lr, momentum=momentum, weight_decay=weight_decay),
                  "adam": lambda p: torch.optim.Adam(p, lr=lr, weight_decay=weight_decay)}
    opt = optimizers[optimizer](model.parameters())
    generator = torch.Generator().manual_seed(seed)
    history: dict[str, list[float]] = {"train_loss": [], "train_accuracy": []}
    if validation is not None:
        history.update(val_loss=[], val_accuracy=[])

    def record() -> None:
        train = evaluate(model, X, y, loss_fn)
        history["train_loss"].append(train["loss"])
        history["train_accuracy"].append(train["accuracy"])
        if validation is not None:
            val = evaluate(model, *validation, loss_fn)
            history["val_loss"].append(val["loss"])
            history["val_accuracy"].append(val["accuracy"])

    record()
    for _ in range(epochs):
        train_epoch(model, X, y, opt, loss_fn, batch_size, generator)
        record()
    return history


def plot_history(history: dict[str, list[float]], ax=None, label: str = "", metric: str = "loss"):
    """Plot the train (solid) and validation (dashed) curves of ``metric`` on ``ax``."""
    import matplotlib.pyplot as plt

    ax = ax or plt.gca()
    line, = ax.plot(history[f"train_{metric}"], label=f"{label} train".strip())
    if f"val_{metric}" in history:
        ax.plot(history[f"val_{metric}"], "--", color=line.get_color(), label=f"{label} validation".strip())
    ax.set_xlabel("epoch")
    ax.set_ylabel(metric)
    return ax


def _tensors(X, y) -> tuple[torch.Tensor, torch.Tensor]:
    if not isinstance(X, torch.Tensor):
        X = torch.as_tensor(np.asarray(X, dtype=np.float32))
    if not isinstance(y, torch.Tensor):
        y = torch.as_tensor(np.asarray(y, dtype=np.int64))
    return X, y
