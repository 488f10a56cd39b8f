"""Correct implementations of lab 06's exercises, written another way than the reference solution."""

import math

import numpy as np
import torch
from sklearn.metrics import average_precision_score, precision_recall_curve
from sklearn.model_selection import StratifiedShuffleSplit, train_test_split
from sklearn.neighbors import NearestNeighbors


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


# -- imb.threshold (a decision) ----------------------------------------------------------------------------

def threshold_midway_from_pr_curve(lab):
    """scikit-learn's curve on validation, then a threshold midway to the next lower validation score (the
    same predictions on validation)."""
    scores, y = lab.scores("val")
    _, recall, thresholds = precision_recall_curve(y, scores)
    t = thresholds[recall[:-1] >= lab.required_recall].max()
    below = scores[scores < t]
    threshold = (t + below.max()) / 2 if below.size else t
    return {"threshold": float(threshold), "test": lab.test(threshold)}


def threshold_one_sample_margin(lab):
    """Keeps one more validation positive than needed, as a safety margin; a float32 threshold."""
    scores, y = lab.scores("val")
    positives = np.sort(scores[y == 1])[::-1].astype(np.float64)
    k = math.ceil(lab.required_recall * len(positives) - 1e-9)
    threshold = positives[min(k, len(positives) - 1)]
    return {"threshold": threshold, "test": lab.test(threshold)}


# -- imb.remedy (a decision) ------------------------------------------------------------------------------

def remedy_on_every_seed(lab):
    """Every seed of every remedy (the whole budget but 3), AP written by hand, the decision a NumPy string."""
    y_val = lab.vault.val.y

    def average_precision(scores):
        order = np.argsort(-scores, kind="stable")
        hits = y_val[order] == 1
        precision_at = np.cumsum(hits) / np.arange(1, len(hits) + 1)
        # ties: scikit-learn scores a block of equal scores at once
        last_of_block = np.r_[scores[order][1:] != scores[order][:-1], True]
        recall_steps = np.diff(np.r_[0, np.cumsum(hits)[last_of_block]]) / hits.sum()
        return float((recall_steps * precision_at[last_of_block]).sum())

    seeds = lab.seeds[:4]
    mean_ap = [np.mean([average_precision(lab.run(r, s)["val_scores"]) for s in seeds]) for r in lab.candidates]
    best = np.array(lab.candidates)[int(np.argmax(mean_ap))]
    return {"remedy": best, "test_average_precision": lab.test(str(best))}


def remedy_last_seeds(lab):
    """Seeds 2, 3 and 4 instead of the first three."""
    y_val = lab.vault.val.y
    ap = {r: sum(average_precision_score(y_val, lab.run(r, s)["val_scores"]) for s in (2, 3, 4)) for r in lab.candidates}
    best = sorted(ap, key=ap.get)[-1]
    return {"remedy": best, "test_average_precision": lab.test(best)}


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
    "imb.threshold_for_recall": [threshold_from_pr_curve, threshold_by_counting, threshold_float32],
    "imb.threshold": [threshold_midway_from_pr_curve, threshold_one_sample_margin],
    "imb.remedy": [remedy_on_every_seed, remedy_last_seeds],
    "imb.stratified_split": [split_sklearn, split_train_test_split, split_half_up],
    "imb.smote": [smote_sklearn_neighbours, smote_round_robin_torch],
}
