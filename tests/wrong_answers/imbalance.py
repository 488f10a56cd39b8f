"""Known-wrong implementations of lab 06's exercises, with the hint each must get."""

import numpy as np


def _metrics(swap=False, specificity_as_recall=False, arithmetic=False, nan=False):
    def metrics(tp, fp, fn, tn):
        def ratio(a, b):
            return a / b if b else (float("nan") if nan else 0.0)

        precision, recall = ratio(tp, tp + fp), ratio(tp, tp + fn)
        if swap:
            precision, recall = recall, precision
        f1 = (precision + recall) / 2 if arithmetic else ratio(2 * precision * recall, precision + recall)
        return {"precision": precision, "recall": recall,
                "specificity": recall if specificity_as_recall else ratio(tn, tn + fp),
                "f1": f1, "accuracy": ratio(tp + tn, tp + fp + fn + tn)}
    return metrics


def _threshold(strict=False, lowest=False, recall_instead=False):
    def threshold_for_recall(scores, y, target_recall):
        positives = np.sort(scores[y == 1])[::-1]
        k = int(np.argmax(np.arange(1, len(positives) + 1) / len(positives) >= target_recall))
        t = positives[k]
        if recall_instead:
            return (k + 1) / len(positives)
        if strict:  # predicted positive when score > threshold: the next score below
            below = scores[scores < t]
            return below.max()
        if lowest:
            return scores.min()
        return t
    return threshold_for_recall


def _threshold_too_high(scores, y, target_recall):
    positives = np.sort(scores[y == 1])[::-1]
    return positives[max(int(np.floor(target_recall * len(positives))) - 2, 0)]


def _split(random=False, replace=False, train=False):
    def stratified_split(y, test_fraction, seed):
        rng = np.random.default_rng(seed)
        if random:
            return rng.permutation(len(y))[:sum(round(test_fraction * (y == c).sum()) for c in np.unique(y))]
        parts = []
        for c in np.unique(y):
            members = np.flatnonzero(y == c)
            parts.append(rng.choice(members, size=round(test_fraction * len(members)), replace=replace))
        test = np.concatenate(parts)
        return np.setdiff1d(np.arange(len(y)), test) if train else test
    return stratified_split


def _split_positions(y, test_fraction, seed):
    """Positions within each class (0, 1, 2, ... of the class's samples) instead of indices of y."""
    rng = np.random.default_rng(seed)
    return np.concatenate([rng.choice((y == c).sum(), size=round(test_fraction * (y == c).sum()), replace=False)
                           for c in np.unique(y)])


def _split_positions_sorted(y, test_fraction, seed):
    return np.sort(_split_positions(y, test_fraction, seed))


def _smote(self_neighbour=False, any_partner=False, per_feature=False, stack=False, partner_may_be_self=False,
           midpoint=False, one_gap=False, one_base=False):
    def smote(X_minority, n_new, k, seed):
        rng = np.random.default_rng(seed)
        distances = np.linalg.norm(X_minority[:, None, :] - X_minority[None, :, :], axis=2)
        if not self_neighbour:
            np.fill_diagonal(distances, np.inf)
        neighbours = np.argsort(distances, axis=1)[:, :k]
        base = np.full(n_new, rng.integers(len(X_minority))) if one_base else rng.integers(0, len(X_minority), n_new)
        if any_partner:
            partner = (base + rng.integers(1, len(X_minority), n_new)) % len(X_minority)
        elif partner_may_be_self:  # not a k-nearest neighbour, sometimes the sample itself
            partner = rng.integers(0, len(X_minority), n_new)
        else:
            partner = neighbours[base, rng.integers(0, k, n_new)]
        gap = rng.random((n_new, X_minority.shape[1] if per_feature else 1))
        if midpoint:
            gap = np.full((n_new, 1), 0.5)
        if one_gap:
            gap = np.full((n_new, 1), rng.random())
        new = X_minority[base] + gap * (X_minority[partner] - X_minority[base])
        return np.vstack([X_minority, new]) if stack else new
    return smote


def _smote_reseeded_per_point(X_minority, n_new, k, seed):
    """Re-creates the generator for every new point: the same base, partner and gap each time."""
    distances = np.linalg.norm(X_minority[:, None, :] - X_minority[None, :, :], axis=2)
    np.fill_diagonal(distances, np.inf)
    neighbours = np.argsort(distances, axis=1)[:, :k]
    out = []
    for _ in range(n_new):
        rng = np.random.default_rng(seed)
        base = rng.integers(len(X_minority))
        partner = neighbours[base, rng.integers(k)]
        out.append(X_minority[base] + rng.random() * (X_minority[partner] - X_minority[base]))
    return np.array(out)


WRONG = {
    "imb.metrics": [
        (lambda tp, fp, fn, tn: list(_metrics()(tp, fp, fn, tn).values()),
         "expected a dict with keys precision, recall, specificity, f1, accuracy"),
        (lambda true_positives, fp, fn, tn: {}, "keep the template's parameter names"),
        (_metrics(nan=True), "you returned nan"),
        (_metrics(swap=True), "precision and recall are swapped"),
        (_metrics(specificity_as_recall=True), "the recall of the NEGATIVE class"),
        (_metrics(arithmetic=True), "harmonic mean"),
    ],
    "imb.class_weights": [
        (lambda y, n_classes: np.bincount(y, minlength=n_classes) / len(y), "those are the class frequencies"),
        (lambda y, n_classes: 1 / np.bincount(y, minlength=n_classes), "1/count has the right shape"),
        (lambda y, n_classes: (1 / np.bincount(y, minlength=n_classes)) / (1 / np.bincount(y, minlength=n_classes)).sum(),
         "normalized to sum to 1"),
        (lambda y, n_classes: {c: len(y) / (n_classes * (y == c).sum()) for c in range(n_classes)},
         "got a dict with keys"),
        (lambda y, n_classes: (len(y) / (n_classes * (y == c).sum()) for c in range(n_classes)),
         "got a generator"),
    ],
    "imb.threshold_for_recall": [
        (_threshold(recall_instead=True), "you returned the recall"),
        (_threshold(strict=True), "one score too low"),
        (_threshold(lowest=True), "not the highest one"),
        (_threshold_too_high, "below the target"),
        (lambda scores, y, target_recall: np.sort(scores[y == 1])[::-1], "expected one number: the threshold"),
    ],
    "imb.stratified_split": [
        (_split(random=True), "drift from the class proportions"),
        (_split(replace=True), "drawn twice"),
        (_split(train=True), "those are the training indices"),
        (_split_positions, "positions WITHIN each class"),
        (_split_positions_sorted, "positions WITHIN each class"),
        (lambda y, test_fraction, seed: np.isin(np.arange(len(y)), _split()(y, test_fraction, seed)),
         "not a boolean mask"),
        (lambda y, test_fraction, seed: (np.setdiff1d(np.arange(len(y)), _split()(y, test_fraction, seed)),
                                         _split()(y, test_fraction, seed)), "not (train, test)"),
        (lambda y, test_fraction, seed: [np.flatnonzero(y == c)[:round(test_fraction * (y == c).sum())]
                                         for c in np.unique(y)], "concatenate them"),
    ],
    "imb.smote": [
        (_smote(stack=True), "not the originals stacked"),
        (_smote(self_neighbour=True), "copies of minority samples"),
        (_smote(any_partner=True), "k NEAREST neighbours"),
        (_smote(partner_may_be_self=True), "k NEAREST neighbours"),
        (_smote(per_feature=True), "one gap per feature"),
        (_smote(midpoint=True), "every new point sits at the same place"),
        (_smote(one_gap=True), "every new point sits at the same place"),
        (_smote(one_base=True), "one or two minority samples"),
        (_smote_reseeded_per_point, "every new point sits at the same place"),
        (lambda X_minority, n_new, k, seed: (x for x in _smote()(X_minority, n_new, k, seed)), "got a generator"),
    ],
}
