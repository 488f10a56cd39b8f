"""Exercises of lab 04, loss values & debugging (``solutions/04_losses.ipynb``).

Ids: ``loss.cross_entropy``, ``loss.bce_with_logits``, ``loss.diagnose``, ``loss.train_epoch``, and two
decisions: ``loss.find_broken`` (which of four training runs is broken, from their first losses against
ln C and their curves) and ``loss.choose_bias`` (the output bias chosen on validation over seeds, test
reported once). The decisions' harnesses and evidence are in :mod:`course_utils.experiments.losses`.

Cases are seeds and sizes; ``arguments`` builds the tensors and models. The hint rules compute the
typical *wrong* answers (log10 instead of ln, softmax applied twice, Sigmoid + BCELoss's clamp, a
missing ``zero_grad``...) to recognise them; the reference answers come from the solution notebook.
The two from-scratch losses forbid the library calls the lab text names (``forbid=``).
"""

from __future__ import annotations

import itertools
import math

from ..experiments import losses as lab
from .compare import close, fraction, label
from .decisions import followed, observe_decision, supported
from .engine import Exercise
from .hints import like, when
from .values import AnswerError, as_float, describe, to_plain

LN10 = math.log(10.0)
MEAN_LOSS = "one number: the mean loss over the batch (a float or a 0-d tensor)"


def _not_finite(got, want, case) -> bool:
    try:
        return not math.isfinite(as_float(got))
    except (TypeError, ValueError):
        return False


def _mean_loss(result, kwargs) -> float:
    return as_float(result, MEAN_LOSS)


# -- loss.find_broken ---------------------------------------------------------------------------------

RUN = "the name of the broken run (a key of runs), or a dict {\"broken\": name}"


def _run_observe(result, kwargs) -> str:
    choice = result.get("broken", result) if isinstance(result, dict) else result
    if not isinstance(choice, str) or choice not in kwargs["runs"]:
        raise AnswerError(f"the broken run is one of {', '.join(map(repr, kwargs['runs']))}, got "
                          f"{describe(to_plain(choice))}")
    return choice


def _healthy(got, want, case) -> bool:
    return got not in lab.acceptable_runs(case)


# -- loss.choose_bias ---------------------------------------------------------------------------------

def _bias_choice(choice) -> str:
    if not isinstance(choice, str) or choice not in lab.BIASES:
        raise AnswerError(f"the bias is one of {', '.join(map(repr, lab.BIASES))}, got {describe(to_plain(choice))}")
    return choice


def _chose(bias: str):
    """A hint test: the decision is ``bias``, reached by the protocol, and the evidence does not support it."""
    def test(got, want, case):
        return got["decision"] == bias and got["protocol"] == "followed" and bias not in lab.acceptable_biases(case)
    return test


# -- loss.cross_entropy and loss.bce_with_logits ------------------------------------------------------

#: what the lab text forbids in ``cross_entropy`` (every spelling of each)
CROSS_ENTROPY_FORBIDS = (
    "torch.nn.functional.cross_entropy", "torch.nn.CrossEntropyLoss",
    "torch.nn.functional.log_softmax", "torch.log_softmax", "torch.Tensor.log_softmax", "torch.nn.LogSoftmax",
    "torch.special.log_softmax", "torch.logsumexp", "torch.Tensor.logsumexp", "torch.special.logsumexp",
    "scipy.special.logsumexp", "scipy.special.log_softmax",
)
#: what the lab text forbids in ``bce_with_logits``
BCE_FORBIDS = ("torch.nn.functional.binary_cross_entropy_with_logits", "torch.nn.BCEWithLogitsLoss",
               "torch.binary_cross_entropy_with_logits")


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
    if how == "columns":  # logits[:, targets] picks an (n, n) block: every sample's logit of every target
        return (torch.logsumexp(logits, dim=1).mean() - logits[:, targets].mean()).item()
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

DIAGNOSES = ("high bias", "high variance", "data mismatch", "good")


def _gaps(case: dict) -> dict[str, float]:
    return {"high bias": case["train"] - case["human"], "high variance": case["train_dev"] - case["train"],
            "data mismatch": case["dev"] - case["train_dev"]}


def _diagnose_like(gaps: dict[str, float], tolerance: float | None = 0.02) -> str:
    """The diagnosis from a (possibly mistaken) table of gaps; ``tolerance=None`` never says 'good'.

    >>> _diagnose_like({"high bias": 0.005, "high variance": 0.015}), _diagnose_like({"high bias": 0.03})
    ('good', 'high bias')
    """
    name, gap = max(gaps.items(), key=lambda item: item[1])
    return name if tolerance is None or gap > tolerance else "good"


def _diagnose_slip(case: dict, slip: str) -> str:
    h, tr, td, d = case["human"], case["train"], case["train_dev"], case["dev"]
    if slip == "swapped":
        return _diagnose_like({"high bias": td - tr, "high variance": tr - h, "data mismatch": d - td})
    if slip == "no mismatch":  # variance measured up to the dev set
        return _diagnose_like({"high bias": tr - h, "high variance": d - tr})
    if slip == "bias against 0":
        return _diagnose_like({**_gaps(case), "high bias": tr})
    if slip == "no good":
        return _diagnose_like(_gaps(case), tolerance=None)
    raise ValueError(slip)


def _says(slip: str):
    """A hint test: the learner's label is what ``slip`` gives, and that is not the right label."""
    return lambda got, want, case: isinstance(got, str) and " ".join(got.lower().split()) == _diagnose_slip(
        case, slip) != want


# -- loss.train_epoch ---------------------------------------------------------------------------------

EPOCH_ANSWER = "a pair (losses, accuracy): the list of the batches' loss values and the validation accuracy"
VALIDATION_SIZE = 60  # samples in every case's validation set

#: the bugs of the lab's train_epoch (plus the half fix "softmax over dim=1"), in the words of the hints
BUGS = {
    "no zero_grad": ("the gradients accumulate from batch to batch: call optimizer.zero_grad() before backward()",
                     "the gradients accumulate (no optimizer.zero_grad())"),
    "labels shuffled apart": ("the labels were shuffled with their own permutation: index X and y with the SAME one",
                              "X and y are shuffled with two different permutations"),
    "softmax on the batch axis": ("a softmax over the batch axis (dim=0) feeds F.cross_entropy, which wants raw "
                                  "logits: remove the softmax",
                                  "a softmax over the batch axis is still applied before the loss"),
    "softmax dim=1": ("a softmax over the classes (dim=1) is still applied: F.cross_entropy already contains "
                      "one and wants raw logits, so remove torch.softmax altogether (not only fix its dim)",
                      "a softmax (dim=1) is still applied before F.cross_entropy"),
    "no eval": ("training is right but the validation accuracy is measured with dropout still active: "
                "call model.eval() (and torch.no_grad()) before evaluating",
                "the validation runs with dropout active (no model.eval())"),
}
#: the pairs of bugs a learner may leave at once (one softmax at most)
BUG_PAIRS = tuple(pair for pair in itertools.combinations(BUGS, 2)
                  if pair != ("softmax on the batch axis", "softmax dim=1"))


def _epoch_arguments(case: dict) -> dict:
    """A seeded 3-class problem, a small MLP with dropout, SGD, and the generator that shuffles.

    The engine seeds everything again just before the call: dropout masks then follow from that seed,
    the same for every correct implementation (one forward pass per batch)."""
    import torch
    from torch import nn

    generator = torch.Generator().manual_seed(case["seed"])
    n, d, classes = case["n"], case["features"], 3
    centres = torch.randn(classes, d, generator=generator) * 2
    y = torch.randint(0, classes, (n + VALIDATION_SIZE,), generator=generator)
    X = centres[y] + torch.randn(n + VALIDATION_SIZE, d, generator=generator) * case["noise"]
    torch.manual_seed(case["seed"])
    model = nn.Sequential(nn.Linear(d, 32), nn.ReLU(), nn.Dropout(case["dropout"]), nn.Linear(32, classes))
    optimizer = torch.optim.SGD(model.parameters(), lr=case["lr"])
    return {"model": model, "optimizer": optimizer, "X": X[:n], "y": y[:n], "X_val": X[n:], "y_val": y[n:],
            "batch_size": case["batch_size"], "generator": torch.Generator().manual_seed(case["seed"] + 1)}


def _epoch_observe(result, kwargs) -> dict:
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        raise AnswerError(f"expected {EPOCH_ANSWER}, got {describe(to_plain(result))}")
    losses, accuracy = result
    if isinstance(losses, (str, dict)) or not hasattr(losses, "__len__"):
        raise AnswerError(f"expected the batches' loss values as a list, got {describe(to_plain(losses))}")
    return {"losses": [as_float(v, "one loss value per batch") for v in losses],
            "val_accuracy": as_float(accuracy, "one number as the validation accuracy")}


def _epoch_compare():
    """The losses within float32 noise; the validation accuracy as a fraction of the validation set."""
    losses, accuracy = close(rtol=1e-4, atol=1e-6), fraction(VALIDATION_SIZE)

    def compare(got, want, case):
        return losses(got, want) if isinstance(want, list) else accuracy(got, want, case)

    compare.uses_case = True
    compare.description = "losses within rtol 1e-4, accuracy as a fraction of the validation set"
    return compare


def _buggy_epoch(case: dict, bugs) -> dict:
    """One epoch with exactly the planted ``bugs`` (a name of :data:`BUGS` or a tuple of them)."""
    import torch
    import torch.nn.functional as F

    bugs = {bugs} if isinstance(bugs, str) else set(bugs)
    if not bugs or not bugs <= set(BUGS):
        raise ValueError(bugs)
    from course_utils.data import set_seed

    a = _epoch_arguments(case)
    set_seed(0)  # as the engine does just before it calls the learner's function
    model, optimizer, X, y = a["model"], a["optimizer"], a["X"], a["y"]
    order = torch.randperm(len(X), generator=a["generator"])
    label_order = torch.randperm(len(X), generator=a["generator"]) if "labels shuffled apart" in bugs else order
    X, y = X[order], y[label_order]
    model.train()
    losses = []
    for start in range(0, len(X), a["batch_size"]):
        xb, yb = X[start:start + a["batch_size"]], y[start:start + a["batch_size"]]
        if "no zero_grad" not in bugs:
            optimizer.zero_grad()
        out = model(xb)
        if "softmax on the batch axis" in bugs:
            out = torch.softmax(out, dim=0)
        if "softmax dim=1" in bugs:
            out = torch.softmax(out, dim=1)
        loss = F.cross_entropy(out, yb)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    if "no eval" not in bugs:
        model.eval()
    with torch.no_grad():
        accuracy = (model(a["X_val"]).argmax(1) == a["y_val"]).float().mean().item()
    return {"losses": losses, "val_accuracy": accuracy}


def _bug_hints() -> tuple:
    # rtol 1e-5: a learner's buggy run replays ours operation for operation; some pairs of bugs differ
    # from one of them alone by less than 1e-4 (a softmax over the batch leaves tiny gradients to accumulate)
    single = tuple(like(lambda want, case, bug=bug: _buggy_epoch(case, bug), says, rtol=1e-5)
                   for bug, (says, _) in BUGS.items())
    pairs = tuple(like(lambda want, case, pair=pair: _buggy_epoch(case, pair),
                       f"two bugs are left: {BUGS[pair[0]][1]}, and {BUGS[pair[1]][1]}", rtol=1e-5)
                  for pair in BUG_PAIRS)
    return single + pairs


EXERCISES = (
    Exercise(
        id="loss.cross_entropy",
        title="Mean cross-entropy from logits, numerically stable",
        points=2,
        cases=({"seed": 0, "n": 8, "classes": 5, "scale": 1.0}, {"seed": 1, "n": 32, "classes": 3, "scale": 3.0},
               {"seed": 2, "n": 6, "classes": 4, "scale": 1000.0}),
        compare=close(rtol=1e-6, atol=1e-9),
        arguments=_logits_arguments,
        observe=_mean_loss,
        answer=MEAN_LOSS,
        forbid=CROSS_ENTROPY_FORBIDS,
        hints=(
            when(_not_finite, "the loss overflowed (inf or nan) on large logits: subtract each row's maximum m "
                              "before exponentiating, ln Σ exp(z_j) = m + ln Σ exp(z_j - m)"),
            like(lambda want, case: _ce_wrong(case, "softmax twice"),
                 "the softmax is applied twice: you fed softmax probabilities into a formula that applies its "
                 "own softmax; -z_y + ln Σ exp(z_j) takes the raw logits z"),
            like(lambda want, case: _ce_wrong(case, "batch axis"),
                 "the softmax is taken over the batch axis (dim=0): normalize each row over the classes (dim=1)"),
            like(lambda want, case: _ce_wrong(case, "sum"),
                 "that is the sum over the batch; return the mean, as nn.CrossEntropyLoss does by default"),
            like(lambda want, case: _ce_wrong(case, "log10"), "use the natural logarithm, not log10"),
            like(lambda want, case: _ce_wrong(case, "columns"),
                 "logits[:, targets] is an (n, n) block (every sample's logit of every target), not one logit "
                 "per sample: pick logits[torch.arange(n), targets] (or logits.gather(1, targets[:, None]))"),
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
        observe=_mean_loss,
        answer=MEAN_LOSS,
        forbid=BCE_FORBIDS,
        hints=(
            when(_not_finite, "log(1 - sigmoid(z)) is -inf once sigmoid(z) rounds to 1, already for z above "
                              "about 37 in float64 (17 in float32); log(sigmoid(z)) fails only far lower (below "
                              "about -710). Use max(z, 0) - z*y + log(1 + exp(-|z|)), which never overflows"),
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
               {"human": 0.05, "train": 0.055, "train_dev": 0.07, "dev": 0.075},
               {"human": 0.05, "train": 0.06, "train_dev": 0.07, "dev": 0.12}),
        compare=label(choices=DIAGNOSES),
        answer="one of the labels 'high bias', 'high variance', 'data mismatch', 'good'",
        hints=(
            when(_says("no good"),
                 "every gap here is at most the tolerance 0.02: return 'good' when even the largest gap is "
                 "within it", reveals=True),
            when(_says("swapped"),
                 "bias and variance are swapped: avoidable bias = train - human error, "
                 "variance = train-dev - train error"),
            when(_says("no mismatch"),
                 "the gap is between train-dev and dev: train-dev comes from the training distribution, so a "
                 "jump at dev means the dev data differ (data mismatch), not that the model overfits"),
            when(_says("bias against 0"),
                 "measure the bias against human (Bayes) error, not against 0: train - human is the "
                 "avoidable part"),
        ),
    ),
    Exercise(
        id="loss.train_epoch",
        title="Fix the buggy training epoch",
        points=3,
        cases=({"seed": 0, "n": 120, "features": 6, "noise": 1.0, "dropout": 0.3, "lr": 0.1, "batch_size": 20},
               {"seed": 1, "n": 90, "features": 4, "noise": 1.5, "dropout": 0.5, "lr": 0.05, "batch_size": 30}),
        compare=_epoch_compare(),
        arguments=_epoch_arguments,
        observe=_epoch_observe,
        answer=EPOCH_ANSWER,
        parts=("losses", "val_accuracy"),
        hints=_bug_hints(),
    ),
    Exercise(
        id="loss.find_broken",
        title="Which training run is broken? First losses against ln C, and the curves",
        points=1,
        cases=({"seed": 7},),
        varies=("seed",),
        arguments=lambda case: dict(zip(("runs", "n_classes"), lab.broken_runs(case["seed"]))),
        observe=_run_observe,
        compare=supported(lab.acceptable_runs, what="the broken run"),
        answer=RUN,
        hints=(
            when(_healthy,
                 "this run starts at about ln C and its loss falls well below it: nothing is wrong with it. A "
                 "broken run starts far from ln C (a bad initialization), stays near ln C (the labels no longer "
                 "match the inputs) or climbs (a sign error in the update)"),
        ),
    ),
    Exercise(
        id="loss.choose_bias",
        title="Choose the output bias on validation, report test once",
        points=1,
        cases=({"seed": 0},),
        varies=("seed",),
        arguments=lambda case: dict(zip(("vault", "fit"), lab.bias_lab(case["seed"]))),
        observe=observe_decision("bias", seeds_needed=lab.BIAS_SEEDS_NEEDED, candidates=len(lab.BIASES),
                                 convert=_bias_choice),
        compare={"decision": supported(lab.acceptable_biases, what="the bias"), "protocol": followed()},
        parts=("decision", "protocol"),
        answer='a dict {"bias": one of fit.biases, "test": the test loss of that bias}',
        hints=(
            when(_chose("prior"),
                 "the softmax exponentiates its logits: a bias of p gives probabilities proportional to e^p, "
                 "nearly uniform. The bias whose softmax is the prior is ln p, and the validation losses say so"),
            when(_chose("zeros"),
                 "zeros start every class at 1/C: on imbalanced classes the first steps are spent learning the "
                 "prior. The validation losses over the seeds say which start is better: compare their means"),
        ),
    ),
)
