"""Known-wrong implementations of lab 02's exercises, with the hint each must get."""

import numpy as np

from course_utils.vault import CHOSE_ON_TEST, NOT_REPORTED, PEEKED


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


SCALINGS = ("none", "minmax", "standard")


def _scaling_always(name):
    def choose_scaling(vault, fit):
        return {"scaling": name, "test": vault.test(fit(name), candidate=name)}
    return choose_scaling


def _scaling_on_test(vault, fit):
    scores = {name: vault.test(fit(name), candidate=name) for name in SCALINGS}
    best = max(scores, key=scores.get)
    return {"scaling": best, "test": scores[best]}


def _scaling_peek(vault, fit):
    """Chooses on validation but reports the test score of 'standard' whatever the choice."""
    models = {name: fit(name) for name in SCALINGS}
    X_val, y_val = vault.val
    best = max(models, key=lambda name: np.mean(models[name].predict(X_val) == y_val))
    other = "standard" if best != "standard" else "none"
    return {"scaling": best, "test": vault.test(models[other], candidate=other)}


def _representation(choose):
    """A pipeline per representation; ``choose(scores_on_validation, vault, models)`` -> the answer."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer, StandardScaler

    def polar(X):
        return np.column_stack([np.hypot(X[:, 0], X[:, 1]), np.arctan2(X[:, 1], X[:, 0])])

    def choose_representation(vault):
        models = {"cartesian": make_pipeline(StandardScaler(), LogisticRegression()),
                  "polar": make_pipeline(FunctionTransformer(polar), StandardScaler(), LogisticRegression())}
        for model in models.values():
            model.fit(*vault.train)
        return choose(vault, models)
    return choose_representation


def _always(name):
    return lambda vault, models: {"representation": name, "test": vault.test(models[name], candidate=name)}


def _on_test(vault, models):
    scores = {name: vault.test(model, candidate=name) for name, model in models.items()}
    best = max(scores, key=scores.get)
    return {"representation": best, "test": scores[best]}


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
    "norm.choose_scaling": [
        (_scaling_always("standard"), "scaling is not always right"),
        (_scaling_always("none"), "without scaling, the features with the largest scales"),
        (_scaling_on_test, CHOSE_ON_TEST),
        (_scaling_peek, PEEKED),
        (lambda vault, fit: {"scaling": "robust"}, "expected the scaling, one of 'none', 'minmax', 'standard'"),
    ],
    "norm.representation": [
        (_representation(_always("cartesian")), "no line in (x, y) separates rings"),
        (_representation(_always("polar")), "polar coordinates are not always better"),
        (_representation(_on_test), CHOSE_ON_TEST),
        (_representation(lambda vault, models: {"representation": max(models, key=lambda name: models[name].score(
            *vault.val))}), NOT_REPORTED),
    ],
}
