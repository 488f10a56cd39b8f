"""Correct implementations of lab 10's exercises, written another way than the reference solution."""

import itertools
import math

import numpy as np
import torch
from scipy import stats
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler


# -- transfer.freeze_backbone ------------------------------------------------------------------------------

def freeze_then_unfreeze_head(model):
    model.requires_grad_(False)
    model.fc.requires_grad_(True)
    return model


def freeze_by_module(model):
    """Loops over the children; returns nothing (the model is changed in place)."""
    for name, child in model.named_children():
        for p in child.parameters():
            p.requires_grad = name == "fc"


# -- transfer.param_groups ---------------------------------------------------------------------------------

def groups_by_identity(model, backbone_lr, head_lr):
    head = list(model.fc.parameters())
    head_ids = {id(p) for p in head}
    return [{"params": [p for p in model.parameters() if id(p) not in head_ids], "lr": backbone_lr},
            {"params": head, "lr": head_lr}]


def groups_head_first_as_tuple(model, backbone_lr, head_lr):
    backbone = (p for name, p in model.named_parameters() if not name.startswith("fc"))
    return ({"lr": head_lr, "params": model.fc.parameters()}, {"lr": backbone_lr, "params": list(backbone)})


# -- transfer.extract_features -----------------------------------------------------------------------------

def features_with_hook(model, X):
    """A forward hook on avgpool catches its output during an ordinary forward pass."""
    caught = {}
    handle = model.avgpool.register_forward_hook(lambda module, inputs, output: caught.update(out=output))
    model.eval()
    with torch.inference_mode():
        model(X)
    handle.remove()
    return caught["out"].flatten(1).clone()


def features_numpy(model, X):
    model.train(False)
    with torch.no_grad():
        h = X
        for name in ("conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4", "avgpool"):
            h = getattr(model, name)(h)
    return h.reshape(len(X), -1).numpy()


# -- transfer.probe_accuracy ---------------------------------------------------------------------------------

def probe_pipeline(train_features, train_labels, test_features, test_labels):
    classifier = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    return classifier.fit(train_features, train_labels).score(test_features, test_labels)


def probe_counts(train_features, train_labels, test_features, test_labels):
    """Standardized by hand with the training statistics; accuracy from the count of hits."""
    mean, std = train_features.mean(axis=0), train_features.std(axis=0)
    classifier = LogisticRegression(max_iter=1000).fit((train_features - mean) / std, train_labels)
    hits = (classifier.predict((test_features - mean) / std) == test_labels).sum()
    return np.float32(hits / len(test_labels))


# -- transfer.choose_strategy -------------------------------------------------------------------------------

def choose_with_ttest(curves, sizes, seconds, n_per_class):
    """scipy's paired t-test (p < 0.05 is the 95 % interval excluding 0), a strategy at a time from the
    cheapest: the first that no other beats."""
    row = list(sizes).index(n_per_class)
    for name in sorted(curves, key=seconds.get):
        beaten = False
        for other in curves:
            if other == name:
                continue
            test = stats.ttest_rel(curves[other][row], curves[name][row])
            if test.pvalue < 0.05 and test.statistic > 0:
                beaten = True
        if not beaten:
            return name


def choose_by_hand(curves, sizes, seconds, n_per_class):
    """The t interval written out, a NumPy string out."""
    i = sizes.index(n_per_class)
    draws = len(next(iter(curves.values()))[i])
    t = stats.t.ppf(0.975, draws - 1)
    losers = set()
    for a, b in itertools.permutations(curves, 2):
        d = np.asarray(curves[b][i]) - np.asarray(curves[a][i])
        if d.mean() - t * d.std(ddof=1) / math.sqrt(draws) > 0:
            losers.add(a)
    return np.str_(min(set(curves) - losers, key=lambda name: seconds[name]))


RIGHT = {
    "transfer.freeze_backbone": [freeze_then_unfreeze_head, freeze_by_module],
    "transfer.param_groups": [groups_by_identity, groups_head_first_as_tuple],
    "transfer.extract_features": [features_with_hook, features_numpy],
    "transfer.probe_accuracy": [probe_pipeline, probe_counts],
    "transfer.choose_strategy": [choose_with_ttest, choose_by_hand],
}
