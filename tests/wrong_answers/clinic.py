"""Known-wrong implementations of lab 12's exercises, with the hint each must get.

The wrong diagnoses start from a correct one (tests/alternatives/clinic.py) and make one typical
confusion, so that each case of that kind shows the mistake.
"""

import numpy as np
import torch
from torch import nn

from alternatives.clinic import FIX, _data_first, leak_scan_numpy
from course_utils import clinic
from course_utils.checks.clinic import CONFUSIONS


def _leak_counts(run):
    n = {"val": 300, "test": 300, "train": 600}
    return {name: share * n[name] for name, share in leak_scan_numpy(run).items()}


def _leak_every_copy(run):
    """Every member of a repeated group counted, the first occurrence too."""
    shares = leak_scan_numpy(run)
    rows = run.split("train")[0].numpy().round(4)
    _, counts = np.unique(rows, axis=0, return_counts=True)
    shares["train"] = counts[counts > 1].sum() / len(rows)
    return shares


def _first_relu(run):
    model = run.make_model().eval()
    h = run.batches[0][0]
    with torch.no_grad():
        for layer in model:
            h = layer(h)
            if isinstance(layer, nn.ReLU):
                return h


def _dead_zero_outputs(run):
    return float((_first_relu(run) <= 0).float().mean())


def _dead_count(run):
    return int((_first_relu(run).amax(dim=0) <= 0).sum())


def _confusing(truth, said):
    """A correct diagnosis, except that ``truth`` is taken for ``said`` (with ``said``'s fix)."""
    def diagnose(run):
        kind = _data_first(run)
        kind = said if kind == truth else kind
        return {"diagnosis": kind, "fix": FIX[kind]}

    diagnose.__name__ = f"{truth}_taken_for_{said}"
    return diagnose


def _decoy_fix(run):
    return {"diagnosis": _data_first(run), "fix": "clip the gradients"}


def _always(run):
    return {"diagnosis": "weight_decay_too_strong", "fix": clinic.FIX_LESS_DECAY}


def _says(pair):
    return CONFUSIONS[frozenset(pair)][:40]


WRONG = {
    "clinic.leak_scan": [
        (_leak_counts, "you returned counts"),
        (_leak_every_copy, "the first occurrence of a row is not a duplicate"),
    ],
    "clinic.dead_share": [
        (_dead_zero_outputs, "you counted zero outputs"),
        (_dead_count, "you returned the number of dead units"),
    ],
    "clinic.diagnose": [
        (_confusing("missing_zero_grad", "lr_too_high"), _says({"lr_too_high", "missing_zero_grad"})),
        (_confusing("leaked_normalization", "train_test_duplicates"),
         _says({"leaked_normalization", "train_test_duplicates"})),
        (_confusing("labels_shuffled_apart", "label_noise"), _says({"labels_shuffled_apart", "label_noise"})),
        (_confusing("scheduler_per_batch", "lr_too_low"), _says({"lr_too_low", "scheduler_per_batch"})),
        (_confusing("train_serve_skew", "augmentation_on_test"), _says({"train_serve_skew", "augmentation_on_test"})),
        (_confusing("train_serve_skew", "wrong_class_order"), _says({"train_serve_skew", "wrong_class_order"})),
        (_confusing("softmax_before_cross_entropy", "softmax_dim0"),
         _says({"softmax_dim0", "softmax_before_cross_entropy"})),
        (_confusing("unnormalized_inputs", "dead_relus_bad_init"), _says({"dead_relus_bad_init", "unnormalized_inputs"})),
        (_confusing("eval_mode_forgotten", "batchnorm_small_batch"),
         _says({"eval_mode_forgotten", "batchnorm_small_batch"})),
        (_decoy_fix, "the evidence does not support the fix"),
        (_always, "you missed the evidence that"),
    ],
}
