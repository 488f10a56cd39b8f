"""Known-wrong implementations of lab 07's exercises, with the hint each must get."""

import numpy as np
import torch
from torch import nn


def _linears(model):
    return [m for m in model.modules() if isinstance(m, nn.Linear)]


def _max_norm(how):
    def max_norm(model, c):
        with torch.no_grad():
            for layer in _linears(model):
                w = layer.weight
                if how == "columns":
                    w.mul_(torch.clamp(c / w.norm(dim=0, keepdim=True), max=1.0))
                elif how == "every row":
                    w.mul_(c / w.norm(dim=1, keepdim=True))
                elif how == "matrix":
                    w.mul_(min(1.0, c / w.norm().item()))
                elif how == "bias too":
                    w.mul_(torch.clamp(c / w.norm(dim=1, keepdim=True), max=1.0))
                    layer.bias.mul_(0.5)
        return model
    return max_norm


def _stopping(late=False, ties=False, last=False):
    def early_stopping(val_losses, patience):
        best, best_epoch, waited, stop = float("inf"), 0, 0, len(val_losses) - 1
        for epoch, loss in enumerate(val_losses):
            if loss <= best if ties else loss < best:
                best, best_epoch, waited = loss, epoch, 0
            else:
                waited += 1
                if waited >= patience + (1 if late else 0):
                    stop = epoch
                    break
        return (stop if last else best_epoch), stop
    return early_stopping


def _dropout(how):
    def dropout(x, p, training):
        if not training and how != "always":
            return x
        if how == "keep p":
            return x * (torch.rand_like(x) < p) / (1 - p)
        mask = torch.rand_like(x) >= p
        if how == "in place":
            x.mul_(mask).div_(1 - p)
            return x
        if how == "no scale":
            return x * mask
        if how == "times":
            return x * mask * (1 - p)
        return x * mask / (1 - p)  # "always": also at evaluation
    return dropout


def _shift(how):
    def shift(images, dx, dy):
        if how == "roll":
            return np.roll(images, (dy, dx), axis=(1, 2))
        if how == "swapped":
            dx, dy = dy, dx
        else:
            dx, dy = -dx, -dy
        out = np.zeros_like(images)
        h, w = images.shape[1:]
        out[:, max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = \
            images[:, max(-dy, 0):h + min(-dy, 0), max(-dx, 0):w + min(-dx, 0)]
        return out
    return shift


WRONG = {
    "reg.l1_penalty": [
        (lambda model, lam: lam * sum(p.abs().sum() for p in model.parameters()), "the biases are included"),
        (lambda model, lam: lam * sum((m.weight ** 2).sum() for m in _linears(model)), "that is the L2 penalty"),
        (lambda model, lam: sum(m.weight.abs().sum() for m in _linears(model)), "multiply the sum by the strength"),
        (lambda model, lam: lam * sum(m.weight.abs().mean() for m in _linears(model)), "a mean per layer"),
    ],
    "reg.max_norm": [
        (_max_norm("columns"), "you normalized columns"),
        (_max_norm("every row"), "only rows ABOVE c"),
        (_max_norm("matrix"), "the norm of the whole matrix"),
        (_max_norm("bias too"), "the biases changed"),
    ],
    "reg.early_stopping": [
        (_stopping(late=True), "one epoch late"),
        (_stopping(ties=True), "use a strict <"),
        (_stopping(last=True), "not the last one"),
    ],
    "reg.dropout": [
        (_dropout("no scale"), "the survivors are not rescaled"),
        (_dropout("times"), "DIVIDES by it"),
        (_dropout("keep p"), "the probability to DROP"),
        (_dropout("always"), "dropout does nothing"),
        (_dropout("in place"), "changed in place"),
    ],
    "reg.shift": [
        (_shift("roll"), "np.roll wraps"),
        (_shift("swapped"), "dx and dy are swapped"),
        (_shift("opposite"), "the wrong way"),
    ],
}
