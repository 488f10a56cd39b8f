"""Exercises of lab 07, regularization (``solutions/07_regularization.ipynb``).

Ids: ``reg.weight_decay``, ``reg.l1_prox``, ``reg.max_norm``, ``reg.early_stopping``, ``reg.stop_epoch``,
``reg.dropout``, ``reg.shift``.

Two exercises are decisions (:mod:`.decisions`): the learner gets an experiment harness
(:mod:`course_utils.experiments.regularization`) and chooses a weight decay, or the epoch to stop at, from
validation curves over several seeds, then opens the test set once. The decision is judged against what
the harness's own runs support (every seed; any candidate within the noise of the best), the protocol by
the vault's sentence; their seed varies per learner.

The other cases are seeds and sizes; ``arguments`` builds the models and arrays. Behaviour is checked where
values alone would let a wrong answer through: the in-place projections (max-norm, the L1 proximal step) are judged on the
model they were given, biases included; dropout is called twice on the same input, since it is random:
every correct inverted dropout drops about a share p, scales the survivors by 1/(1 - p), draws a fresh
mask at every call, leaves its input alone and does nothing at evaluation. The hint rules compute
typical *wrong* answers; the reference answers come from the solution notebook.
"""

from __future__ import annotations

import math

import numpy as np

from course_utils.experiments.seeded import chose, observe_choice

from .compare import Verdict, close, exact
from .decisions import followed, supported
from .engine import Exercise
from .hints import distinct, when
from .values import AnswerError, as_array, describe, to_plain


# -- models ----------------------------------------------------------------------------------------------

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
    return {"model": model, **{k: case[k] for k in ("lam", "lr", "c") if k in case}}


def _linears(model):
    import torch

    return [layer for layer in model.modules() if isinstance(layer, torch.nn.Linear)]


def _weights(case: dict) -> list[np.ndarray]:
    """The case's Linear weights before the learner's function ran (float32, as in the model)."""
    return [layer.weight.detach().numpy().copy() for layer in _linears(_model_arguments(case)["model"])]


def _close_to(got, wrong, rtol=1e-5, atol=1e-7) -> bool:
    return close(rtol=rtol, atol=atol)(got, wrong).ok


# -- reg.weight_decay and reg.stop_epoch: decisions -------------------------------------------------------

def _weight_decay_arguments(case: dict) -> dict:
    from course_utils.experiments.regularization import weight_decay_lab

    return {"lab": weight_decay_lab(case["seed"])}


def _stopping_arguments(case: dict) -> dict:
    from course_utils.experiments.regularization import stopping_lab

    return {"lab": stopping_lab(case["seed"])}


def _acceptable_weight_decays(case: dict) -> list:
    from course_utils.experiments.regularization import acceptable_weight_decays

    return acceptable_weight_decays(case)


def _acceptable_epochs(case: dict) -> list:
    from course_utils.experiments.regularization import acceptable_epochs

    return acceptable_epochs(case)


def _on_training_loss(case: dict) -> float:
    from course_utils.experiments.regularization import best_on_training_loss

    return best_on_training_loss(case["seed"])


def _last_epoch(case: dict) -> int:
    from course_utils.experiments.regularization import EPOCHS

    return EPOCHS


# -- reg.l1_prox -------------------------------------------------------------------------------------------

def _in_place_probe(function, kwargs) -> dict:
    """Run an in-place projection; observe the model it was given: its weights after, its biases."""
    import torch

    model = kwargs["model"]
    biases = [layer.bias.detach().clone() for layer in _linears(model)]
    function(**kwargs)
    layers = _linears(model)
    weights = [layer.weight.detach().double().numpy() for layer in layers]
    return {"weights": weights,
            "biases_unchanged": all(torch.equal(layer.bias.detach(), b) for layer, b in zip(layers, biases))}


def _prox_probe(function, kwargs) -> dict:
    seen = _in_place_probe(function, kwargs)
    flat = np.concatenate([w.ravel() for w in seen["weights"]])
    return {"weights": flat, "exact_zeros": int((flat == 0).sum()), "biases_unchanged": seen["biases_unchanged"]}


def _prox_like(case: dict, slip: str) -> np.ndarray:
    """The weights after a wrong proximal step (never the correct one)."""
    t = case["lam"] * case["lr"]
    out = []
    for w in _weights(case):
        if slip == "gradient step":
            w = w - np.float32(t) * np.sign(w)
        elif slip == "threshold lam":
            w = np.sign(w) * np.maximum(np.abs(w) - np.float32(case["lam"]), 0)
        elif slip == "hard threshold":
            w = np.where(np.abs(w) > t, w, 0)
        else:
            raise ValueError(slip)
        out.append(w.ravel())
    return np.concatenate(out)


def _weights_are(slip: str):
    """A rule: the weights are wrong, and they are those of this slip."""
    return lambda got, want, case: (not _close_to(got["weights"], want["weights"])
                                    and _close_to(got["weights"], _prox_like(case, slip)))


def _unchanged(got, want, case) -> bool:
    flat = np.concatenate([w.ravel() for w in _weights(case)])
    return not _close_to(got["weights"], want["weights"]) and _close_to(got["weights"], flat, rtol=0, atol=0)


# -- reg.max_norm ----------------------------------------------------------------------------------------

def _max_norm_probe(function, kwargs) -> dict:
    seen = _in_place_probe(function, kwargs)
    return {"row_norms": np.concatenate([np.linalg.norm(w, axis=1) for w in seen["weights"]]),
            "biases_unchanged": seen["biases_unchanged"]}


def _max_norm_like(case: dict, slip: str) -> np.ndarray:
    c, norms = case["c"], []
    for w in _weights(case):
        w = w.astype(np.float64)
        if slip == "columns":
            w = w * np.minimum(c / np.linalg.norm(w, axis=0, keepdims=True), 1.0)
        elif slip == "every row to c":
            w = w * c / np.linalg.norm(w, axis=1, keepdims=True)
        elif slip == "whole matrix":
            w = w * min(1.0, c / np.linalg.norm(w))
        elif slip != "unchanged":
            raise ValueError(slip)
        norms.append(np.linalg.norm(w, axis=1))
    return np.concatenate(norms)


def _norms_are(slip: str):
    """A rule: the row norms are wrong, and they are those of this slip."""
    return lambda got, want, case: (not _close_to(got["row_norms"], want["row_norms"])
                                    and _close_to(got["row_norms"], _max_norm_like(case, slip), rtol=1e-4))


# -- reg.early_stopping --------------------------------------------------------------------------------

STOPPING_ANSWER = "a pair (best_epoch, stop_epoch) of integers"


def _losses_arguments(case: dict) -> dict:
    rng = np.random.default_rng(case["seed"])
    epochs = np.arange(case["epochs"])
    curve = 1.0 / (1 + 0.3 * epochs) + case["rise"] * np.maximum(epochs - case["turn"], 0) ** 1.5
    curve = np.maximum(curve, case.get("floor", -np.inf))  # a plateau: equal losses, epoch after epoch
    losses = np.round(curve + rng.normal(0, case["noise"], case["epochs"]), 3)  # rounded: ties happen
    return {"val_losses": losses.tolist(), "patience": case["patience"]}


def _stopping_observe(result, kwargs) -> dict:
    try:
        pair = as_array(result)
    except AnswerError:
        pair = None
    if pair is None or pair.shape != (2,):
        raise AnswerError(f"expected {STOPPING_ANSWER}, got {describe(to_plain(result))}")
    return {"best_epoch": float(pair[0]), "stop_epoch": float(pair[1])}


def _stopping_like(case: dict, slip: str) -> dict:
    """{best epoch, stop epoch} with one classic slip (never the correct controller)."""
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
    return {"best_epoch": float(stop if slip == "last as best" else best_epoch), "stop_epoch": float(stop)}


def _stopping_is(slip: str):
    return lambda got, want, case: exact()(got, _stopping_like(case, slip)).ok


# -- reg.dropout ---------------------------------------------------------------------------------------

DROPOUT_ANSWER = "a tensor of the shape of x"


def _dropout_arguments(case: dict) -> dict:
    import torch

    generator = torch.Generator().manual_seed(case["seed"])
    x = torch.rand(case["n"], 50, generator=generator) + 0.5  # never 0: a zero in the output means dropped
    return {"x": x, "p": case["p"], "training": True}


def _dropout_output(result, x: np.ndarray) -> np.ndarray:
    out = as_array(result)
    if out.shape != x.shape:
        raise AnswerError(f"expected {DROPOUT_ANSWER} {tuple(x.shape)}, got {describe(to_plain(result))}")
    return out


def _dropout_probe(function, kwargs) -> dict:
    """Every case checks the whole behaviour: two calls in training mode on the same input (the share of
    zeros, the scale of the survivors, a fresh mask, the input left alone) and one at evaluation."""
    import torch

    x, p = kwargs["x"], kwargs["p"]
    original = x.detach().clone()
    first = function(x=x, p=p, training=True)
    untouched = bool(torch.equal(x.detach(), original))
    second = function(x=original.clone(), p=p, training=True)
    at_evaluation = function(x=original.clone(), p=p, training=False)
    values = original.double().numpy()
    out, again = _dropout_output(first, values), _dropout_output(second, values)
    kept = out != 0
    ratios = out[kept] / values[kept]
    return {"zero_share": float(1 - kept.mean()),
            "survivor_scale": float(np.median(ratios)) if ratios.size else 0.0,
            "survivors_scaled_alike": bool(ratios.size and np.allclose(ratios, ratios[0], rtol=1e-5)),
            "fresh_mask": bool(not np.array_equal(kept, again != 0)),
            "input_untouched": untouched,
            "identity_at_evaluation": bool(np.allclose(_dropout_output(at_evaluation, values), values,
                                                       rtol=1e-6, atol=0))}


def _dropout_tolerance(case: dict) -> float:
    """Five standard deviations of the share of zeros of n x 50 independent draws (at least 0.01)."""
    return max(0.01, 5 * math.sqrt(case["p"] * (1 - case["p"]) / (case["n"] * 50)))


def _dropout_compare():
    def compare(got, want, case):
        p, found = case["p"], []
        if abs(got["zero_share"] - p) > _dropout_tolerance(case):
            found.append(f"{got['zero_share']:.1%} of the outputs are 0 in training, expected about {p:.0%} (p)")
        scale = 1 / (1 - p)
        if got["zero_share"] < 1 and not got["survivors_scaled_alike"]:
            found.append("the survivors are not all multiplied by the same factor")
        elif got["zero_share"] < 1 and abs(got["survivor_scale"] - scale) > 1e-5 * scale:
            found.append(f"the survivors are multiplied by {got['survivor_scale']:.4g}, expected 1/(1 - p) = "
                         f"{scale:.4g}")
        if not got["fresh_mask"]:
            found.append("two calls dropped exactly the same units")
        if not got["input_untouched"]:
            found.append("x itself was changed")
        if not got["identity_at_evaluation"]:
            found.append("at evaluation the output is not x")
        return Verdict(not found, "; ".join(found), "; ".join(found))

    compare.uses_case = True
    compare.description = ("share of zeros about p, survivors x 1/(1 - p), a fresh mask per call, x untouched, "
                           "the identity at evaluation")
    return compare


def _observed_near(got, key, value, rtol=1e-4) -> bool:
    return abs(got[key] - value) <= rtol * max(abs(value), 1e-12)


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


def _shift_is(slip: str):
    return lambda got, want, case: _close_to(got, _shift_like(case, slip), rtol=0, atol=1e-6)


UNCHANGED_MODEL = ("the model you were given is unchanged: change its weights in place (under torch.no_grad(), "
                   "with layer.weight.mul_(...) or .copy_(...)); `w = ...` only rebinds a local name")

EXERCISES = (
    Exercise(
        id="reg.weight_decay",
        title="Choose the weight decay on validation, over several seeds; report test once",
        points=2,
        cases=({"seed": 1},),
        varies=("seed",),
        arguments=_weight_decay_arguments,
        observe=observe_choice("weight_decay", "weight decay"),
        compare={"decision": supported(_acceptable_weight_decays, what="the weight decay"), "protocol": followed()},
        parts=("decision", "protocol"),
        answer="a dict: {'weight_decay': your choice (one of lab.candidates), 'test_accuracy': lab.test(...)}",
        timeout=30.0,
        hints=(
            when(chose(_on_training_loss, _acceptable_weight_decays),
                 "that weight decay has the lowest TRAINING loss: less regularization always fits the training "
                 "set better; choose on the validation loss"),
        ),
    ),
    Exercise(
        id="reg.l1_prox",
        title="Exact zeros: the proximal step of L1 (soft-thresholding)",
        points=1,
        cases=({"seed": 0, "sizes": [6, 10, 4], "lam": 0.5, "lr": 0.1},
               {"seed": 1, "sizes": [20, 8, 3], "lam": 2.0, "lr": 0.05}),
        compare=close(rtol=1e-5, atol=1e-7),
        arguments=_model_arguments,
        probe=_prox_probe,
        answer="the model, its Linear weights soft-thresholded in place",
        parts=("weights", "exact_zeros", "biases_unchanged"),
        forbid=("torch.nn.functional.softshrink", "torch.nn.Softshrink"),
        hints=(*distinct((
            when(_unchanged, UNCHANGED_MODEL),
            when(_weights_are("gradient step"),
                 "that is a plain gradient step of the penalty, w - lr*lam*sign(w): the weights that cross 0 "
                 "overshoot to the other side, none lands on 0. Stop them AT 0: "
                 "w <- sign(w) * max(|w| - lr*lam, 0)"),
            when(_weights_are("threshold lam"),
                 "the threshold is lr*lam (the step size times the strength), not lam alone"),
            when(_weights_are("hard threshold"),
                 "the small weights are 0 but the others kept their value: soft-thresholding also shrinks "
                 "every surviving weight by lr*lam towards 0"))),
            when(lambda got, want, case: not got["biases_unchanged"],
                 "the biases changed: the L1 penalty (and so its proximal step) is on the weights only"),
        ),
    ),
    Exercise(
        id="reg.max_norm",
        title="Max-norm: project each unit's incoming weights onto a ball",
        points=2,
        cases=({"seed": 0, "sizes": [6, 10, 4], "c": 1.0, "weight_scale": 3.0},
               {"seed": 1, "sizes": [20, 8, 3], "c": 0.5, "weight_scale": 1.5},
               # rows on both sides of c: a projection that also scales the short rows up shows here
               {"seed": 5, "sizes": [12, 8, 4], "c": 0.55, "weight_scale": 1.0}),
        compare=close(rtol=1e-5, atol=1e-7),
        arguments=_model_arguments,
        probe=_max_norm_probe,
        answer="the model, its Linear weights projected in place",
        parts=("row_norms", "biases_unchanged"),
        hints=(*distinct((
            when(_norms_are("unchanged"), UNCHANGED_MODEL),
            when(_norms_are("columns"),
                 "you normalized columns (dim=0): a unit's incoming weights are a ROW of nn.Linear.weight, "
                 "which is stored (out_features, in_features) — use norm(dim=1)"),
            when(_norms_are("every row to c"),
                 "every row was scaled to norm c: only rows ABOVE c are scaled down; the others stay as they are"),
            when(_norms_are("whole matrix"),
                 "that bounds the norm of the whole matrix; max-norm bounds each unit's row separately"))),
            when(lambda got, want, case: not got["biases_unchanged"],
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
        observe=_stopping_observe,
        answer=STOPPING_ANSWER,
        parts=("best_epoch", "stop_epoch"),
        hints=(
            when(_stopping_is("one late"),
                 "one epoch late: stop at the epoch where the count of epochs without improvement REACHES "
                 "the patience"),
            when(_stopping_is("ties count"), "a loss equal to the best is not an improvement: use a strict <"),
            when(_stopping_is("last as best"),
                 "return the epoch of the BEST validation loss (the weights you restore), not the last one"),
        ),
    ),
    Exercise(
        id="reg.stop_epoch",
        title="Choose the epoch to stop at from validation curves over several seeds; report test once",
        points=2,
        cases=({"seed": 7},),
        varies=("seed",),
        arguments=_stopping_arguments,
        observe=observe_choice("epoch", "epoch", candidates=None),
        compare={"decision": supported(_acceptable_epochs, what="the epoch"), "protocol": followed()},
        parts=("decision", "protocol"),
        answer="a dict: {'epoch': your choice (0 ... 30), 'test_accuracy': lab.test(...)}",
        timeout=30.0,
        hints=(
            when(chose(_last_epoch, _acceptable_epochs),
                 "the last epoch has the lowest TRAINING loss, but the validation loss turned up long before: "
                 "stop where the validation loss, averaged over the seeds, is lowest"),
        ),
    ),
    Exercise(
        id="reg.dropout",
        title="Inverted dropout, forward pass",
        points=2,
        cases=({"seed": 0, "n": 400, "p": 0.5}, {"seed": 1, "n": 400, "p": 0.2}, {"seed": 2, "n": 100, "p": 0.6}),
        compare=_dropout_compare(),
        arguments=_dropout_arguments,
        probe=_dropout_probe,
        answer=DROPOUT_ANSWER,
        forbid=("torch.nn.functional.dropout", "torch.nn.Dropout", "torch.dropout"),
        hints=(
            when(lambda got, want, case: _observed_near(got, "survivor_scale", 1.0),
                 "the survivors are not rescaled: divide them by (1 - p), so that the expected output equals "
                 "the input and nothing needs to change at evaluation"),
            when(lambda got, want, case: _observed_near(got, "survivor_scale", 1 - case["p"]),
                 "the survivors are multiplied by (1 - p); inverted dropout DIVIDES by it"),
            when(lambda got, want, case: abs(case["p"] - 0.5) > 0.05
                 and abs(got["zero_share"] - (1 - case["p"])) < _dropout_tolerance(case),
                 "p is the probability to DROP a unit, not to keep it"),
            when(lambda got, want, case: not got["identity_at_evaluation"],
                 "at evaluation (training=False) dropout does nothing: return x unchanged"),
            when(lambda got, want, case: not got["fresh_mask"],
                 "two calls dropped exactly the same units: the mask must be new at every call. Do not seed "
                 "inside the function (torch.manual_seed or a new Generator each call replays the same mask)"),
            when(lambda got, want, case: not got["input_untouched"],
                 "x itself was changed in place: return a new tensor"),
        ),
    ),
    Exercise(
        id="reg.shift",
        title="Shift images by whole pixels (an augmentation)",
        points=2,
        cases=({"seed": 0, "n": 3, "dx": 1, "dy": 0}, {"seed": 1, "n": 2, "dx": -2, "dy": 1},
               {"seed": 2, "n": 2, "dx": 0, "dy": -3}),
        compare=close(rtol=0, atol=1e-12),  # pixels are moved, not computed: exact
        arguments=_images_arguments,
        answer="an array of shape (n, height, width): the shifted images",
        hints=(
            when(_shift_is("roll"),
                 "np.roll wraps the pixels around: what leaves on the right comes back on the left. Fill the "
                 "uncovered border with 0 (the background)"),
            when(_shift_is("swapped"),
                 "dx and dy are swapped: dx moves along the columns (axis 2), dy along the rows (axis 1)"),
            when(_shift_is("opposite"),
                 "the shift goes the wrong way: dx = +1 moves the content one pixel to the RIGHT, dy = +1 one "
                 "pixel DOWN"),
        ),
    ),
)
