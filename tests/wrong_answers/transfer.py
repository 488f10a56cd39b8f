"""Known-wrong implementations of lab 10's exercises, with the hint each must get."""

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler


def _freeze_with_eval(model):
    model.eval()
    return model


def _freeze_everything(model):
    for p in model.parameters():
        p.requires_grad = False
    return model


def _freeze_convolutions_only(model):
    for name, p in model.named_parameters():
        if "conv" in name or "downsample.0" in name:
            p.requires_grad = False
    return model


def _groups_swapped(model, backbone_lr, head_lr):
    backbone = [p for name, p in model.named_parameters() if not name.startswith("fc.")]
    return [{"params": backbone, "lr": head_lr}, {"params": list(model.fc.parameters()), "lr": backbone_lr}]


def _groups_twice(model, backbone_lr, head_lr):
    return [{"params": list(model.parameters()), "lr": backbone_lr},
            {"params": list(model.fc.parameters()), "lr": head_lr}]


def _groups_conv_only(model, backbone_lr, head_lr):
    convs = [p for name, p in model.named_parameters() if "conv" in name]
    return [{"params": convs, "lr": backbone_lr}, {"params": list(model.fc.parameters()), "lr": head_lr}]


def _trunk(model, X):
    h = model.maxpool(model.relu(model.bn1(model.conv1(X))))
    return model.avgpool(model.layer4(model.layer3(model.layer2(model.layer1(h)))))


def _features_train_mode(model, X):
    with torch.no_grad():
        return torch.flatten(_trunk(model, X), 1)


def _features_logits(model, X):
    model.eval()
    with torch.no_grad():
        return model(X)


def _features_not_flat(model, X):
    model.eval()
    with torch.no_grad():
        return _trunk(model, X)


def _features_with_grad(model, X):
    model.eval()
    return torch.flatten(_trunk(model, X), 1)


def _probe(train_features, train_labels, test_features, test_labels, fit_on="train", scale_on="train",
           score_on="test", percent=False):
    data = {"train": (train_features, train_labels), "test": (test_features, test_labels)}
    scaler = StandardScaler().fit(data[scale_on][0])
    classifier = LogisticRegression(max_iter=1000).fit(scaler.transform(data[fit_on][0]), data[fit_on][1])
    accuracy = float(classifier.score(scaler.transform(data[score_on][0]), data[score_on][1]))
    return 100 * accuracy if percent else accuracy


def _strategy_per_class(n_per_class, n_classes, similar):
    n = n_per_class
    if n < 1000:
        return "features"
    if n <= 5000:
        return "fine-tune"
    return "fine-tune" if similar else "scratch"


def _strategy_boundary(n_per_class, n_classes, similar):
    n = n_per_class * n_classes
    if n <= 1000:
        return "features"
    if n <= 5000:
        return "fine-tune"
    return "fine-tune" if similar else "scratch"


def _strategy_ignores_similarity(n_per_class, n_classes, similar):
    return "features" if n_per_class * n_classes < 1000 else "fine-tune"


WRONG = {
    "transfer.freeze_backbone": [
        (_freeze_with_eval, "model.eval() only switches"),
        (lambda model: model, "every parameter is still trainable"),
        (_freeze_everything, "the head is frozen too"),
        (_freeze_convolutions_only, "BatchNorm's weight and bias are parameters too"),
    ],
    "transfer.param_groups": [
        (_groups_swapped, "the two learning rates are swapped"),
        (_groups_twice, "listed in two groups"),
        (_groups_conv_only, "some parameters are in no group"),
    ],
    "transfer.extract_features": [
        (_features_train_mode, "computed in train mode"),
        (_features_logits, "those are the logits"),
        (_features_not_flat, "flatten avgpool's output"),
        (_features_with_grad, "they carry the autograd graph"),
    ],
    "transfer.probe_accuracy": [
        (lambda **kw: _probe(**kw, fit_on="test", scale_on="test"), "fitted on the test features"),
        (lambda **kw: _probe(**kw, score_on="train"), "that is the training accuracy"),
        (lambda **kw: _probe(**kw, scale_on="test"), "the scaler was fitted on the test features"),
        (lambda **kw: _probe(**kw, percent=True), "not a percentage"),
    ],
    "transfer.choose_strategy": [
        (_strategy_per_class, "total number of samples"),
        (_strategy_boundary, "n = 1000 is not below 1000"),
        (_strategy_ignores_similarity, "train from scratch"),
    ],
}
