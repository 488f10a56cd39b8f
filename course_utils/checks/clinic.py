"""Exercises of lab 12, the bug clinic (``solutions/12_bug_clinic.ipynb``).

Ids: ``clinic.leak_scan``, ``clinic.dead_share`` (probes of the preflight, run on fresh broken runs),
``clinic.diagnose`` (a broken run in, a diagnosis and the smallest fix out; both graded).

Every case is a seed (``varies=("seed",)``: each learner gets other runs, other bugs). The probes'
cases name the bug too (``kind``), so that each probe meets the bug it is for. ``clinic.diagnose``
draws the bug from the seed (:func:`course_utils.clinic.kind_of`): the diagnosis is judged against the
bug the run really has, the fix against the fixes that repair it -- the answer key is the generator's,
never a number from the learner's kernel. A wrong diagnosis names the evidence it missed; the hints
name the typical confusions (a learning rate too high or gradients that accumulate...).
"""

from __future__ import annotations

from functools import lru_cache

from .compare import Verdict, close
from .decisions import supported
from .engine import Exercise
from .hints import when
from .values import AnswerError, as_float, describe, short_repr, to_plain


def _clinic():
    """course_utils.clinic, imported when a case needs it (it imports torch; the registry must not)."""
    from course_utils import clinic

    return clinic


def kind_of(seed: int) -> str:
    return _clinic().kind_of(seed)


@lru_cache(maxsize=16)
def _run(seed: int, kind: str | None = None):
    return _clinic().broken_run(seed, kind)


def _run_arguments(case: dict) -> dict:
    """A fresh broken run for each call (the learner's probes may train its models)."""
    return {"run": _clinic().broken_run(case["seed"], case.get("kind"))}


# -- clinic.leak_scan ------------------------------------------------------------------------------------

SPLIT_SIZES = {"val": 300, "test": 300, "train": 600}
SHARES = "a dict {'val': share, 'test': share, 'train': share}: three numbers between 0 and 1"


def _shares(result, kwargs) -> dict:
    if not isinstance(result, dict) or set(result) != set(SPLIT_SIZES):
        raise AnswerError(f"expected {SHARES}; got {describe(to_plain(result))}")
    return {key: as_float(result[key], f"a share for {key!r}") for key in SPLIT_SIZES}


def _counts(got, want, case) -> bool:
    return all(abs(got[k] - want[k] * n) < 0.5 for k, n in SPLIT_SIZES.items()) and any(want.values())


def _every_copy(got, want, case) -> bool:
    """The within-train share counted the first row of each repeated group too."""
    from course_utils.preflight import _rows

    import numpy as np

    rows = _rows(_run(case["seed"], case.get("kind")).split("train")[0])
    _, counts = np.unique(rows, axis=0, return_counts=True)
    every = counts[counts > 1].sum() / len(rows)
    return abs(got["train"] - every) < 1e-6 and abs(got["train"] - want["train"]) > 1e-6


# -- clinic.dead_share -------------------------------------------------------------------------------------

def _dead_wrong(case: dict, how: str) -> float:
    """A typical wrong dead share of the case's fresh model on its first batch."""
    import torch
    from torch import nn

    run = _run(case["seed"], case.get("kind"))
    model, X = run.make_model().eval(), run.batches[0][0]
    with torch.no_grad():
        h = X
        for layer in model:
            h = layer(h)
            if isinstance(layer, nn.ReLU):
                break
    if how == "zero outputs":
        return float((h <= 0).float().mean())
    if how == "count":
        return float((h.amax(dim=0) <= 0).sum())
    raise ValueError(how)


def _like_dead(how: str):
    return lambda got, want, case: abs(got - _dead_wrong(case, how)) < 1e-6 and abs(got - want) > 1e-6


# -- clinic.diagnose -----------------------------------------------------------------------------------------

DIAGNOSIS = ("a dict {'diagnosis': one of clinic.KIND_NAMES, 'fix': one of clinic.FIXES}")


def _diagnosis(result, kwargs) -> dict:
    if not isinstance(result, dict) or not {"diagnosis", "fix"} <= set(result):
        raise AnswerError(f"expected {DIAGNOSIS}; got {describe(to_plain(result))}")
    kind, fix = result["diagnosis"], result["fix"]
    if not isinstance(kind, str) or kind.strip() not in _clinic().KINDS:
        raise AnswerError(f"the diagnosis {short_repr(to_plain(kind))} is not one of the bug kinds: pick a name "
                          "from clinic.KIND_NAMES")
    if not isinstance(fix, str) or fix.strip() not in _clinic().FIXES:
        raise AnswerError(f"the fix {short_repr(to_plain(fix))} is not one of clinic.FIXES: copy one of them")
    return {"diagnosis": kind.strip(), "fix": fix.strip()}


def _true_kind(got, want, case=None) -> Verdict:
    """The diagnosis is the bug the run has; otherwise, the evidence that shows that bug."""
    truth = kind_of(case["seed"])
    if got == truth:
        return Verdict(True)
    return Verdict(False, f"not {got}: you missed the evidence that {_clinic().KINDS[truth].evidence}",
                   "another bug than the one this run has")


_true_kind.uses_case = True
_true_kind.description = "the bug the run has"

#: typical confusions: (what the learner said, what the run has) -> what tells them apart
CONFUSIONS = {
    frozenset({"lr_too_high", "missing_zero_grad"}): (
        "a learning rate too high and gradients that accumulate both blow the update ratio up; step twice on "
        "the same batch from the same weights: only accumulating gradients double (gradient_accumulates)"),
    frozenset({"leaked_normalization", "train_test_duplicates"}): (
        "both are leaks, of different things: leaked statistics leave the training features' means off 0, "
        "duplicates are rows of the test split found in the training split (leak_scan)"),
    frozenset({"lr_too_low", "scheduler_per_batch"}): (
        "both end with tiny updates; a learning rate too low is tiny from the first step, a scheduler "
        "stepped per batch starts healthy and collapses within the first epoch (update_ratios, history['lr'])"),
    frozenset({"labels_shuffled_apart", "label_noise"}): (
        "both break the link between inputs and labels: shuffled-apart labels are wrong in the batches only "
        "(the training split itself is clean), noisy labels are wrong in the training split itself"),
    frozenset({"train_serve_skew", "augmentation_on_test"}): (
        "both make the test inputs look different; augmentation changes them at every load (load twice), "
        "a serving skew changes them the same way every time (compare the splits' statistics)"),
    frozenset({"train_serve_skew", "wrong_class_order"}): (
        "both hurt the test accuracy only; a class-order mix-up leaves the inputs alike and sends each class "
        "to one other class (the confusion matrix), a serving skew changes the inputs' statistics"),
    frozenset({"softmax_dim0", "softmax_before_cross_entropy"}): (
        "both put a softmax in the model; check which sums are 1: the rows (over the classes) or the "
        "columns (over the batch)"),
    frozenset({"dead_relus_bad_init", "unnormalized_inputs"}): (
        "both can leave most ReLUs dead; look at the inputs first: raw pixels have a mean near 30, "
        "standardized ones near 0"),
    frozenset({"eval_mode_forgotten", "batchnorm_small_batch"}): (
        "both are about train and eval modes; a forgotten model.eval() makes two evaluations differ, "
        "BatchNorm with tiny batches shows in the batch size"),
}


def _confusion(pair: frozenset):
    return when(lambda got, want, case: got["diagnosis"] != kind_of(case["seed"])
                and {got["diagnosis"], kind_of(case["seed"])} == pair, CONFUSIONS[pair])


EXERCISES = [
    Exercise(
        "clinic.leak_scan", "Scan the splits for duplicates (probe)", 2,
        cases=({"seed": 1, "kind": "train_test_duplicates"}, {"seed": 2, "kind": "blank_samples"}),
        varies=("seed",), arguments=_run_arguments, observe=_shares, compare=close(rtol=1e-6, atol=1e-6),
        answer=SHARES,
        hints=(when(_counts, "you returned counts: divide by the number of rows of each split"),
               when(_every_copy, "a repeated training row counts once per extra copy: the first occurrence of a "
                                 "row is not a duplicate")),
    ),
    Exercise(
        "clinic.dead_share", "Count the dead ReLUs of a fresh model (probe)", 2,
        cases=({"seed": 1, "kind": "dead_relus_bad_init"}, {"seed": 3, "kind": "unnormalized_inputs"},
               {"seed": 4, "kind": "label_noise"}),
        varies=("seed",), arguments=_run_arguments, observe=lambda result, kwargs: as_float(result, "one share"),
        compare=close(rtol=1e-6, atol=1e-6), answer="one number: the share of dead units, between 0 and 1",
        hints=(when(_like_dead("zero outputs"), "you counted zero outputs; a unit is dead when it is zero on "
                                                "EVERY sample of the batch (max over the batch <= 0)"),
               when(_like_dead("count"), "you returned the number of dead units: divide by the layer's width")),
    ),
    Exercise(
        "clinic.diagnose", "Diagnose a broken run and choose the smallest fix", 6,
        cases=({"seed": 9}, {"seed": 51}, {"seed": 31}, {"seed": 91}, {"seed": 3}, {"seed": 0}, {"seed": 1},
               {"seed": 66}), varies=("seed",),
        arguments=_run_arguments, observe=_diagnosis, answer=DIAGNOSIS,
        compare={"diagnosis": _true_kind,
                 "fix": supported(lambda case: _clinic().fixes_for(kind_of(case["seed"])), what="the fix")},
        parts=("diagnosis", "fix"),
        forbid=("course_utils.clinic.kind_of", "course_utils.clinic.KINDS", "course_utils.clinic.fixes_for",
                "course_utils.preflight.diagnose", "course_utils.preflight.preflight"),
        hints=tuple(_confusion(pair) for pair in CONFUSIONS),
        timeout=20.0,
    ),
]

