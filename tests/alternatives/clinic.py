"""Correct implementations of lab 12's exercises, written another way than the reference solution."""

import numpy as np
import torch
from torch import nn

from course_utils import clinic
from course_utils import preflight as probes


def leak_scan_numpy(run):
    """np.unique over the stacked rows: a row of another split is a leak when it adds no new unique row."""
    train = run.split("train")[0].numpy()
    shares = {}
    for name in ("val", "test"):
        other = run.split(name)[0].numpy()
        together = np.unique(np.concatenate([train, other]), axis=0, return_inverse=True)[1].ravel()
        known = set(together[:len(train)].tolist())
        shares[name] = np.mean([index in known for index in together[len(train):]])
    shares["train"] = 1 - len(np.unique(train, axis=0)) / len(train)
    return shares


def leak_scan_distances(run):
    """Exact copies are rows at distance 0 (torch.cdist); float32 shares."""
    train = run.split("train")[0].double()
    shares = {}
    for name in ("val", "test"):
        distance = torch.cdist(run.split(name)[0].double(), train, compute_mode="donot_use_mm_for_euclid_dist")
        shares[name] = (distance.min(dim=1).values < 1e-9).float().mean()
    distance = torch.cdist(train, train, compute_mode="donot_use_mm_for_euclid_dist")
    earlier = torch.tril(distance < 1e-9, diagonal=-1).any(dim=1)
    shares["train"] = earlier.float().mean()
    return shares


def dead_share_hook(run):
    """A forward hook on the first ReLU."""
    model = run.make_model()
    model.eval()
    relu = next(layer for layer in model if isinstance(layer, nn.ReLU))
    seen = {}
    handle = relu.register_forward_hook(lambda module, inputs, output: seen.setdefault("h", output))
    with torch.no_grad():
        model(run.batches[0][0])
    handle.remove()
    return (seen["h"] == 0).all(dim=0).float().mean()


def dead_share_slice(run):
    """The Sequential up to its first ReLU, as a NumPy float32."""
    model = run.make_model().eval()
    first = next(i for i, layer in enumerate(model) if isinstance(layer, nn.ReLU))
    with torch.no_grad():
        h = model[:first + 1](run.batches[0][0]).numpy()
    return np.float32(np.mean(~(h > 0).any(axis=0)))


def _strict_permutation(matrix):
    """Most samples off the diagonal, and each class sent to its own other class."""
    off = matrix - np.diag(np.diag(matrix))
    columns = off.argmax(axis=1)
    return off.max(axis=1).sum() > 0.5 * matrix.sum() and len(set(columns.tolist())) >= 0.8 * len(matrix)


FIX = {"missing_zero_grad": clinic.FIX_ZERO_GRAD, "detached_pinn_derivative": clinic.FIX_KEEP_GRAPH,
       "unnormalized_inputs": clinic.FIX_STANDARDIZE, "leaked_normalization": clinic.FIX_SCALER_ON_TRAIN,
       "augmentation_on_test": clinic.FIX_AUGMENT_TRAIN_ONLY, "train_test_duplicates": clinic.FIX_DEDUPLICATE,
       "blank_samples": clinic.FIX_DROP_BLANK, "train_serve_skew": clinic.FIX_SAME_PIPELINE,
       "unshuffled_sorted_batches": clinic.FIX_SHUFFLE, "labels_shuffled_apart": clinic.FIX_ONE_PERMUTATION,
       "label_noise": clinic.FIX_RELABEL, "wrong_class_order": clinic.FIX_CLASS_ORDER,
       "softmax_before_cross_entropy": clinic.FIX_NO_SOFTMAX, "softmax_dim0": clinic.FIX_SOFTMAX_DIM,
       "eval_mode_forgotten": clinic.FIX_EVAL_MODE, "batchnorm_small_batch": clinic.FIX_BIGGER_BATCH,
       "dead_relus_bad_init": clinic.FIX_HE_INIT, "exploding_init": clinic.FIX_HE_INIT,
       "lr_too_high": clinic.FIX_LOWER_LR, "lr_too_low": clinic.FIX_HIGHER_LR,
       "scheduler_per_batch": clinic.FIX_SCHEDULER_EPOCH, "weight_decay_too_strong": clinic.FIX_LESS_DECAY}


def _data_first(run):
    """Another order: the step, then the data pipeline, then the model, then the dynamics."""
    if probes.gradient_accumulates(run) > 1.5:
        return "missing_zero_grad"
    if run.classes is None:
        if min(probes.gradient_flow(run).values()) == 0:
            return "detached_pinn_derivative"
    else:
        X, y = run.split("train")
        stats = probes.feature_statistics(X)
        leaks = probes.leak_scan(run)
        if stats["scale"] > 5:
            return "unnormalized_inputs"
        if stats["max_abs_mean"] > 1e-3:
            return "leaked_normalization"
        if not torch.equal(run.split("test")[0], run.split("test")[0]):
            return "augmentation_on_test"
        if max(leaks["val"], leaks["test"]) > 0.1:
            return "train_test_duplicates"
        if leaks["train"] > 0.1:
            return "blank_samples"
        if probes.split_shift(X, run.split("test")[0]) > 0.5:
            return "train_serve_skew"
        if probes.classes_per_batch(run) < 4:
            return "unshuffled_sorted_batches"
        if probes.batch_label_agreement(run) < 0.4:
            return "labels_shuffled_apart"
        if probes.label_disagreement(run) > 0.2:
            return "label_noise"
        if _strict_permutation(probes.confusion(run, "test")):
            return "wrong_class_order"
        with torch.no_grad():
            out = run.make_model().eval()(run.batches[0][0])
        if out.min() >= 0 and torch.allclose(out.sum(1), torch.ones(len(out)), atol=1e-4):
            return "softmax_before_cross_entropy"
        if out.min() >= 0 and torch.allclose(out.sum(0), torch.ones(out.shape[1]), atol=1e-4):
            return "softmax_dim0"
        if not probes.repeatable_evaluation(run):
            return "eval_mode_forgotten"
        if probes.has_batch_norm(run.model) and len(run.batches[0][1]) <= 8:
            return "batchnorm_small_batch"
        if probes.dead_relus(run) > 0.6:
            return "dead_relus_bad_init"
        if probes.first_loss(run) > 3 * np.log(run.classes):
            return "exploding_init"
    ratios = probes.update_ratios(run)
    if np.median(ratios[:5]) > 0.2:
        return "lr_too_high"
    if max(ratios) < 1e-4:
        return "lr_too_low"
    if ratios[-1] / ratios[0] < 0.1:
        return "scheduler_per_batch"
    return "weight_decay_too_strong"


def diagnose_data_first(run):
    kind = _data_first(run)
    return {"diagnosis": kind, "fix": FIX[kind]}


RIGHT = {
    "clinic.leak_scan": [leak_scan_numpy, leak_scan_distances],
    "clinic.dead_share": [dead_share_hook, dead_share_slice],
    "clinic.diagnose": [diagnose_data_first],
}
