"""Correct implementations of lab 02's exercises, written another way than the reference solution."""

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score
from sklearn.preprocessing import StandardScaler


def standardize_sklearn(X_train, X_test):
    """scikit-learn's StandardScaler, fitted on the training set (a list, not a tuple)."""
    scaler = StandardScaler().fit(X_train)
    return [scaler.transform(X_train), scaler.transform(X_test)]


def standardize_torch(X_train, X_test):
    """In tensors, the std from the mean of squares."""
    train, test = torch.as_tensor(X_train), torch.as_tensor(X_test)
    mean = train.mean(dim=0)
    std = ((train - mean) ** 2).mean(dim=0).sqrt()
    std[std == 0] = 1.0
    return (train - mean) / std, (test - mean) / std


def whitening_zca(X):
    """ZCA whitening, E Λ^(-1/2) Eᵀ (a rotation of PCA whitening)."""
    values, vectors = np.linalg.eigh(np.cov(X, rowvar=False))
    return vectors @ np.diag(values ** -0.5) @ vectors.T


def whitening_svd(X):
    """From the SVD of the centred data, dividing by n (population covariance)."""
    centred = X - X.mean(axis=0)
    _, singular, vt = np.linalg.svd(centred, full_matrices=False)
    return vt.T * (np.sqrt(len(X)) / singular)


def choose_scaling_refit(vault, fit):
    """Scores by accuracy_score in another order; the winner trained again for the test (4 of 6 trainings)."""
    X_val, y_val = vault.val
    scores = [(accuracy_score(y_val, fit(name).predict(X_val)), name) for name in ("standard", "minmax", "none")]
    best = max(scores)[1]
    return {"scaling": np.str_(best), "test": vault.test(fit(best), candidate=best)}


class PolarLogistic:
    """A hand-made model on raw points: polar features in degrees, standardized with the training
    statistics, scikit-learn's logistic regression; its own predict for raw points."""

    def __init__(self, polar):
        self.polar = polar

    def features(self, X):
        X = np.asarray(X, dtype=np.float64)
        if not self.polar:
            return X
        return np.column_stack([np.sqrt(X[:, 0] ** 2 + X[:, 1] ** 2), np.degrees(np.arctan2(X[:, 1], X[:, 0]))])

    def fit(self, X, y):
        F = self.features(X)
        self.mean, self.std = F.mean(axis=0), F.std(axis=0)
        self.model = LogisticRegression(C=10.0).fit((F - self.mean) / self.std, y)
        return self

    def predict(self, X):
        return self.model.predict((self.features(X) - self.mean) / self.std)


def choose_representation_by_hand(vault):
    X_val, y_val = vault.val
    models = {polar: PolarLogistic(polar).fit(*vault.train) for polar in (False, True)}
    accuracy = {polar: np.mean(model.predict(X_val) == y_val) for polar, model in models.items()}
    polar = accuracy[True] > accuracy[False]
    name = "polar" if polar else "cartesian"
    return {"representation": name, "test": vault.test(models[polar], candidate=name)}


RIGHT = {
    "norm.standardize": [standardize_sklearn, standardize_torch],
    "norm.whitening": [whitening_zca, whitening_svd],
    "norm.choose_scaling": [choose_scaling_refit],
    "norm.representation": [choose_representation_by_hand],
}
