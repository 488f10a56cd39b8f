"""Known-wrong implementations of the warm-up lab's exercises, with the hint each must get."""

from collections import Counter

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
}
