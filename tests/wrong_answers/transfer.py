"""Known-wrong implementations of lab 10's exercises, with the hint each must get."""

import torch

from course_utils.experiments.transfer import LAYERS, STRATEGIES


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


def _accuracy(model, X, y):
    return float((torch.as_tensor(model.predict(X)) == y).float().mean())


def _frozen_or_finetune(mistake):
    def frozen_or_finetune(vault, fit):
        seeds = (0,) if mistake == "one seed" else (0, 1, 2)
        models = {s: [fit(s, seed) for seed in seeds] for s in STRATEGIES}
        val = {s: sum(_accuracy(m, *vault.val) for m in ms) / len(ms) for s, ms in models.items()}
        best = "features + LR" if mistake == "rule of thumb" else max(val, key=val.get)
        if mistake == "on test":
            test = {s: vault.test(ms[0], candidate=s) for s, ms in models.items()}
            best = max(test, key=test.get)
        if mistake == "no report":
            return {"strategy": best}
        return {"strategy": best, "test_accuracy": vault.test(models[best][0], candidate=best)}

    return frozen_or_finetune


def _feature_layer(mistake):
    def feature_layer(vault, fit):
        models = {layer: fit(layer) for layer in LAYERS}
        val = {layer: _accuracy(m, *vault.val) for layer, m in models.items()}
        best = "layer4" if mistake == "penultimate" else max(val, key=val.get)
        if mistake == "peek":
            other = next(layer for layer in LAYERS if layer != best)
            return {"layer": best, "test_accuracy": vault.test(models[other], candidate=other)}
        return {"layer": best, "test_accuracy": vault.test(models[best], candidate=best)}

    return feature_layer


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
    "transfer.frozen_or_finetune": [
        (_frozen_or_finetune("rule of thumb"), "is a rule of thumb, not a measurement"),
        (_frozen_or_finetune("one seed"), "too few seeds"),
        (_frozen_or_finetune("on test"), "choosing on test"),
        (_frozen_or_finetune("no report"), "reported no test score"),
        (lambda vault, fit: {"strategy": "scratch"}, "expected the strategy, one of 'features + LR', 'fine-tune'"),
    ],
    "transfer.feature_layer": [
        (_feature_layer("penultimate"), "the penultimate layer is the default, not the rule"),
        (_feature_layer("peek"), "peeking"),
        (lambda vault, fit: {"layer": 4}, "expected the layer, one of 'layer2', 'layer3', 'layer4'"),
    ],
}
