"""Explorer for lesson 03: how initialization shapes the activations, layer by layer.

Controls: depth, activation, scheme (a Gaussian of a chosen std, Xavier or He)
and the std. Left: the distribution of each layer's activations (one row per
layer, values beyond +-2 piled in the edge bins). Right: each layer's std on a
log scale.

>>> explorer = activation_explorer()
>>> explorer.set(activation="tanh", scheme="gaussian", std=0.01).result["diagnosis"]
'vanishing'
>>> explorer.set(activation="relu", scheme="he").result["diagnosis"]
'healthy'
"""

from __future__ import annotations

import math

import ipywidgets as widgets
import numpy as np

from .base import Explorer

ACTIVATIONS = {
    "tanh": np.tanh,
    "relu": lambda h: np.maximum(h, 0.0),
    "sigmoid": lambda h: 1.0 / (1.0 + np.exp(-np.clip(h, -500, 500))),
    "linear": lambda h: h,
}
MAX_DEPTH = 20
RANGE = 2.0
BINS = np.linspace(-RANGE, RANGE, 61)
HISTOGRAM_ROWS = 120  # 120 inputs x 256 units = 30k values per layer: plenty for 60 bins


def scheme_std(scheme: str, fan_in: int, fan_out: int, std: float) -> float:
    """The weight std of a scheme: the slider's std, Xavier's sqrt(2/(in+out)) or He's sqrt(2/in)."""
    if scheme == "xavier":
        return math.sqrt(2.0 / (fan_in + fan_out))
    if scheme == "he":
        return math.sqrt(2.0 / fan_in)
    return std


def layer_activations(weights: np.ndarray, x: np.ndarray, depth: int, activation: str, scale: float) -> list[np.ndarray]:
    """Forward ``x`` through ``depth`` square layers ``weights[l] * scale`` (no bias)."""
    act = ACTIVATIONS[activation]
    outputs, h = [], x
    with np.errstate(over="ignore", invalid="ignore"):
        for layer in range(depth):
            h = act(h @ (weights[layer] * scale))
            outputs.append(h)
    return outputs


def histograms(outputs: list[np.ndarray], bins: int = len(BINS) - 1) -> np.ndarray:
    """One row per layer: counts of activation values in ``bins`` equal bins over [-2, 2],
    values beyond piled in the edge bins, each row scaled to a maximum of 1."""
    values = np.nan_to_num(np.clip(np.stack([h.ravel() for h in outputs]), -RANGE, RANGE), nan=0.0)
    index = np.minimum(((values + RANGE) * (bins / (2 * RANGE))).astype(np.int64), bins - 1)
    index += bins * np.arange(len(outputs))[:, None]
    counts = np.bincount(index.ravel(), minlength=bins * len(outputs)).reshape(len(outputs), bins)
    return counts / np.maximum(counts.max(axis=1, keepdims=True), 1)


def diagnose(stds: list[float], saturated: float = 0.0) -> str:
    """A label for a column of per-layer stds (the rule of lesson 03)."""
    first, last = stds[0], stds[-1]
    if not np.isfinite(last) or (first > 0 and last / first > 10):
        return "exploding"
    if first == 0 or last / first < 0.1:
        return "vanishing"
    if saturated > 0.5:
        return "saturated"
    return "healthy"


def activation_explorer(seed: int = 0, width: int = 256, batch: int = 500) -> Explorer:
    """Depth, activation, scheme and std -> per-layer activation histograms and std curve."""
    rng = np.random.default_rng(seed)
    weights = rng.standard_normal((MAX_DEPTH, width, width), dtype=np.float32)
    x = rng.standard_normal((batch, width), dtype=np.float32)

    controls = {
        "depth": widgets.IntSlider(value=10, min=1, max=MAX_DEPTH, description="depth"),
        "activation": widgets.Dropdown(options=list(ACTIVATIONS), value="tanh", description="activation"),
        "scheme": widgets.Dropdown(options=["gaussian", "xavier", "he"], value="gaussian", description="scheme"),
        "std": widgets.FloatLogSlider(value=0.01, base=10, min=-3, max=1, step=0.05, description="std",
                                      readout_format=".3g"),
    }

    def setup(fig):
        hist_ax, std_ax = fig.subplots(1, 2, width_ratios=[1.4, 1])
        fig.subplots_adjust(left=0.07, right=0.98, bottom=0.15, top=0.9, wspace=0.22)
        image = hist_ax.imshow(np.zeros((MAX_DEPTH, len(BINS) - 1)), aspect="auto", cmap="magma",
                               extent=(-RANGE, RANGE, MAX_DEPTH + 0.5, 0.5), vmin=0, vmax=1,
                               interpolation="nearest")
        hist_ax.set_xlabel("activation value (edges: beyond ±2)")
        hist_ax.set_ylabel("layer")
        hist_ax.set_title("distribution of activations per layer", fontsize=10)
        line, = std_ax.semilogy([], [], "o-", color="tab:blue", label="std of activations")
        std_ax.axhline(1.0, color="grey", lw=0.8, ls="--", label="input std")
        std_ax.set_ylim(1e-8, 1e8)
        std_ax.set_xlabel("layer")
        std_ax.set_title("std per layer (log scale)", fontsize=10)
        std_ax.legend(loc="upper left", fontsize=8)
        return {"image": image, "hist_ax": hist_ax, "line": line, "std_ax": std_ax}

    def update(artists, depth, activation, scheme, std):
        scale = scheme_std(scheme, width, width, std)
        outputs = layer_activations(weights, x, depth, activation, scale)
        artists["image"].set_data(histograms([h[:HISTOGRAM_ROWS] for h in outputs]))
        artists["image"].set_extent((-RANGE, RANGE, depth + 0.5, 0.5))
        artists["hist_ax"].set_ylim(depth + 0.5, 0.5)
        with np.errstate(over="ignore", invalid="ignore"):
            stds = [float(np.std(h)) if np.isfinite(h).all() else math.inf for h in outputs]
        shown = np.clip(np.nan_to_num(stds, posinf=1e8), 1e-8, 1e8)
        artists["line"].set_data(np.arange(1, depth + 1), shown)
        artists["std_ax"].set_xlim(0.5, max(depth, 2) + 0.5)
        saturated = float(np.mean(np.abs(outputs[-1]) > 0.99)) if activation == "tanh" else 0.0
        return {"stds": stds, "weight_std": scale, "saturated": saturated,
                "diagnosis": diagnose(stds, saturated)}

    def on_change(controls, scheme, **_):
        controls["std"].disabled = scheme != "gaussian"

    def readout(result, depth, **_):
        stds = result["stds"]
        return (f"weight std {result['weight_std']:.3g} · layer 1 std {stds[0]:.3g} · "
                f"layer {depth} std {stds[-1]:.3g} · <b>{result['diagnosis']}</b>")

    return Explorer(controls, setup, update, readout=readout, on_change=on_change)
