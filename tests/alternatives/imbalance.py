"""Correct implementations of lab 06's exercises, written another way than the reference solution."""

import math
from collections import Counter

import numpy as np
import torch
from sklearn.metrics import accuracy_score, f1_score, precision_recall_curve, precision_score, recall_score
from sklearn.model_selection import StratifiedShuffleSplit, train_test_split
from sklearn.neighbors import NearestNeighbors
from sklearn.utils.class_weight import compute_class_weight


# -- imb.metrics -------------------------------------------------------------------------------------------

def metrics_with_sklearn(tp, fp, fn, tn):
    y_true = np.array([1] * tp + [0] * fp + [1] * fn + [0] * tn)
    y_pred = np.array([1] * tp + [1] * fp + [0] * fn + [0] * tn)
    both = {"labels": [0, 1], "zero_division": 0}
    return {"precision": precision_score(y_true, y_pred, **both), "recall": recall_score(y_true, y_pred, **both),
            "specificity": recall_score(y_true, y_pred, pos_label=0, **both),
            "f1": f1_score(y_true, y_pred, **both), "accuracy": accuracy_score(y_true, y_pred)}


def metrics_float32_tensors(tp, fp, fn, tn):
    """0-d float32 tensors, as a torch user computes them."""
    t = {name: torch.tensor(float(v)) for name, v in {"tp": tp, "fp": fp, "fn": fn, "tn": tn}.items()}

    def safe(a, b):
        return a / b if b > 0 else torch.tensor(0.0)

    precision, recall = safe(t["tp"], t["tp"] + t["fp"]), safe(t["tp"], t["tp"] + t["fn"])
    return {"precision": precision, "recall": recall, "specificity": safe(t["tn"], t["tn"] + t["fp"]),
            "f1": safe(2 * t["tp"], 2 * t["tp"] + t["fp"] + t["fn"]),  # the same F1, from counts
            "accuracy": (t["tp"] + t["tn"]) / sum(t.values())}


def metrics_numpy_float32(tp, fp, fn, tn):
    c = np.array([tp, fp, fn, tn], dtype=np.float32)
    with np.errstate(invalid="ignore", divide="ignore"):
        values = {"precision": c[0] / (c[0] + c[1]), "recall": c[0] / (c[0] + c[2]),
                  "specificity": c[3] / (c[3] + c[1]), "f1": 2 * c[0] / (2 * c[0] + c[1] + c[2]),
                  "accuracy": (c[0] + c[3]) / c.sum()}
    return {name: np.nan_to_num(value, nan=0.0) for name, value in values.items()}


# -- imb.class_weights ------------------------------------------------------------------------------------

def class_weights_float32_tensor(y, n_classes):
    """Exactly what nn.CrossEntropyLoss(weight=...) takes: a float32 tensor."""
    counts = torch.bincount(torch.as_tensor(y), minlength=n_classes).float()
    return len(y) / (n_classes * counts)


def class_weights_sklearn(y, n_classes):
    return compute_class_weight("balanced", classes=np.arange(n_classes), y=y)


def class_weights_counter(y, n_classes):
    counts = Counter(int(v) for v in y)
    return [len(y) / (n_classes * counts[c]) for c in range(n_classes)]


# -- imb.threshold_for_recall -----------------------------------------------------------------------------

def threshold_from_pr_curve(scores, y, target_recall):
    _, recall, thresholds = precision_recall_curve(y, scores)
    return float(thresholds[recall[:-1] >= target_recall].max())


def threshold_by_counting(scores, y, target_recall):
    positives = sorted(scores[y == 1], reverse=True)
    needed = math.ceil(target_recall * len(positives) - 1e-9)  # the float product can land just above
    return positives[max(needed, 1) - 1]


def threshold_float32(scores, y, target_recall):
    """float32 scores in, a float32 threshold out."""
    s = torch.as_tensor(scores, dtype=torch.float32)
    positives = torch.sort(s[torch.as_tensor(y) == 1], descending=True).values
    recall = torch.arange(1, len(positives) + 1, dtype=torch.float64) / len(positives)
    return positives[int(torch.nonzero(recall >= target_recall)[0])]


# -- imb.stratified_split ---------------------------------------------------------------------------------

def split_sklearn(y, test_fraction, seed):
    splitter = StratifiedShuffleSplit(n_splits=1, test_size=test_fraction, random_state=seed)
    _, test = next(splitter.split(np.zeros(len(y)), y))
    return test


def split_train_test_split(y, test_fraction, seed):
    _, test = train_test_split(np.arange(len(y)), test_size=test_fraction, stratify=y, random_state=seed)
    return test.tolist()


def split_half_up(y, test_fraction, seed):
    """Rounds halves up (floor(x + 0.5)), a permutation per class, a tensor out."""
    rng = np.random.default_rng(seed)
    test = []
    for c in sorted(set(y.tolist())):
        members = np.flatnonzero(y == c)
        test.extend(rng.permutation(members)[:math.floor(test_fraction * len(members) + 0.5)])
    return torch.tensor(test)


# -- imb.smote --------------------------------------------------------------------------------------------

def smote_sklearn_neighbours(X_minority, n_new, k, seed):
    rng = np.random.default_rng(seed + 1)
    neighbours = NearestNeighbors(n_neighbors=k + 1).fit(X_minority).kneighbors(X_minority, return_distance=False)
    base = rng.choice(len(X_minority), n_new)
    partner = neighbours[base, 1 + rng.integers(k, size=n_new)]  # column 0 is the sample itself
    gap = rng.uniform(size=(n_new, 1))
    return X_minority[base] + gap * (X_minority[partner] - X_minority[base])


def smote_round_robin_torch(X_minority, n_new, k, seed):
    """Every minority sample in turn as the base, torch all the way."""
    generator = torch.Generator().manual_seed(seed)
    X = torch.as_tensor(X_minority)
    distances = torch.cdist(X, X)
    distances.fill_diagonal_(float("inf"))
    neighbours = distances.topk(k, largest=False).indices
    out = []
    for i in range(n_new):
        base = i % len(X)
        partner = neighbours[base, torch.randint(k, (1,), generator=generator)].item()
        gap = torch.rand(1, generator=generator, dtype=X.dtype)
        out.append(X[base] + gap * (X[partner] - X[base]))
    return torch.stack(out)


RIGHT = {
    "imb.metrics": [metrics_with_sklearn, metrics_float32_tensors, metrics_numpy_float32],
    "imb.class_weights": [class_weights_float32_tensor, class_weights_sklearn, class_weights_counter],
    "imb.threshold_for_recall": [threshold_from_pr_curve, threshold_by_counting, threshold_float32],
    "imb.stratified_split": [split_sklearn, split_train_test_split, split_half_up],
    "imb.smote": [smote_sklearn_neighbours, smote_round_robin_torch],
}
