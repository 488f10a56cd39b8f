"""The explorers of topic 04: the value and gradient of a loss (lesson 04, loss values), and learning
curves from capacity, noise and data mismatch (lesson 04b, debugging a training run).

:func:`loss_explorer` draws the loss of one sample, and its gradient, against the logit z of its correct
class (the other logits at 0), computed in float32 as PyTorch computes it: cross-entropy from logits,
the same with a softmax in front (the bug), MSE on the probabilities, and the two binary losses.

>>> loss_explorer().set(loss="Sigmoid + BCELoss").result["gradient_far"] < 1e-12  # the clamp kills the gradient
True
>>> round(loss_explorer().set(loss="MSE on probabilities", classes=5).result["at_zero"], 6)
0.8

For the learning curves, a 1-D regression problem small enough to refit at every slider move: the truth
is a smooth curve, the model a least-squares polynomial of a chosen degree. Training and train-dev points
come from the training distribution; dev points come from the deployment distribution, which here
measures the target with an offset (a recalibrated sensor, say). :func:`learning_curves` returns the
root mean squared errors against the training set size, and :func:`learning_curve_explorer` draws them.

>>> curves = learning_curves(degree=1, noise=0.1, offset=0.0)
>>> bool(curves["train"][-1] > 3 * curves["bayes"])  # a straight line cannot follow the curve: high bias
True
>>> learning_curve_explorer().set(degree=9).result["diagnosis"]
'good'
"""

from __future__ import annotations

import ipywidgets as widgets
import numpy as np

from .base import Explorer

SIZES = np.unique(np.geomspace(8, 400, 14).astype(int))
N_HELD_OUT = 400
TOLERANCE = 0.05  # gaps below this (in RMSE) count as nothing to fix


def truth(x: np.ndarray) -> np.ndarray:
    """The curve the data come from, on x in [0, 1]."""
    return np.sin(2 * np.pi * x) + 0.5 * x


def _design(x: np.ndarray, degree: int) -> np.ndarray:
    """Legendre features of x mapped to [-1, 1] (well conditioned, unlike raw powers)."""
    return np.polynomial.legendre.legvander(2 * x - 1, degree)


def _samples(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    draw = {name: (rng.uniform(0, 1, n), rng.standard_normal(n))
            for name, n in (("train", SIZES[-1]), ("train_dev", N_HELD_OUT), ("dev", N_HELD_OUT))}
    return {f"{name}_{part}": value for name, (x, e) in draw.items() for part, value in (("x", x), ("e", e))}


_SAMPLES = _samples()


def fit_polynomial(x: np.ndarray, y: np.ndarray, degree: int) -> np.ndarray:
    """Least-squares coefficients (in the Legendre basis of :func:`_design`)."""
    coefficients, *_ = np.linalg.lstsq(_design(x, degree), y, rcond=None)
    return coefficients


def predict(coefficients: np.ndarray, x: np.ndarray) -> np.ndarray:
    return _design(x, len(coefficients) - 1) @ coefficients


def learning_curves(degree: int, noise: float, offset: float, samples: dict | None = None) -> dict:
    """RMSE on the training set, on a train-dev set and on a dev set against the training set size.

    The first n points of one seeded training sample are used for size n, so that the curves are
    smooth in n. ``bayes`` is the noise level: the RMSE of the truth itself on the training distribution.
    """
    s = samples or _SAMPLES
    y_train = truth(s["train_x"]) + noise * s["train_e"]
    y_train_dev = truth(s["train_dev_x"]) + noise * s["train_dev_e"]
    y_dev = truth(s["dev_x"]) + offset + noise * s["dev_e"]
    curves = {"sizes": SIZES, "train": [], "train_dev": [], "dev": [], "bayes": noise}
    for n in SIZES:
        coefficients = fit_polynomial(s["train_x"][:n], y_train[:n], degree)
        for name, x, y in (("train", s["train_x"][:n], y_train[:n]), ("train_dev", s["train_dev_x"], y_train_dev),
                           ("dev", s["dev_x"], y_dev)):
            curves[name].append(float(np.sqrt(np.mean((predict(coefficients, x) - y) ** 2))))
    for name in ("train", "train_dev", "dev"):
        curves[name] = np.array(curves[name])
    return curves


def gaps(human: float, train: float, train_dev: float, dev: float) -> dict[str, float]:
    """The three gaps of the bias / variance / mismatch table.

    >>> {name: round(value, 2) for name, value in gaps(0.01, 0.08, 0.09, 0.10).items()}
    {'avoidable bias': 0.07, 'variance': 0.01, 'data mismatch': 0.01}
    """
    return {"avoidable bias": train - human, "variance": train_dev - train, "data mismatch": dev - train_dev}


ADVICE = {"avoidable bias": "a bigger model, train longer, a better optimizer",
          "variance": "more data, regularization, a smaller model",
          "data mismatch": "training data that look like the deployment data",
          "good": "nothing to fix at this tolerance"}


def _diagnosis(curves: dict, index: int) -> str:
    found = gaps(curves["bayes"], curves["train"][index], curves["train_dev"][index], curves["dev"][index])
    name = max(found, key=found.get)
    return {"avoidable bias": "high bias", "variance": "high variance"}.get(name, name) \
        if found[name] > TOLERANCE else "good"


def learning_curve_explorer(degree: int = 3, noise: float = 0.2, offset: float = 0.0, n: int = 56) -> Explorer:
    """Polynomial degree, noise, dev-set offset and training size -> the fit and its learning curves."""
    sizes = [int(v) for v in SIZES]
    controls = {
        "degree": widgets.IntSlider(value=degree, min=1, max=15, description="degree"),
        "noise": widgets.FloatSlider(value=noise, min=0.05, max=0.6, step=0.05, description="noise"),
        "offset": widgets.FloatSlider(value=offset, min=0.0, max=0.6, step=0.05, description="dev offset"),
        "n": widgets.SelectionSlider(options=sizes, value=min(sizes, key=lambda v: abs(v - n)),
                                     description="train size"),
    }
    grid = np.linspace(0, 1, 300)

    def setup(fig):
        fig.subplots_adjust(left=0.07, right=0.98, bottom=0.15, top=0.9, wspace=0.25)
        left, right = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
        left.plot(grid, truth(grid), color="0.6", lw=2, label="truth")
        left.set(xlim=(0, 1), ylim=(-2.2, 2.6), xlabel="x", ylabel="y", title="the fit at this training size")
        points = left.scatter([], [], s=10, color="tab:blue", label="training points")
        fitted, = left.plot([], [], color="tab:red", lw=1.5, label="model")
        left.legend(loc="upper right", fontsize=8)
        right.set(xscale="log", xlim=(SIZES[0], SIZES[-1]), ylim=(0, 1.2), xlabel="training set size",
                  ylabel="RMSE", title="learning curves")
        lines = {name: right.plot([], [], marker="o", ms=3, color=color, label=text)[0]
                 for name, color, text in (("train", "tab:blue", "train"), ("train_dev", "tab:orange", "train-dev"),
                                           ("dev", "tab:red", "dev (deployment)"))}
        bayes = right.axhline(0.2, color="0.4", ls="--", lw=1, label="Bayes error (noise)")
        marker = right.axvline(n, color="0.7", lw=1)
        right.legend(loc="upper right", fontsize=8)
        return {"points": points, "fitted": fitted, "bayes": bayes, "marker": marker, **lines}

    def update(artists, degree, noise, offset, n):
        curves = learning_curves(degree, noise, offset)
        for name in ("train", "train_dev", "dev"):
            artists[name].set_data(SIZES, np.minimum(curves[name], 1.19))
        artists["bayes"].set_ydata([noise, noise])
        artists["marker"].set_xdata([n, n])
        x = _SAMPLES["train_x"][:n]
        y = truth(x) + noise * _SAMPLES["train_e"][:n]
        artists["points"].set_offsets(np.column_stack([x, y]))
        artists["fitted"].set_data(grid, np.clip(predict(fit_polynomial(x, y, degree), grid), -5, 5))
        index = sizes.index(n)
        diagnosis = _diagnosis(curves, index)
        return {"train": float(curves["train"][index]), "train_dev": float(curves["train_dev"][index]),
                "dev": float(curves["dev"][index]), "bayes": noise, "diagnosis": diagnosis}

    def readout(result, **values):
        advice = ADVICE[{"high bias": "avoidable bias", "high variance": "variance"}.get(result["diagnosis"],
                                                                                      result["diagnosis"])]
        return (f"at {values['n']} training points: Bayes {result['bayes']:.2f} · train {result['train']:.2f} · "
                f"train-dev {result['train_dev']:.2f} · dev {result['dev']:.2f} → <b>{result['diagnosis']}</b> "
                f"({advice})")

    return Explorer(controls, setup, update, readout=readout, figsize=(10, 3.8))


# -- the value and gradient of a loss (lesson 04) -------------------------------------------------------

LOSSES = ("cross-entropy (logits)", "softmax, then cross-entropy", "MSE on probabilities", "Sigmoid + BCELoss",
          "BCEWithLogitsLoss")
BINARY = ("Sigmoid + BCELoss", "BCEWithLogitsLoss")
LOGITS = np.linspace(-120.0, 30.0, 601)
FAR = -60.0  # "a confident mistake": the correct class's logit 60 below the others
GRADIENT_FLOOR = 1e-14  # a gradient of exactly 0 is drawn here, on the log scale


def loss_curve(loss: str, classes: int, z: np.ndarray = LOGITS) -> tuple[np.ndarray, np.ndarray]:
    """The loss of one sample and its derivative d loss / dz, for each logit ``z`` of the correct class
    (the other ``classes - 1`` logits at 0; binary losses: target 1), in float32 as PyTorch computes them.

    >>> loss, gradient = loss_curve("cross-entropy (logits)", 5, np.array([0.0]))
    >>> round(float(loss[0]), 4), round(float(gradient[0]), 4)  # ln 5, and p - 1 = 1/5 - 1
    (1.6094, -0.8)
    """
    import torch
    import torch.nn.functional as F

    if loss not in LOSSES:
        raise ValueError(f"unknown loss {loss!r}; choose one of {', '.join(LOSSES)}")
    logit = torch.tensor(np.asarray(z), dtype=torch.float32, requires_grad=True)
    if loss in BINARY:
        target = torch.ones_like(logit)
        per_sample = (F.binary_cross_entropy(torch.sigmoid(logit), target, reduction="none")
                      if loss == "Sigmoid + BCELoss"
                      else F.binary_cross_entropy_with_logits(logit, target, reduction="none"))
    else:
        logits = torch.cat([logit[:, None], torch.zeros(len(logit), classes - 1)], dim=1)
        target = torch.zeros(len(logit), dtype=torch.long)
        if loss == "cross-entropy (logits)":
            per_sample = F.cross_entropy(logits, target, reduction="none")
        elif loss == "softmax, then cross-entropy":
            per_sample = F.cross_entropy(torch.softmax(logits, dim=1), target, reduction="none")
        else:  # the squared error summed over the C outputs, against the one-hot target
            per_sample = ((torch.softmax(logits, dim=1) - F.one_hot(target, classes)) ** 2).sum(dim=1)
    per_sample.sum().backward()
    return per_sample.detach().numpy().astype(np.float64), logit.grad.numpy().astype(np.float64)


def _reference(loss: str, classes: int) -> tuple[float, str]:
    """The value a lesson teaches for this loss: what an untrained network (z = 0) scores, or the floor."""
    if loss == "cross-entropy (logits)":
        return float(np.log(classes)), "ln C"
    if loss == "softmax, then cross-entropy":
        return float(np.log1p((classes - 1) / np.e)), "floor ln(1 + (C-1)/e)"
    if loss == "MSE on probabilities":
        return 1.0 + 1.0 / (classes - 1), "1 + 1/(C-1): p(correct) = 0"
    return float(np.log(2.0)), "ln 2"


def loss_explorer(loss: str = "cross-entropy (logits)", classes: int = 5) -> Explorer:
    """Loss and number of classes -> the loss of one sample and |d loss / dz| against its correct logit z."""
    controls = {
        "loss": widgets.Dropdown(options=list(LOSSES), value=loss, description="loss",
                                 layout=widgets.Layout(width="330px")),
        "classes": widgets.IntSlider(value=classes, min=2, max=20, description="classes C"),
    }

    def setup(fig):
        fig.subplots_adjust(left=0.08, right=0.98, bottom=0.15, top=0.9, wspace=0.25)
        left, right = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
        left.set(xlim=(LOGITS[0], LOGITS[-1]), ylim=(1e-4, 400), yscale="log", xlabel="logit z of the correct class",
                 ylabel="loss of the sample", title="the loss (other logits at 0)")
        right.set(xlim=(LOGITS[0], LOGITS[-1]), ylim=(GRADIENT_FLOOR / 2, 20), yscale="log",
                  xlabel="logit z of the correct class", ylabel="|d loss / dz|",
                  title="its gradient (0 drawn at the bottom)")
        for ax in (left, right):
            ax.axvline(0.0, color="0.8", lw=1)
            ax.axvline(FAR, color="0.8", lw=1, ls=":")
        curve, = left.plot([], [], color="tab:red", lw=2)
        reference = left.axhline(1.0, color="0.4", ls="--", lw=1)
        label = left.text(LOGITS[0] + 3, 1.0, "", fontsize=8, va="bottom", color="0.3")
        zero, = left.plot([], [], "o", color="k", ms=5)
        gradient, = right.plot([], [], color="tab:blue", lw=2)
        return {"curve": curve, "reference": reference, "label": label, "zero": zero, "gradient": gradient}

    def update(artists, loss, classes):
        values, gradients = loss_curve(loss, classes)
        artists["curve"].set_data(LOGITS, np.clip(values, 1e-4, None))
        artists["gradient"].set_data(LOGITS, np.maximum(np.abs(gradients), GRADIENT_FLOOR))
        reference, text = _reference(loss, classes)
        artists["reference"].set_ydata([reference, reference])
        artists["label"].set_position((LOGITS[0] + 3, reference))
        artists["label"].set_text(f"{text} = {reference:.3f}")
        at_zero = float(loss_curve(loss, classes, np.array([0.0]))[0][0])
        artists["zero"].set_data([0.0], [at_zero])
        far_loss, far_gradient = (float(v[0]) for v in loss_curve(loss, classes, np.array([FAR])))
        return {"at_zero": at_zero, "reference": reference, "lowest": float(values.min()) + 0.0,  # no "-0"
                "highest": float(values.max()), "loss_far": far_loss, "gradient_far": abs(far_gradient)}

    def on_change(controls, loss, **_):
        controls["classes"].disabled = loss in BINARY

    def readout(result, loss, classes):
        c = "" if loss in BINARY else f", C = {classes}"
        return (f"{loss}{c}: untrained (z = 0) {result['at_zero']:.3f} · lowest {result['lowest']:.3g} · "
                f"a confident mistake (z = {FAR:g}): loss {result['loss_far']:.3g}, "
                f"gradient {result['gradient_far']:.2g}")

    return Explorer(controls, setup, update, readout=readout, on_change=on_change, figsize=(10, 3.6))
