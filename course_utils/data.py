"""Offline datasets: scikit-learn's bundled sets and seeded synthetic generators.

Nothing here downloads anything. Every generator takes a ``seed`` and returns
``(X, y)`` with ``X`` as ``float32`` and ``y`` as ``int64`` NumPy arrays, ready
for ``torch.from_numpy``.

>>> X, y = make_moons(200, seed=0)
>>> X.shape, X.dtype, y.dtype
((200, 2), dtype('float32'), dtype('int64'))
>>> X2, _ = make_moons(200, seed=0)
>>> bool((X == X2).all())
True
"""

from __future__ import annotations

import random

import numpy as np


def set_seed(seed: int = 0) -> np.random.Generator:
    """Seed Python's, NumPy's and PyTorch's generators; return a NumPy ``Generator``.

    The one place the course seeds randomness, so that a rerun gives the same
    numbers.

    >>> rng = set_seed(0)
    >>> round(float(rng.normal()), 4)
    0.1257
    """
    random.seed(seed)
    np.random.seed(seed)
    import torch

    torch.manual_seed(seed)
    return np.random.default_rng(seed)


def _xy(X, y) -> tuple[np.ndarray, np.ndarray]:
    return np.ascontiguousarray(X, dtype=np.float32), np.ascontiguousarray(y, dtype=np.int64)


# -- bundled with scikit-learn ------------------------------------------------

def load_digits() -> tuple[np.ndarray, np.ndarray]:
    """1797 handwritten digits, 8x8 pixels flattened to 64 features in [0, 1], 10 classes.

    >>> X, y = load_digits()
    >>> X.shape, float(X.max()), len(set(y.tolist()))
    ((1797, 64), 1.0, 10)
    """
    from sklearn.datasets import load_digits as _load

    data = _load()
    return _xy(data.data / 16.0, data.target)


def load_breast_cancer() -> tuple[np.ndarray, np.ndarray]:
    """569 tumours, 30 features on very different scales, 2 classes (1 = benign)."""
    from sklearn.datasets import load_breast_cancer as _load

    data = _load()
    return _xy(data.data, data.target)


def load_wine() -> tuple[np.ndarray, np.ndarray]:
    """178 wines, 13 chemical features, 3 cultivars."""
    from sklearn.datasets import load_wine as _load

    data = _load()
    return _xy(data.data, data.target)


# -- synthetic ----------------------------------------------------------------

def make_blobs(n: int = 300, n_classes: int = 3, n_features: int = 2, spread: float = 1.0,
               seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian blobs, one per class, equally many samples each."""
    from sklearn.datasets import make_blobs as _make

    X, y = _make(n_samples=n, centers=n_classes, n_features=n_features, cluster_std=spread,
                 random_state=seed)
    return _xy(X, y)


def make_moons(n: int = 300, noise: float = 0.15, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaving half circles: not linearly separable."""
    from sklearn.datasets import make_moons as _make

    X, y = _make(n_samples=n, noise=noise, random_state=seed)
    return _xy(X, y)


def make_rings(n: int = 300, radii: tuple[float, float] = (1.0, 2.0), noise: float = 0.1,
               seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two concentric rings (class = ring index): separable by the radius, not by a line.

    >>> X, y = make_rings(400, seed=1)
    >>> r = np.hypot(X[:, 0], X[:, 1])
    >>> bool(r[y == 0].max() < r[y == 1].min())
    True
    """
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    angle = rng.uniform(0, 2 * np.pi, n)
    radius = np.asarray(radii)[y] + noise * rng.standard_normal(n)
    X = np.column_stack([radius * np.cos(angle), radius * np.sin(angle)])
    return _xy(X, y)


def make_imbalanced(n: int = 1000, positive_fraction: float = 0.05, n_features: int = 2,
                    separation: float = 2.0, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two Gaussian classes, the positive one (``y == 1``) rare.

    >>> X, y = make_imbalanced(1000, positive_fraction=0.01, seed=0)
    >>> int(y.sum())
    10
    """
    rng = np.random.default_rng(seed)
    n_pos = int(round(n * positive_fraction))
    y = np.zeros(n, dtype=np.int64)
    y[rng.choice(n, n_pos, replace=False)] = 1
    X = rng.standard_normal((n, n_features))
    X[y == 1] += separation / np.sqrt(n_features)
    return _xy(X, y)


def add_label_noise(y: np.ndarray, fraction: float, n_classes: int | None = None,
                    seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Flip ``fraction`` of the labels to another class chosen at random.

    Returns the noisy labels and the boolean mask of the flipped samples (the
    ground truth a label-error detector is scored against).

    >>> y = np.zeros(100, dtype=np.int64)
    >>> noisy, flipped = add_label_noise(y, 0.1, n_classes=3, seed=0)
    >>> int(flipped.sum()), bool((noisy[flipped] != 0).all())
    (10, True)
    """
    y = np.asarray(y, dtype=np.int64)
    n_classes = int(y.max()) + 1 if n_classes is None else n_classes
    rng = np.random.default_rng(seed)
    flipped = np.zeros(len(y), dtype=bool)
    flipped[rng.choice(len(y), int(round(fraction * len(y))), replace=False)] = True
    shift = rng.integers(1, n_classes, size=len(y))
    noisy = np.where(flipped, (y + shift) % n_classes, y)
    return noisy.astype(np.int64), flipped


def to_tensors(X: np.ndarray, y: np.ndarray):
    """``(X, y)`` as a float32 and an int64 tensor."""
    import torch

    return torch.as_tensor(np.asarray(X, dtype=np.float32)), torch.as_tensor(np.asarray(y, dtype=np.int64))


# -- corruptions (lesson 01, data quality) --------------------------------------

def duplicate_samples(X: np.ndarray, y: np.ndarray, fraction: float, noise: float = 0.0, relabel: float = 0.0,
                      n_classes: int | None = None, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Copies of a random ``fraction`` of the rows of ``X``, as a scraper would add them.

    ``noise = 0`` gives exact copies; ``noise > 0`` gives near copies (a re-scan:
    the contrast jittered by a few percent and Gaussian pixel noise of std
    ``noise``, clipped to [0, 1]). A ``relabel`` fraction of the copies gets
    another class (contradictory duplicates). Returns ``(X_copies, y_copies,
    source)``, ``source[i]`` being the row of ``X`` that copy ``i`` was made from.

    >>> X, y = np.eye(4, dtype=np.float32), np.arange(4)
    >>> copies, labels, source = duplicate_samples(X, y, 0.5, seed=0)
    >>> bool((copies == X[source]).all()), bool((labels == y[source]).all())
    (True, True)
    """
    X, y = _xy(X, y)
    rng = np.random.default_rng(seed)
    n_classes = int(y.max()) + 1 if n_classes is None else n_classes
    source = np.sort(rng.choice(len(X), int(round(fraction * len(X))), replace=False))
    copies = X[source].copy()
    if noise > 0:
        contrast = 1.0 + 0.03 * rng.standard_normal((len(source), 1))
        copies = np.clip(copies * contrast + noise * rng.standard_normal(copies.shape), 0.0, 1.0)
    labels = y[source].copy()
    changed = rng.choice(len(source), int(round(relabel * len(source))), replace=False)
    labels[changed] = (labels[changed] + rng.integers(1, n_classes, size=len(changed))) % n_classes
    return np.ascontiguousarray(copies, dtype=np.float32), labels, source


CORRUPTIONS = ("blank", "saturated", "nan", "flat", "padded", "out of range")


def corrupt_images(images: np.ndarray, fraction: float, kinds: tuple[str, ...] = CORRUPTIONS,
                   seed: int = 0) -> tuple[list[np.ndarray], list[str]]:
    """Images as a careless pipeline delivers them: a ``fraction`` of them broken.

    ``images`` is ``(n, h, w)`` in [0, 1]. Each corrupted image gets one of
    ``kinds``, in turn: ``"blank"`` (all 0), ``"saturated"`` (all 1), ``"nan"``
    (a few NaN pixels), ``"flat"`` (stored as a vector of h*w values),
    ``"padded"`` (one extra row and column, shape (h+1, w+1)), ``"out of range"``
    (saved as 0-255). Returns the list of arrays and the kind of each (``"ok"``
    for the untouched ones).

    >>> images, kinds = corrupt_images(np.full((6, 8, 8), 0.5), 0.5, seed=0)
    >>> sorted(kinds)
    ['blank', 'nan', 'ok', 'ok', 'ok', 'saturated']
    """
    images = np.asarray(images, dtype=np.float32)
    rng = np.random.default_rng(seed)
    chosen = rng.choice(len(images), int(round(fraction * len(images))), replace=False)
    out, labels = [image.copy() for image in images], ["ok"] * len(images)
    for turn, index in enumerate(chosen):
        kind, image = kinds[turn % len(kinds)], images[index]
        if kind == "blank":
            broken = np.zeros_like(image)
        elif kind == "saturated":
            broken = np.ones_like(image)
        elif kind == "nan":
            broken = image.copy()
            broken.flat[rng.choice(image.size, 3, replace=False)] = np.nan
        elif kind == "flat":
            broken = image.reshape(-1).copy()
        elif kind == "padded":
            broken = np.pad(image, ((0, 1), (0, 1)))
        elif kind == "out of range":
            broken = np.round(image * 255.0)
        else:
            raise ValueError(f"unknown corruption {kind!r}; choose from {', '.join(CORRUPTIONS)}")
        out[index], labels[index] = broken, kind
    return out, labels
