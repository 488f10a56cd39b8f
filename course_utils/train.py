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


def progress_bar(iterable=None, progress: bool | str = False, total: int | None = None, unit: str = "it"):
    """``iterable`` itself, or wrapped in a progress bar when ``progress`` is true (a string: the bar's label).
    Without an iterable: a bar to advance by hand (``bar.update(n)``, then ``bar.close()``), silent when
    ``progress`` is off.

    The bar is ``tqdm.auto``'s: a widget in JupyterLab and in headless runs of a notebook alike (nothing
    written to stderr there), text on a terminal. The lessons ask for one where a cell runs longer than
    about 2 s::

        for strategy, settings in progress_bar(SETTINGS.items(), "strategies"):
            ...

    >>> list(progress_bar(range(3)))  # progress off: the iterable, untouched
    [0, 1, 2]
    >>> bar = progress_bar(total=10)  # progress off: a bar that shows nothing
    >>> bar.update(4); bar.close()
    """
    if not progress and iterable is not None:
        return iterable
    from tqdm.auto import tqdm

    return tqdm(iterable, total=total, desc=progress if isinstance(progress, str) else None, unit=unit,
                mininterval=0.25, disable=not progress)


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
        seed: int = 0, progress: bool | str = False) -> dict[str, list[float]]:
    """Train ``model`` with mini-batches and return its learning curves.

    ``history["train_loss"][0]`` is measured *before* the first step, so the
    initial loss can be checked against its expected value (ln C for C
    balanced classes). ``validation=(X_val, y_val)`` adds ``val_loss`` and
    ``val_accuracy``. ``progress=True`` (or a label) shows a bar over the epochs
    (:func:`progress_bar`).
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
    for _ in progress_bar(range(epochs), progress, unit="epoch"):
        train_epoch(model, X, y, opt, loss_fn, batch_size, generator)
        record()
    return history


class StackedMLP(nn.Module):
    """``len(seeds)`` independent :func:`mlp` networks evaluated as one batched model.

    Member ``k`` starts exactly as ``torch.manual_seed(seeds[k]); mlp(sizes)`` would, and since the
    loss of the stack is the *sum* of the members' losses, every optimizer that works element-wise
    (SGD, Adam, weight decay) trains each member exactly as if it were trained alone -- several seeds
    for the price of one batched run. ``forward`` takes ``(n, in)`` inputs shared by every member, or
    ``(k, n, in)`` inputs of their own, and returns ``(k, n, out)``.

    >>> stack = StackedMLP([2, 8, 3], seeds=[0, 1])
    >>> X = torch.randn(5, 2)
    >>> _ = torch.manual_seed(1)
    >>> torch.allclose(stack(X)[1], mlp([2, 8, 3])(X), atol=1e-6)
    True
    """

    def __init__(self, sizes: Sequence[int], seeds: Sequence[int], activation: str = "relu"):
        super().__init__()
        members = []
        for seed in seeds:
            torch.manual_seed(seed)
            members.append([m for m in mlp(sizes, activation) if isinstance(m, nn.Linear)])
        self.sizes, self.seeds, self.activation = list(sizes), list(seeds), activation
        self.weights = nn.ParameterList(
            nn.Parameter(torch.stack([layers[i].weight.detach().T for layers in members]))
            for i in range(len(sizes) - 1))
        self.biases = nn.ParameterList(
            nn.Parameter(torch.stack([layers[i].bias.detach()[None, :] for layers in members]))
            for i in range(len(sizes) - 1))
        self.act = ACTIVATIONS[activation]()

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        h = X if X.dim() == 3 else X.expand(len(self.seeds), *X.shape)
        for i, (weight, bias) in enumerate(zip(self.weights, self.biases)):
            h = torch.baddbmm(bias, h, weight)
            if i < len(self.weights) - 1:
                h = self.act(h)
        return h

    def member(self, k: int) -> nn.Sequential:
        """Member ``k`` as a plain :func:`mlp` (a copy of its current weights)."""
        net = mlp(self.sizes, self.activation)
        linears = [m for m in net if isinstance(m, nn.Linear)]
        with torch.no_grad():
            for layer, weight, bias in zip(linears, self.weights, self.biases):
                layer.weight.copy_(weight[k].T)
                layer.bias.copy_(bias[k, 0])
        return net


def fit_seeds(sizes: Sequence[int], X, y, *, seeds: Sequence[int] = range(5), epochs: int = 20, lr: float = 0.1,
              batch_size: int = 64, optimizer: str = "sgd", momentum: float = 0.0, weight_decay: float = 0.0,
              activation: str = "relu", validation: tuple | dict | None = None,
              init: Callable[[StackedMLP], None] | None = None, progress: bool | str = False) -> dict[str, np.ndarray]:
    """Train one :func:`mlp` per seed, all at once (:class:`StackedMLP`), and return their curves.

    Each seed gets its own initialization and its own mini-batch order (``torch.Generator`` seeded
    with the seed), as :func:`fit` would give it. Every curve is an array of shape
    ``(len(seeds), epochs + 1)``: feed a column to :func:`course_utils.stats.mean_interval`.

    ``X`` of shape ``(n, in)`` is shared by every member; ``X`` of shape ``(k, n, in)`` with ``y`` of
    shape ``(k, n)`` gives member ``k`` a training set of its own (another split, a bootstrap sample,
    another cleaning), all of the same size. ``validation`` is ``(X_val, y_val)`` (curves
    ``val_loss``, ``val_accuracy``) or a dict ``{name: (X, y)}`` (curves ``name_loss``,
    ``name_accuracy``), shared or per member in the same way. ``progress=True`` (or a label) shows a
    bar over the epochs (:func:`progress_bar`).

    >>> from course_utils.data import make_moons, set_seed
    >>> X, y = make_moons(64, seed=0)
    >>> own = fit_seeds([2, 8, 2], [X[:32], X[32:]], [y[:32], y[32:]], seeds=[3, 4], epochs=2, momentum=0.9,
    ...                 validation={"all": (X, y)})
    >>> _ = set_seed(4)
    >>> alone = fit(mlp([2, 8, 2]), X[32:], y[32:], epochs=2, momentum=0.9, seed=4, validation=(X, y))
    >>> bool(np.allclose(own["all_accuracy"][1], alone["val_accuracy"]))
    True

    >>> from course_utils.data import make_moons
    >>> X, y = make_moons(200, seed=0)
    >>> curves = fit_seeds([2, 16, 2], X, y, seeds=range(3), epochs=5, lr=0.5)
    >>> curves["train_loss"].shape, bool((curves["train_loss"][:, -1] < curves["train_loss"][:, 0]).all())
    ((3, 6), True)

    ``init(stack)``, when given, runs before the first step and may draw other initial weights in place
    (``stack.weights[i]`` has shape ``(k, in, out)``, ``stack.biases[i]`` ``(k, 1, out)``):

    >>> def tiny(stack):
    ...     for weight, bias in zip(stack.weights, stack.biases):
    ...         torch.nn.init.normal_(weight, std=0.01)
    ...         torch.nn.init.zeros_(bias)
    >>> curves = fit_seeds([2, 16, 2], X, y, seeds=range(3), epochs=1, init=tiny)
    >>> bool(np.allclose(curves["train_loss"][:, 0], np.log(2), atol=1e-3))  # tiny weights: loss ln 2
    True
    """
    X, y = _tensors(X, y)
    stack = StackedMLP(sizes, list(seeds), activation)
    if init is not None:
        with torch.no_grad():
            init(stack)
    k = len(stack.seeds)
    own = X.dim() == 3  # every member trains on data of its own
    if own and (len(X) != k or tuple(y.shape) != tuple(X.shape[:2])):
        raise ValueError(f"per-member data needs X of shape ({k}, n, in) and y of shape ({k}, n)")
    opt = (torch.optim.Adam(stack.parameters(), lr=lr, weight_decay=weight_decay) if optimizer == "adam"
           else torch.optim.SGD(stack.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay))
    generators = [torch.Generator().manual_seed(seed) for seed in stack.seeds]
    named = validation if isinstance(validation, dict) else {} if validation is None else {"val": validation}
    sets = {"train": (X, y), **{name: _tensors(*data) for name, data in named.items()}}
    curves: dict[str, list[np.ndarray]] = {f"{name}_{m}": [] for name in sets for m in ("loss", "accuracy")}

    @torch.no_grad()
    def record() -> None:
        for name, (Xs, ys) in sets.items():
            logits = stack(Xs)
            losses = nn.functional.cross_entropy(logits.transpose(1, 2), ys.expand(k, -1), reduction="none")
            curves[f"{name}_loss"].append(losses.mean(dim=1).numpy())
            curves[f"{name}_accuracy"].append((logits.argmax(dim=2) == ys).float().mean(dim=1).numpy())

    record()
    n, members = X.shape[-2], torch.arange(k)[:, None]
    for _ in progress_bar(range(epochs), progress, unit="epoch"):
        orders = torch.stack([torch.randperm(n, generator=g) for g in generators])
        for start in range(0, n, batch_size):
            batch = orders[:, start:start + batch_size]
            inputs, targets = (X[members, batch], y[members, batch]) if own else (X[batch], y[batch])
            opt.zero_grad()
            logits = stack(inputs)
            loss = nn.functional.cross_entropy(logits.transpose(1, 2), targets, reduction="none").mean(dim=1).sum()
            loss.backward()
            opt.step()
        record()
    result = {name: np.stack(values, axis=1) for name, values in curves.items()}
    result["model"] = stack
    return result


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
