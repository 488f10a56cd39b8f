"""Known-wrong implementations of lab 06's exercises, with the hint each must get."""

import numpy as np

from course_utils.vault import CHOSE_ON_TEST, NOT_REPORTED, ONE_SEED, PEEKED


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


def _val_threshold(lab):
    scores, y = lab.scores("val")
    positives = np.sort(scores[y == 1])[::-1]
    return positives[int(np.ceil(lab.required_recall * len(positives) - 1e-9)) - 1]


def threshold_on_training_scores(lab):
    scores, y = lab.scores("train")
    positives = np.sort(scores[y == 1])[::-1]
    t = positives[int(np.ceil(lab.required_recall * len(positives) - 1e-9)) - 1]
    return {"threshold": t, "test": lab.test(t)}


def threshold_for_best_f1(lab):
    scores, y = lab.scores("val")
    candidates = np.unique(scores)
    f1 = [2 * ((scores >= t) & (y == 1)).sum() / ((scores >= t).sum() + (y == 1).sum()) for t in candidates]
    t = candidates[int(np.argmax(f1))]
    return {"threshold": t, "test": lab.test(t)}


def threshold_recall_one(lab):
    """Every positive flagged: far more margin than the recall needs."""
    scores, y = lab.scores("val")
    t = scores[y == 1].min()
    return {"threshold": t, "test": lab.test(t)}


def threshold_tuned_on_test(lab):
    """Opens the test set for the validation threshold and the next two positives below, keeps the best
    precision (all three are defensible decisions: only the protocol is wrong)."""
    scores, y = lab.scores("val")
    t = _val_threshold(lab)
    below = np.sort(scores[(y == 1) & (scores < t)])[::-1][:2]
    results = {c: lab.test(c) for c in (t, *below)}
    return {"threshold": max(results, key=lambda c: results[c]["precision"]), "test": results}


def threshold_peeked(lab):
    """Looks at the test set at the default threshold 0.5, then reports that look for another threshold."""
    return {"threshold": _val_threshold(lab), "test": lab.test(0.5)}


def threshold_not_reported(lab):
    return {"threshold": _val_threshold(lab)}


def _remedy(pick="val", seeds=3, tests="final"):
    from sklearn.metrics import average_precision_score

    def choose_remedy(lab):
        y_val = lab.vault.val.y
        ap = {r: np.mean([average_precision_score(y_val, lab.run(r, s)["val_scores"]) for s in lab.seeds[:seeds]])
              for r in lab.candidates}
        best = "oversample" if pick == "oversample" else max(ap, key=ap.get)
        if tests == "all":
            scores = {r: lab.test(r) for r in lab.candidates}
            best = max(scores, key=scores.get)
        if tests == "peek":  # reports the test score of another remedy than the one it keeps
            return {"remedy": best, "test_average_precision": lab.test(min(ap, key=ap.get))}
        return {"remedy": best, "test_average_precision": None if tests == "none" else lab.test(best)}
    return choose_remedy


WRONG = {
    "imb.threshold_for_recall": [
        (_threshold(recall_instead=True), "you returned the recall"),
        (_threshold(strict=True), "one score too low"),
        (_threshold(lowest=True), "not the highest one"),
        (_threshold_too_high, "below the target"),
        (lambda scores, y, target_recall: np.sort(scores[y == 1])[::-1], "expected one number: the threshold"),
    ],
    "imb.threshold": [
        (threshold_on_training_scores, "reaches the recall on the TRAINING scores"),
        (threshold_for_best_f1, "the recall on validation is below the required recall"),
        (threshold_recall_one, "more margin than a sample or two"),
        (threshold_tuned_on_test, CHOSE_ON_TEST),
        (threshold_peeked, PEEKED),
        (threshold_not_reported, NOT_REPORTED),
        (lambda lab: {"t": 0.5}, "expected a dict with the key 'threshold'"),
    ],
    "imb.remedy": [
        (_remedy(pick="oversample"), "random oversampling copies the rare samples"),
        (_remedy(tests="all"), CHOSE_ON_TEST),
        (_remedy(tests="peek"), PEEKED),
        (_remedy(seeds=1), ONE_SEED.format(needed=3)),
        (_remedy(tests="none"), NOT_REPORTED),
        (lambda lab: {"remedy": "smote"}, "is not one of the lab's candidates"),
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
