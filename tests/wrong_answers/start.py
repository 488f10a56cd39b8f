"""Known-wrong implementations of the warm-up lab's exercises, with the hint each must get."""

from collections import Counter

import numpy as np

from course_utils.vault import CHOSE_ON_TEST, NOT_REPORTED, ONE_SEED, PEEKED

MODELS = ("majority", "linear", "neighbours")


def _val_accuracy(model, vault):
    X, y = vault.val
    return np.mean(model.predict(X) == y)


def choose_on_training(vault, fit):
    models = {name: fit(name) for name in MODELS}
    X, y = vault.train
    best = max(models, key=lambda name: np.mean(models[name].predict(X) == y))
    return {"model": best, "test": vault.test(models[best], candidate=best)}


def choose_on_test(vault, fit):
    scores = {name: vault.test(fit(name), candidate=name) for name in MODELS}
    best = max(scores, key=scores.get)
    return {"model": best, "test": scores[best]}


def peek_then_choose(vault, fit):
    """Looks at the baseline's test score, then chooses on validation and reports the baseline's score."""
    models = {name: fit(name) for name in MODELS}
    peeked = vault.test(models["majority"], candidate="majority")
    best = max(models, key=lambda name: _val_accuracy(models[name], vault))
    return {"model": best, "test": peeked}


def no_report(vault, fit):
    models = {name: fit(name) for name in MODELS}
    return {"model": max(models, key=lambda name: _val_accuracy(models[name], vault))}


def keep_the_baseline(vault, fit):
    return {"model": "majority", "test": vault.test(fit("majority"), candidate="majority")}


def widths_one_seed(vault, fit):
    networks = {width: fit(width, 0) for width in (6, 48)}
    best = max(networks, key=lambda width: _val_accuracy(networks[width], vault))
    return {"width": best, "test": vault.test(networks[best], candidate=best)}


def widths_on_training(vault, fit):
    networks = {width: [fit(width, seed) for seed in range(3)] for width in (6, 48)}
    X, y = vault.train
    best = max(networks, key=lambda width: np.mean([np.mean(n.predict(X) == y) for n in networks[width]]))
    return {"width": best, "test": vault.test(networks[best][0], candidate=best)}


def widths_on_test(vault, fit):
    networks = {width: [fit(width, seed) for seed in range(3)] for width in (6, 48)}
    scores = {width: np.mean([vault.test(n, candidate=width) for n in nets]) for width, nets in networks.items()}
    best = max(scores, key=scores.get)
    return {"width": best, "test": scores[best]}


WRONG = {
    "start.accuracy": [
        (lambda y_true, y_pred: 100 * sum(t == p for t, p in zip(y_true, y_pred)) / len(y_true), "percentage"),
        (lambda y_true, y_pred: sum(t != p for t, p in zip(y_true, y_pred)) / len(y_true), "error rate"),
        (lambda y_true, y_pred: sum(t == p for t, p in zip(y_true, y_pred)), "number of correct predictions"),
        (lambda y_true, y_pred: [t == p for t, p in zip(y_true, y_pred)],
         "expected one number: the fraction of correct predictions"),
        (lambda y_true, y_pred: (t == p for t, p in zip(y_true, y_pred)), "a generator"),
        (lambda labels, predictions: 0.5, "keep the template's parameter names"),
    ],
    "start.majority_baseline": [
        (lambda y_train, y_test: Counter(y_test).most_common(1)[0][1] / len(y_test), "majority class of the *test*"),
        (lambda y_train, y_test: Counter(y_train).most_common(1)[0][1] / len(y_train),
         "how frequent the majority class is in the training set"),
        (lambda y_train, y_test: Counter(y_train).most_common(1)[0][0], "you returned the majority class itself"),
        (lambda y_train, y_test: {"accuracy": 0.5}, "expected one number: the accuracy on y_test"),
    ],
    "start.choose_model": [
        (choose_on_training, "the best *training* accuracy"),
        (choose_on_test, CHOSE_ON_TEST),
        (peek_then_choose, PEEKED),
        (no_report, NOT_REPORTED),
        (keep_the_baseline, "the baseline is the bar to beat"),
        (lambda vault, fit: {"best": "linear"}, "expected a dict with the key 'model'"),
        (lambda vault, fit: {"model": "knn"}, "expected the model, one of 'majority', 'linear', 'neighbours'"),
    ],
    "start.compare_seeds": [
        (widths_one_seed, ONE_SEED.format(needed=3)),
        (widths_on_training, "compare the mean *validation* accuracy"),
        (widths_on_test, CHOSE_ON_TEST),
    ],
}
