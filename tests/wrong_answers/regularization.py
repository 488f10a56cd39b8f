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


def _max_norm_rebinding(model, c):
    """Computes the projection but only rebinds a local name: the model is unchanged."""
    for layer in _linears(model):
        w = layer.weight.detach()
        w = w * torch.clamp(c / w.norm(dim=1, keepdim=True), max=1.0)  # noqa: F841
    return model


def _prox(how):
    def l1_prox_(model, lam, lr):
        t = lr * lam
        with torch.no_grad():
            for layer in _linears(model):
                w = layer.weight
                if how == "gradient step":
                    w.sub_(t * torch.sign(w))
                elif how == "threshold lam":
                    w.copy_(torch.sign(w) * torch.clamp(w.abs() - lam, min=0))
                elif how == "hard":
                    w.mul_(w.abs() > t)
                elif how == "bias too":
                    w.copy_(torch.sign(w) * torch.clamp(w.abs() - t, min=0))
                    b = layer.bias
                    b.copy_(torch.sign(b) * torch.clamp(b.abs() - t, min=0))
                elif how == "rebinding":
                    w = torch.sign(w) * torch.clamp(w.abs() - t, min=0)  # noqa: F841
        return model
    return l1_prox_


def _dropout_reseeded(x, p, training):
    """Seeds inside the function: every call draws the same mask."""
    if not training:
        return x
    torch.manual_seed(0)
    return x * (torch.rand_like(x) >= p) / (1 - p)


def _dropout_library(x, p, training):
    return torch.nn.functional.dropout(x, p, training)


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
        (lambda model, lam: (lam * sum(m.weight.abs().sum() for m in _linears(model))).item(),
         "it carries no gradient"),
        (lambda model, lam: [lam * m.weight.abs().sum() for m in _linears(model)],
         "expected one number as a tensor"),
    ],
    "reg.l1_prox": [
        (_prox("gradient step"), "none lands on 0"),
        (_prox("threshold lam"), "not lam alone"),
        (_prox("hard"), "shrinks every surviving weight"),
        (_prox("bias too"), "the biases changed"),
        (_prox("rebinding"), "the model you were given is unchanged"),
        (lambda model, lam, lr: [torch.nn.functional.softshrink(m.weight.detach(), lr * lam) for m in _linears(model)],
         "without `torch.nn.functional.softshrink`"),
    ],
    "reg.max_norm": [
        (_max_norm("columns"), "you normalized columns"),
        (_max_norm("every row"), "only rows ABOVE c"),
        (_max_norm("matrix"), "the norm of the whole matrix"),
        (_max_norm("bias too"), "the biases changed"),
        (_max_norm_rebinding, "the model you were given is unchanged"),
    ],
    "reg.early_stopping": [
        (_stopping(late=True), "one epoch late"),
        (_stopping(ties=True), "use a strict <"),
        (_stopping(last=True), "not the last one"),
        (lambda val_losses, patience: int(np.argmin(val_losses)), "expected a pair (best_epoch, stop_epoch)"),
    ],
    "reg.dropout": [
        (_dropout("no scale"), "the survivors are not rescaled"),
        (_dropout("times"), "DIVIDES by it"),
        (_dropout("keep p"), "the probability to DROP"),
        (_dropout("always"), "dropout does nothing"),
        (_dropout("in place"), "changed in place"),
        (_dropout_reseeded, "two calls dropped exactly the same units"),
        (_dropout_library, "without `torch.nn.functional.dropout`"),
        (lambda x, p, training: (x * (torch.rand_like(x) >= p) / (1 - p)).sum(dim=1),
         "expected a tensor of the shape of x"),
    ],
    "reg.shift": [
        (_shift("roll"), "np.roll wraps"),
        (_shift("swapped"), "dx and dy are swapped"),
        (_shift("opposite"), "the wrong way"),
        (lambda images, dx, dy: _shift("swapped")(images, dx, dy)[:, 1:],
         "expected an array of shape (n, height, width)"),
    ],
}
