"""Known-wrong implementations of lab 10's exercises, with the hint each must get."""

import torch
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from course_utils.stats import mean_interval, paired


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


def _row(sizes, n_per_class):
    return list(sizes).index(n_per_class)


def _strategy_highest_mean(curves, sizes, seconds, n_per_class):
    return max(curves, key=lambda name: curves[name][_row(sizes, n_per_class)].mean())


def _strategy_cheapest(curves, sizes, seconds, n_per_class):
    return min(curves, key=seconds.get)


def _strategy_unpaired(curves, sizes, seconds, n_per_class):
    """Two separate intervals (mean_interval of each strategy) must not overlap."""
    row = _row(sizes, n_per_class)
    intervals = {name: mean_interval(curves[name][row]) for name in curves}
    beaten = {a for a in curves for b in curves if intervals[b].low > intervals[a].high}
    return min((name for name in curves if name not in beaten), key=seconds.get)


def _strategy_largest_size(curves, sizes, seconds, n_per_class):
    row = len(sizes) - 1
    beaten = {a for a in curves for b in curves
              if a != b and paired(curves[a][row], curves[b][row]).sign > 0}
    return min((name for name in curves if name not in beaten), key=seconds.get)


def _strategy_rule_of_thumb(curves, sizes, seconds, n_per_class):
    return "features + LR" if 5 * n_per_class < 1000 else "fine-tune"


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
        (lambda model, backbone_lr, head_lr: [
            {"params": [p for n, p in model.named_parameters() if not n.startswith("fc.")]},
            {"params": list(model.fc.parameters()), "lr": head_lr}],
         'every group needs its own "lr"'),
        (lambda model, backbone_lr, head_lr: {"params": list(model.parameters()), "lr": backbone_lr},
         "expected a list of two dicts"),
    ],
    "transfer.extract_features": [
        (_features_train_mode, "computed in train mode"),
        (_features_logits, "those are the logits"),
        (_features_not_flat, "flatten avgpool's output"),
        (_features_with_grad, "they carry the autograd graph"),
        (lambda model, X: (f for f in _features_train_mode(model, X)), "got a generator"),
    ],
    "transfer.probe_accuracy": [
        (lambda **kw: _probe(**kw, fit_on="test", scale_on="test"), "fitted on the test features"),
        (lambda **kw: _probe(**kw, score_on="train"), "that is the training accuracy"),
        (lambda **kw: _probe(**kw, scale_on="test"), "the scaler was fitted on the test features"),
        (lambda **kw: _probe(**kw, percent=True), "not a percentage"),
        (lambda **kw: (_probe(**kw), "logistic regression"), "expected one number: the test accuracy"),
    ],
    "transfer.choose_strategy": [
        (_strategy_highest_mean, "within the noise of the draws"),
        (_strategy_unpaired, "compare draw by draw"),
        (_strategy_cheapest, "the cheapest strategy is the answer only when no other beats it"),
        (_strategy_largest_size, "decide at n_per_class"),
        (_strategy_rule_of_thumb, "is a rule of thumb, not a measurement"),
        (lambda curves, sizes, seconds, n_per_class: list(curves).index(_strategy_cheapest(curves, sizes, seconds,
                                                                                            n_per_class)),
         "expected the name of one strategy"),
    ],
}
