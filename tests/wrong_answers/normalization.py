"""Known-wrong implementations of lab 02's exercises, with the hint each must get."""

import numpy as np


def _standardize(stats_from="train", ddof=0, variance=False, guard=True):
    def standardize(X_train, X_test):
        def scale(data, reference):
            sd = reference.std(axis=0, ddof=ddof)
            sd = sd ** 2 if variance else sd
            if guard:
                sd = np.where(sd == 0, 1.0, sd)
            return (data - reference.mean(axis=0)) / sd

        if stats_from == "all":
            both = np.vstack([X_train, X_test])
            return scale(X_train, both), scale(X_test, both)
        if stats_from == "own":
            return scale(X_train, X_train), scale(X_test, X_test)
        with np.errstate(divide="ignore", invalid="ignore"):
            return scale(X_train, X_train), scale(X_test, X_train)
    return standardize


def _whitening(how):
    def whitening(X):
        values, vectors = np.linalg.eigh(np.cov(X, rowvar=False))
        return {"rotation": vectors, "eigenvalues": vectors / values,
                "transposed": (vectors / np.sqrt(values)).T, "right": vectors / np.sqrt(values)}[how]
    return whitening


def _polar(how):
    def polar(X):
        x, y = X[:, 0], X[:, 1]
        r, theta = np.hypot(x, y), np.arctan2(y, x)
        if how == "atan":
            theta = np.arctan(y / x)
        elif how == "degrees":
            theta = np.degrees(theta)
        elif how == "squared":
            r = x ** 2 + y ** 2
        elif how == "swapped":
            return np.column_stack([theta, r])
        return np.column_stack([r, theta])
    return polar


def _one_hot(how):
    def one_hot(values):
        order = list(dict.fromkeys(values)) if how == "appearance" else sorted(set(values))
        codes = np.array([order.index(v) for v in values])
        return codes if how == "ordinal" else np.eye(len(order))[codes]
    return one_hot


WRONG = {
    "norm.standardize": [
        (_standardize(stats_from="all"), "the training AND test data"),
        (_standardize(stats_from="own"), "its OWN statistics"),
        (_standardize(ddof=1), "the sample std (ddof=1)"),
        (_standardize(variance=True), "divided by the variance"),
        (_standardize(guard=False), "a constant feature has std 0"),
        (lambda X_train, X_test: np.vstack(_standardize()(X_train, X_test)),
         "expected a pair (train_scaled, test_scaled)"),
    ],
    "norm.whitening": [
        (_whitening("rotation"), "did not rescale them"),
        (_whitening("eigenvalues"), "SQUARE ROOT of the eigenvalues"),
        (_whitening("transposed"), "the matrix is transposed"),
        (lambda X: (X - X.mean(axis=0)) @ _whitening("right")(X), "expected W, a d × d array of shape"),
    ],
    "norm.polar": [
        (_polar("atan"), "np.arctan2"),
        (_polar("degrees"), "radians"),
        (_polar("swapped"), "the columns are swapped"),
        (_polar("squared"), "the squared radius"),
        (lambda X: (np.hypot(X[:, 0], X[:, 1]), np.arctan2(X[:, 1], X[:, 0])), "expected an (n, 2) array"),
    ],
    "norm.one_hot": [
        (_one_hot("ordinal"), "ordinal codes"),
        (_one_hot("appearance"), "order of first appearance"),
        (lambda values: (row for row in _one_hot("right")(values)), "a generator"),
    ],
    "norm.relative_contrast": [
        (lambda X, query: (lambda d: (d.max() - d.min()) / d.min())(((X - query) ** 2).sum(axis=1)),
         "squared distances"),
        (lambda X, query: (lambda d: d.max() / d.min())(np.linalg.norm(X - query, axis=1)), "d_max / d_min"),
        (lambda X, query: np.linalg.norm(X - query, axis=1), "expected one number: (d_max - d_min) / d_min"),
        (lambda points, query: 1.0, "keep the template's parameter names"),
    ],
}
