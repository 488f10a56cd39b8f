"""The decision-threshold explorer of lesson 06: threshold -> confusion matrix, precision and recall,
and the operating point on the ROC and precision-recall curves.

>>> explorer = threshold_explorer()
>>> explorer.set(threshold=0.5).result["tn"] > explorer.result["tp"]  # rare positives
True
>>> low, high = explorer.set(threshold=0.05).result, explorer.set(threshold=0.9).result
>>> low["recall"] >= high["recall"] and low["precision"] <= high["precision"]
True
"""

from __future__ import annotations

import ipywidgets as widgets
import numpy as np

from .base import Explorer


def demo_scores(n: int = 4000, positive_fraction: float = 0.02, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Test-set scores of a logistic regression trained on rare positives (seeded, offline)."""
    from sklearn.linear_model import LogisticRegression

    from course_utils.data import make_imbalanced

    X, y = make_imbalanced(2 * n, positive_fraction=positive_fraction, n_features=4, separation=2.5, seed=seed)
    model = LogisticRegression().fit(X[:n], y[:n])
    return model.predict_proba(X[n:])[:, 1], y[n:]


def confusion_at(scores: np.ndarray, y: np.ndarray, threshold: float) -> dict[str, int]:
    """Counts of the binary confusion matrix when ``score >= threshold`` is predicted positive.

    >>> confusion_at(np.array([0.9, 0.4, 0.2]), np.array([1, 1, 0]), 0.3)
    {'tp': 2, 'fp': 0, 'fn': 0, 'tn': 1}
    """
    predicted, actual = scores >= threshold, y == 1
    return {"tp": int((predicted & actual).sum()), "fp": int((predicted & ~actual).sum()),
            "fn": int((~predicted & actual).sum()), "tn": int((~predicted & ~actual).sum())}


def curves(scores: np.ndarray, y: np.ndarray) -> dict[str, np.ndarray]:
    """ROC and precision-recall curves with their areas (scikit-learn's definitions)."""
    from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score, roc_curve

    fpr, tpr, _ = roc_curve(y, scores)
    precision, recall, _ = precision_recall_curve(y, scores)
    return {"fpr": fpr, "tpr": tpr, "precision": precision, "recall": recall,
            "roc_auc": float(roc_auc_score(y, scores)), "pr_auc": float(average_precision_score(y, scores))}


def threshold_explorer(scores: np.ndarray | None = None, y: np.ndarray | None = None,
                       threshold: float = 0.5) -> Explorer:
    """A threshold slider over fixed scores: what each threshold trades."""
    if scores is None or y is None:
        scores, y = demo_scores()
    scores, y = np.asarray(scores, dtype=float), np.asarray(y).astype(int)
    c = curves(scores, y)
    prevalence = y.mean()
    controls = {"threshold": widgets.FloatSlider(value=threshold, min=0.0, max=1.0, step=0.01,
                                                 description="threshold", readout_format=".2f")}

    def setup(fig):
        fig.subplots_adjust(left=0.05, right=0.98, bottom=0.16, top=0.88, wspace=0.4)
        ax_scores, ax_cm, ax_roc, ax_pr = (fig.add_subplot(1, 4, i) for i in range(1, 5))
        bins = np.linspace(0, 1, 41)
        ax_scores.hist(scores[y == 0], bins=bins, color="tab:blue", alpha=0.6, label="negatives")
        ax_scores.hist(scores[y == 1], bins=bins, color="tab:red", alpha=0.8, label="positives")
        ax_scores.set(yscale="log", xlim=(0, 1), xlabel="score", ylabel="samples", title="scores and the threshold")
        ax_scores.legend(fontsize=7)
        line = ax_scores.axvline(threshold, color="k", lw=1.5)
        image = ax_cm.imshow(np.zeros((2, 2)), cmap="Blues", vmin=0, vmax=1)
        ax_cm.set(xticks=[0, 1], yticks=[0, 1], xticklabels=["pred. 0", "pred. 1"], yticklabels=["true 0", "true 1"],
                  title="confusion matrix")
        texts = [[ax_cm.text(j, i, "", ha="center", va="center", fontsize=12) for j in range(2)] for i in range(2)]
        ax_roc.plot(c["fpr"], c["tpr"], color="tab:blue")
        ax_roc.plot([0, 1], [0, 1], color="0.7", ls=":")
        ax_roc.set(xlim=(0, 1), ylim=(0, 1.02), xlabel="false positive rate (1 - specificity)",
                   ylabel="recall (true positive rate)", title=f"ROC  (AUC {c['roc_auc']:.3f})")
        ax_pr.plot(c["recall"], c["precision"], color="tab:red")
        ax_pr.axhline(prevalence, color="0.7", ls=":")
        ax_pr.set(xlim=(0, 1), ylim=(0, 1.02), xlabel="recall", ylabel="precision",
                  title=f"precision-recall  (AP {c['pr_auc']:.3f})")
        roc_point, = ax_roc.plot([], [], "o", color="k", ms=8)
        pr_point, = ax_pr.plot([], [], "o", color="k", ms=8)
        artists = {"image": image, "roc_point": roc_point, "pr_point": pr_point, "line": line}
        artists.update({f"text{i}{j}": texts[i][j] for i in range(2) for j in range(2)})
        return artists

    def update(artists, threshold):
        counts = confusion_at(scores, y, threshold)
        artists["line"].set_xdata([threshold, threshold])
        matrix = np.array([[counts["tn"], counts["fp"]], [counts["fn"], counts["tp"]]])
        row_share = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
        artists["image"].set_data(row_share)
        for i in range(2):
            for j in range(2):
                artists[f"text{i}{j}"].set_text(str(matrix[i, j]))
                artists[f"text{i}{j}"].set_color("white" if row_share[i, j] > 0.6 else "black")
        tp, fp, fn, tn = counts["tp"], counts["fp"], counts["fn"], counts["tn"]
        recall = tp / (tp + fn) if tp + fn else 0.0
        precision = tp / (tp + fp) if tp + fp else 1.0  # no positive prediction: nothing flagged wrongly
        fpr = fp / (fp + tn) if fp + tn else 0.0
        artists["roc_point"].set_data([fpr], [recall])
        artists["pr_point"].set_data([recall], [precision])
        return {**counts, "precision": precision, "recall": recall, "specificity": 1 - fpr,
                "accuracy": (tp + tn) / len(y)}

    def readout(result, threshold):
        return (f"threshold {threshold:.2f}: precision <b>{result['precision']:.2f}</b> · recall "
                f"<b>{result['recall']:.2f}</b> · specificity {result['specificity']:.3f} · accuracy "
                f"{result['accuracy']:.3f} (always 'negative' scores {1 - prevalence:.3f})")

    return Explorer(controls, setup, update, readout=readout, figsize=(13, 3.4))
