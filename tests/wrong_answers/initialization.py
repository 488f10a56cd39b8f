"""Known-wrong implementations of lab 03's exercises, with the hint each must get."""

import math

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


def _diagnose_absolute(stds):
    if stds[-1] < 0.1:
        return "vanishing"
    if stds[-1] > 10:
        return "exploding"
    return "healthy"


def _diagnose_swapped(stds):
    ratio = stds[-1] / stds[0]
    return "exploding" if ratio < 0.1 else "vanishing" if ratio > 10 else "healthy"


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
    "init.fans": [
        (lambda shape: (shape[0] * math.prod(shape[2:]), shape[1] * math.prod(shape[2:])), "are swapped"),
        (lambda shape: (shape[1], shape[0]), "multiply both fans by the receptive field"),
        (lambda shape: (shape[0], shape[1]), "swapped, and the receptive field is missing"),
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
        (lambda model, x: _stds(model, x, _is_activation, measure=lambda h: h.mean().item()), "look like means"),
        (lambda model, x: _stds(model, x, _is_activation, include_input=True), "one value too many"),
    ],
    "init.diagnose": [
        (_diagnose_swapped, "vanishing and exploding are swapped"),
        (_diagnose_absolute, "not the absolute size"),
        (lambda stds: stds[-1] / stds[0], "return one of the labels"),
    ],
}
