"""Exercises of lab 07, regularization (``solutions/07_regularization.ipynb``).

Ids: ``reg.l1_penalty``, ``reg.max_norm``, ``reg.early_stopping``, ``reg.dropout``, ``reg.shift``.

Cases are seeds and sizes; ``arguments`` builds the models and arrays. Dropout is random, so it is
judged by what every correct inverted dropout does (the share of zeros, the scale of the survivors, the
identity at evaluation), not by its mask. The hint rules compute typical *wrong* answers; the reference
answers come from the solution notebook.
"""

from __future__ import annotations

import numpy as np

from .compare import Verdict, close, exact
from .engine import Exercise
from .hints import like, when
from .values import as_float


# -- reg.l1_penalty and reg.max_norm -------------------------------------------------------------------

def _model_arguments(case: dict) -> dict:
    import torch

    from course_utils.train import mlp

    torch.manual_seed(case["seed"])
    model = mlp(case["sizes"])
    with torch.no_grad():
        for layer in model:
            if isinstance(layer, torch.nn.Linear):
                layer.weight.mul_(case.get("weight_scale", 1.0))
                layer.bias.uniform_(-1, 1)
    return {"model": model, **{k: case[k] for k in ("lam", "c") if k in case}}


def _linears(model):
    import torch

    return [layer for layer in model.modules() if isinstance(layer, torch.nn.Linear)]


def _l1_like(case: dict, slip: str) -> float:
    a = _model_arguments(case)
    layers = _linears(a["model"])
    weights = sum(layer.weight.abs().sum().item() for layer in layers)
    if slip == "with biases":
        return a["lam"] * (weights + sum(layer.bias.abs().sum().item() for layer in layers))
    if slip == "squares":
        return a["lam"] * sum((layer.weight ** 2).sum().item() for layer in layers)
    if slip == "no lambda":
        return weights
    if slip == "mean":
        return a["lam"] * sum(layer.weight.abs().mean().item() for layer in layers)
    raise ValueError(slip)


def _row_norms(result, kwargs) -> list[list[float]]:
    """Each Linear layer's per-unit (row) weight norms after the projection, and its biases' sum."""
    return [layer.weight.detach().norm(dim=1).tolist() + [layer.bias.detach().sum().item()]
            for layer in _linears(kwargs["model"])]


def _max_norm_like(case: dict, slip: str) -> list[list[float]]:
    import torch

    a = _model_arguments(case)
    c = a["c"]
    with torch.no_grad():
        for layer in _linears(a["model"]):
            w = layer.weight
            if slip == "columns":
                norms = w.norm(dim=0, keepdim=True)
                w.mul_(torch.clamp(c / norms, max=1.0))
            elif slip == "every row to c":
                w.mul_(c / w.norm(dim=1, keepdim=True))
            elif slip == "whole matrix":
                w.mul_(min(1.0, c / w.norm().item()))
            else:
                raise ValueError(slip)
    return _row_norms(None, a)


# -- reg.early_stopping --------------------------------------------------------------------------------

def _losses_arguments(case: dict) -> dict:
    rng = np.random.default_rng(case["seed"])
    epochs = np.arange(case["epochs"])
    curve = 1.0 / (1 + 0.3 * epochs) + case["rise"] * np.maximum(epochs - case["turn"], 0) ** 1.5
    curve = np.maximum(curve, case.get("floor", -np.inf))  # a plateau: equal losses, epoch after epoch
    losses = np.round(curve + rng.normal(0, case["noise"], case["epochs"]), 3)  # rounded: ties happen
    return {"val_losses": losses.tolist(), "patience": case["patience"]}


def _stopping_like(case: dict, slip: str) -> list[int]:
    """[best epoch, stop epoch] with one classic slip (never the correct controller)."""
    if slip not in ("one late", "ties count", "last as best"):
        raise ValueError(slip)
    a = _losses_arguments(case)
    losses, patience = a["val_losses"], a["patience"]
    best, best_epoch, waited, stop = float("inf"), 0, 0, len(losses) - 1
    for epoch, loss in enumerate(losses):
        if loss <= best if slip == "ties count" else loss < best:
            best, best_epoch, waited = loss, epoch, 0
        else:
            waited += 1
            if waited >= patience + (1 if slip == "one late" else 0):
                stop = epoch
                break
    return [stop if slip == "last as best" else best_epoch, stop]


# -- reg.dropout ---------------------------------------------------------------------------------------

def _dropout_arguments(case: dict) -> dict:
    import torch

    generator = torch.Generator().manual_seed(case["seed"])
    x = torch.rand(case["n"], 50, generator=generator) + 0.5  # never 0: a zero in the output means dropped
    _ORIGINAL.clear()
    _ORIGINAL[id(x)] = x.clone()  # to tell whether the learner's function wrote into x
    return {"x": x, "p": case["p"], "training": case["training"]}


_ORIGINAL: dict = {}


def _dropout_observe(result, kwargs) -> dict:
    original = _ORIGINAL.get(id(kwargs["x"]), kwargs["x"])
    x = original.detach().numpy().astype(np.float64)
    out = np.asarray(result.detach().numpy() if hasattr(result, "detach") else result, dtype=np.float64)
    if out.shape != x.shape:
        return {"shape": list(out.shape)}
    kept = out != 0
    ratios = out[kept] / x[kept]
    return {"shape": list(out.shape), "zero_share": round(float(1 - kept.mean()), 2),
            "survivor_scale": float(np.median(ratios)) if ratios.size else 0.0,
            "survivors_scaled_alike": bool(ratios.size and np.allclose(ratios, ratios[0], rtol=1e-5)),
            "input_untouched": bool(np.array_equal(original.detach().numpy(), kwargs["x"].detach().numpy()))}


def _dropout_compare():
    zero_share = close(rtol=0, atol=0.03)
    rest = close(rtol=1e-5)

    def compare(got, want):
        if got.get("shape") != want["shape"]:
            return Verdict(False, f"output shape {got.get('shape')}, expected {want['shape']}")
        verdict = zero_share(got["zero_share"], want["zero_share"])
        if not verdict.ok:
            return Verdict(False, f"share of zeros {got['zero_share']}, expected about {want['zero_share']}")
        return rest({k: got[k] for k in ("survivor_scale", "survivors_scaled_alike", "input_untouched")},
                    {k: want[k] for k in ("survivor_scale", "survivors_scaled_alike", "input_untouched")})

    compare.description = "share of zeros within 0.03, survivors scaled by 1/(1 - p), input untouched"
    return compare


def _observed_like(got, key, value, rtol=1e-4) -> bool:
    return isinstance(got.get(key), float) and abs(got[key] - value) <= rtol * max(abs(value), 1e-12)


# -- reg.shift -----------------------------------------------------------------------------------------

def _images_arguments(case: dict) -> dict:
    from course_utils.data import load_digits

    X, _ = load_digits()
    rows = np.random.default_rng(case["seed"]).choice(len(X), case["n"], replace=False)
    return {"images": X[rows].reshape(-1, 8, 8), "dx": case["dx"], "dy": case["dy"]}


def _shift_like(case: dict, slip: str) -> list:
    a = _images_arguments(case)
    images, dx, dy = a["images"], a["dx"], a["dy"]
    if slip == "roll":
        return np.roll(images, (dy, dx), axis=(1, 2)).tolist()
    if slip == "swapped":
        dx, dy = dy, dx
    elif slip == "opposite":
        dx, dy = -dx, -dy
    else:
        raise ValueError(slip)
    out = np.zeros_like(images)
    h, w = images.shape[1:]
    out[:, max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = \
        images[:, max(-dy, 0):h + min(-dy, 0), max(-dx, 0):w + min(-dx, 0)]
    return out.tolist()


EXERCISES = (
    Exercise(
        id="reg.l1_penalty",
        title="The L1 penalty of a network's weights",
        points=1,
        cases=({"seed": 0, "sizes": [8, 16, 3], "lam": 1e-3}, {"seed": 1, "sizes": [4, 5, 5, 2], "lam": 0.5}),
        compare=close(rtol=1e-6),
        arguments=_model_arguments,
        observe=lambda result, kwargs: as_float(result),
        hints=(
            like(lambda want, case: _l1_like(case, "with biases"),
                 "the biases are included: penalize the weights of the Linear layers only (biases do not "
                 "make a network more complex, and shrinking them only costs fit)"),
            like(lambda want, case: _l1_like(case, "squares"), "that is the L2 penalty (squares); L1 sums |w|"),
            like(lambda want, case: _l1_like(case, "no lambda"), "multiply the sum by the strength lam"),
            like(lambda want, case: _l1_like(case, "mean"),
                 "a mean per layer weighs small layers more: sum |w| over every weight"),
        ),
    ),
    Exercise(
        id="reg.max_norm",
        title="Max-norm: project each unit's incoming weights onto a ball",
        points=2,
        cases=({"seed": 0, "sizes": [6, 10, 4], "c": 1.0, "weight_scale": 3.0},
               {"seed": 1, "sizes": [20, 8, 3], "c": 0.5, "weight_scale": 1.5}),
        compare=close(rtol=1e-5, atol=1e-7),
        arguments=_model_arguments,
        observe=_row_norms,
        hints=(
            like(lambda want, case: _max_norm_like(case, "columns"),
                 "you normalized columns (dim=0): a unit's incoming weights are a ROW of nn.Linear.weight, "
                 "which is stored (out_features, in_features) — use norm(dim=1)"),
            like(lambda want, case: _max_norm_like(case, "every row to c"),
                 "every row was scaled to norm c: only rows ABOVE c are scaled down; the others stay as they are"),
            like(lambda want, case: _max_norm_like(case, "whole matrix"),
                 "that bounds the norm of the whole matrix; max-norm bounds each unit's row separately"),
            when(lambda got, want, case: len(got) == len(want) and got != want and all(
                g[-1] != w[-1] for g, w in zip(got, want)),
                 "the biases changed: max-norm constrains the weights only"),
        ),
    ),
    Exercise(
        id="reg.early_stopping",
        title="Early stopping with patience",
        points=2,
        cases=({"seed": 0, "epochs": 40, "turn": 12, "rise": 0.01, "noise": 0.01, "patience": 5},
               {"seed": 1, "epochs": 30, "turn": 25, "rise": 0.02, "noise": 0.002, "patience": 3},
               {"seed": 2, "epochs": 25, "turn": 40, "rise": 0.0, "noise": 0.0, "patience": 4},
               {"seed": 3, "epochs": 30, "turn": 40, "rise": 0.0, "noise": 0.0, "patience": 4, "floor": 0.3}),
        compare=exact(),
        arguments=_losses_arguments,
        observe=lambda result, kwargs: [int(v) for v in result],
        hints=(
            like(lambda want, case: _stopping_like(case, "one late"),
                 "one epoch late: stop at the epoch where the count of epochs without improvement REACHES "
                 "the patience"),
            like(lambda want, case: _stopping_like(case, "ties count"),
                 "a loss equal to the best is not an improvement: use a strict <"),
            like(lambda want, case: _stopping_like(case, "last as best"),
                 "return the epoch of the BEST validation loss (the weights you restore), not the last one"),
        ),
    ),
    Exercise(
        id="reg.dropout",
        title="Inverted dropout, forward pass",
        points=2,
        cases=({"seed": 0, "n": 400, "p": 0.5, "training": True}, {"seed": 1, "n": 400, "p": 0.2, "training": True},
               {"seed": 2, "n": 100, "p": 0.5, "training": False}),
        compare=_dropout_compare(),
        arguments=_dropout_arguments,
        observe=_dropout_observe,
        hints=(
            when(lambda got, want, case: case["training"] and _observed_like(got, "survivor_scale", 1.0),
                 "the survivors are not rescaled: divide them by (1 - p), so that the expected output equals "
                 "the input and nothing needs to change at evaluation"),
            when(lambda got, want, case: case["training"] and _observed_like(got, "survivor_scale", 1 - case["p"]),
                 "the survivors are multiplied by (1 - p); inverted dropout DIVIDES by it"),
            when(lambda got, want, case: case["training"] and isinstance(got.get("zero_share"), float)
                 and abs(got["zero_share"] - (1 - case["p"])) < 0.03 and abs(case["p"] - 0.5) > 0.05,
                 "p is the probability to DROP a unit, not to keep it"),
            when(lambda got, want, case: not case["training"] and got.get("zero_share", 0) > 0.05,
                 "at evaluation (training=False) dropout does nothing: return x unchanged"),
            when(lambda got, want, case: got.get("input_untouched") is False,
                 "x itself was changed in place: return a new tensor"),
        ),
    ),
    Exercise(
        id="reg.shift",
        title="Shift images by whole pixels (an augmentation)",
        points=2,
        cases=({"seed": 0, "n": 3, "dx": 1, "dy": 0}, {"seed": 1, "n": 2, "dx": -2, "dy": 1},
               {"seed": 2, "n": 2, "dx": 0, "dy": -3}),
        compare=close(rtol=0, atol=1e-12),
        arguments=_images_arguments,
        observe=lambda result, kwargs: np.asarray(result, dtype=np.float64).tolist(),
        hints=(
            like(lambda want, case: _shift_like(case, "roll"),
                 "np.roll wraps the pixels around: what leaves on the right comes back on the left. Fill the "
                 "uncovered border with 0 (the background)"),
            like(lambda want, case: _shift_like(case, "swapped"),
                 "dx and dy are swapped: dx moves along the columns (axis 2), dy along the rows (axis 1)"),
            like(lambda want, case: _shift_like(case, "opposite"),
                 "the shift goes the wrong way: dx = +1 moves the content one pixel to the RIGHT, dy = +1 one "
                 "pixel DOWN"),
        ),
    ),
)
