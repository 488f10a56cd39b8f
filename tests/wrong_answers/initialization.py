"""Known-wrong implementations of lab 03's exercises, with the hint each must get."""

import math

import numpy as np
import torch
from torch import nn


def _init_linear(model, std_of, zero_bias=True):
    with torch.no_grad():
        for layer in model.modules():
            if isinstance(layer, nn.Linear):
                fan_out, fan_in = layer.weight.shape
                layer.weight.normal_(0.0, std_of(fan_in, fan_out))
                if zero_bias:
                    layer.bias.zero_()
    return model


def _stds(model, x, keep, measure=lambda h: h.std().item(), include_input=False):
    values = [measure(x)] if include_input else []
    h = x
    with torch.no_grad():
        for index, layer in enumerate(model):
            h = layer(h)
            if keep(index, layer, len(model)):
                values.append(measure(h))
    return values


def _is_activation(index, layer, n):
    return not isinstance(layer, nn.Linear)


def _diagnose(*, saturation=True, gradients=True, swapped=False):
    def diagnose(stds, saturation_shares, grad_norms):
        if saturation and np.mean(saturation_shares) > 0.5:
            return "saturated"
        signal = stds[-1] / stds[0]
        gradient = grad_norms[0] / grad_norms[-1] if gradients else 1.0
        big, small = ("vanishing", "exploding") if swapped else ("exploding", "vanishing")
        if signal > 10 or gradient > 10:
            return big
        if signal < 0.1 or gradient < 0.1:
            return small
        return "healthy"
    return lambda stds, saturation, grad_norms: diagnose(stds, saturation, grad_norms)


def _diagnose_stds_only(stds, saturation, grad_norms):
    """The first edition's rule: the std ratio alone."""
    ratio = stds[-1] / stds[0]
    return "vanishing" if ratio < 0.1 else "exploding" if ratio > 10 else "healthy"


def _choose_scheme(decide=max, seeds=(0, 1, 2), test="chosen", report=True):
    """The lab's protocol with one thing changed: how the scheme is picked from the mean validation
    accuracies (``decide``), the seeds, which model the test set is opened for, or no report."""
    def choose_scheme(vault, fit):
        X, y = vault.val
        models, mean = {}, {}
        for scheme in fit.schemes:
            models[scheme] = [fit(scheme, seed) for seed in seeds]
            mean[scheme] = np.mean([(m.predict(X) == y).mean() for m in models[scheme]])
        if test == "every":  # compares the schemes on the test set
            scores = {s: vault.test(models[s][0], candidate=s) for s in fit.schemes}
            best = max(scores, key=scores.get)
            return {"scheme": best, "test": scores[best]}
        best = decide(mean, key=mean.get) if decide in (max, min) else decide
        if not report:
            return {"scheme": best}
        shown = best if test == "chosen" else "N(0, 0.01)" if best != "N(0, 0.01)" else "he"
        return {"scheme": best, "test": vault.test(models[shown][0], candidate=shown)}
    return choose_scheme


WRONG = {
    "init.xavier_std": [
        (lambda fan_in, fan_out: 2 / (fan_in + fan_out), "you returned the variance"),
        (lambda fan_in, fan_out: math.sqrt(2 / fan_in), "that is He's std"),
        (lambda fan_in, fan_out: math.sqrt(1 / fan_in), "forward-only variant"),
        (lambda fan_in, fan_out: math.sqrt(6 / (fan_in + fan_out)), "Xavier's *uniform*"),
        (lambda fan_in, fan_out: math.sqrt(1 / (fan_in + fan_out)), "the factor 2 is missing"),
    ],
    "init.he_std": [
        (lambda fan_in: math.sqrt(1 / fan_in), "sqrt(2) too small"),
        (lambda fan_in: 2 / fan_in, "you returned the variance"),
        (lambda fan_in: math.sqrt(6 / fan_in), "He's *uniform* version"),
        (lambda fan_in: 2 / math.sqrt(fan_in), "must cover the 2 as well"),
    ],
    "init.init_mlp": [
        (lambda model, scheme: _init_linear(model, (lambda i, o: math.sqrt(2 / (i + o))) if scheme == "he"
                                            else (lambda i, o: math.sqrt(2 / i))), "the other scheme"),
        (lambda model, scheme: _init_linear(model, (lambda i, o: math.sqrt(2 / o)) if scheme == "he"
                                            else (lambda i, o: math.sqrt(2 / (i + o)))), "sqrt(2/fan_out)"),
        (lambda model, scheme: model, "PyTorch's default initialization"),
        (lambda model, scheme: _init_linear(model, (lambda i, o: math.sqrt(2 / i)) if scheme == "he"
                                            else (lambda i, o: math.sqrt(2 / (i + o))), zero_bias=False),
         "biases still hold their default values"),
    ],
    "init.activation_stds": [
        (lambda model, x: _stds(model, x, lambda i, layer, n: isinstance(layer, nn.Linear)), "one value too many"),
        (lambda model, x: _stds(model, x, lambda i, layer, n: True), "you recorded every layer"),
        (lambda model, x: _stds(model, x, lambda i, layer, n: isinstance(layer, nn.Linear) and i < n - 1),
         "pre-activations"),
        (lambda model, x: _stds(model, x, _is_activation, measure=lambda h: h.var().item()), "variances"),
        (lambda model, x: _stds(model, x, _is_activation, measure=lambda h: h.mean().item()), "these are means"),
        (lambda model, x: _stds(model, x, _is_activation, include_input=True), "one value too many"),
        (lambda model, x: (v for v in _stds(model, x, _is_activation)), "a generator"),
        (lambda model, x: sum(_stds(model, x, _is_activation)), "expected a list of numbers: the std of each"),
    ],
    "init.diagnose": [
        (_diagnose(saturation=False), "more than half of the units are saturated"),
        (_diagnose(gradients=False), "the activations keep their scale but the gradients do not"),
        (_diagnose(swapped=True), "vanishing and exploding are swapped"),
        (lambda stds, saturation, grad_norms: stds[-1] / stds[0], "expected one of the labels 'vanishing'"),
        (lambda stds, saturation, grad_norms: "dead", "'dead' is not one of 'vanishing', 'exploding', 'saturated'"),
        (lambda stds: "healthy", "keep the template's parameter names"),
    ],
    "init.choose_gain": [
        (lambda measure: {"gain": 1.414}, "He's gain for a plain ReLU"),
        (lambda measure: 1.0, "a gain of 1 keeps the scale only for a linear layer"),
        (lambda measure: max(measure.gains), "the std grows from the first layer to the last"),
        (lambda measure: min(measure.gains), "the std shrinks from the first layer to the last"),
        (lambda measure: {"gain": 1.3}, "1.3 is not one of measure.gains"),
        (lambda measure: [measure(g, seed) for g in measure.gains for seed in range(4)], "the budget is 40"),
    ],
    "init.choose_scheme": [
        (_choose_scheme(decide="N(0, 1)"), "N(0, 1) ignores the fans"),
        (_choose_scheme(decide="N(0, 0.01)"), "N(0, 0.01) makes the signal vanish"),
        (_choose_scheme(test="every"), "opened the test set for several candidates (choosing on test)"),
        (_choose_scheme(test="other"), "(peeking)"),
        (_choose_scheme(seeds=(0,)), "train each candidate with 3 seeds"),
        (_choose_scheme(report=False), "reported no test score"),
        (lambda vault, fit: {"scheme": "lecun"}, "the scheme is one of"),
    ],
}
