"""Known-wrong implementations of lab 04's exercises, with the hint each must get."""

import math

import numpy as np
import torch
import torch.nn.functional as F


def _ce_naive(logits, targets):
    """Without the max subtraction: exp overflows to inf on large logits."""
    log_sum_exp = torch.log(torch.exp(logits).sum(dim=1))
    return (log_sum_exp - logits[torch.arange(len(targets)), targets]).mean()


def _bce_naive(logits, targets):
    s = torch.sigmoid(logits)
    return -(targets * torch.log(s) + (1 - targets) * torch.log(1 - s)).mean()


def _diagnose(gaps_of, tolerance=0.02):
    def diagnose(human, train, train_dev, dev):
        gaps = gaps_of(human, train, train_dev, dev)
        name = max(gaps, key=gaps.get)
        return name if gaps[name] > tolerance else "good"
    return diagnose


def _epoch(*, same_order=True, zero_grad=True, softmax=False, evaluate=True):
    def train_epoch(model, optimizer, X, y, X_val, y_val, batch_size, generator):
        order = torch.randperm(len(X), generator=generator)
        label_order = order if same_order else torch.randperm(len(X), generator=generator)
        X, y = X[order], y[label_order]
        model.train()
        losses = []
        for start in range(0, len(X), batch_size):
            xb, yb = X[start:start + batch_size], y[start:start + batch_size]
            if zero_grad:
                optimizer.zero_grad()
            out = model(xb)
            loss = F.cross_entropy(torch.softmax(out, dim=0) if softmax else out, yb)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        if evaluate:
            model.eval()
        with torch.no_grad():
            accuracy = (model(X_val).argmax(dim=1) == y_val).float().mean().item()
        return losses, accuracy
    return train_epoch


WRONG = {
    "loss.initial_loss": [
        (lambda n_classes: math.log(1 / n_classes), "the sign is flipped"),
        (lambda n_classes: math.log10(n_classes), "that is log10(C)"),
        (lambda n_classes: math.log2(n_classes), "that is log2(C)"),
        (lambda n_classes: 1 / n_classes, "1/C is the probability"),
    ],
    "loss.prior_bias": [
        (lambda counts: np.asarray(counts) / np.sum(counts), "you used the prior p itself"),
        (lambda counts: -np.log(np.asarray(counts) / np.sum(counts)), "the sign is flipped"),
        (lambda counts: np.asarray(counts, dtype=float), "you used the counts as the bias"),
        (lambda counts: np.log10(np.asarray(counts) / np.sum(counts)), "log10 is not the inverse of exp"),
    ],
    "loss.cross_entropy": [
        (_ce_naive, "the loss overflowed"),
        (lambda logits, targets: F.cross_entropy(torch.softmax(logits, dim=1), targets), "the softmax is applied twice"),
        (lambda logits, targets: F.nll_loss(torch.log_softmax(logits, dim=0), targets), "over the batch axis"),
        (lambda logits, targets: F.cross_entropy(logits, targets, reduction="sum"), "that is the sum over the batch"),
        (lambda logits, targets: F.cross_entropy(logits, targets) / math.log(10), "not log10"),
    ],
    "loss.bce_with_logits": [
        (_bce_naive, "log(sigmoid(z)) is -inf"),
        (lambda logits, targets: F.binary_cross_entropy(torch.sigmoid(logits), targets), "PyTorch clamps each log"),
        (lambda logits, targets: F.binary_cross_entropy_with_logits(logits, 1 - targets), "y and 1 - y are swapped"),
        (lambda logits, targets: F.binary_cross_entropy_with_logits(logits, targets, reduction="sum"),
         "that is the sum over the batch"),
    ],
    "loss.diagnose": [
        (_diagnose(lambda h, tr, td, d: {"high bias": td - tr, "high variance": tr - h, "data mismatch": d - td}),
         "bias and variance are swapped"),
        (_diagnose(lambda h, tr, td, d: {"high bias": tr - h, "high variance": d - tr}), "the gap is between train-dev"),
        (_diagnose(lambda h, tr, td, d: {"high bias": tr, "high variance": td - tr, "data mismatch": d - td}),
         "not against 0"),
        (lambda human, train, train_dev, dev: "high bias", "every gap is within the tolerance"),
    ],
    "loss.train_epoch": [
        (_epoch(zero_grad=False), "the gradients accumulate"),
        (_epoch(same_order=False), "the labels were shuffled with their own permutation"),
        (_epoch(softmax=True), "a softmax over the batch axis"),
        (_epoch(evaluate=False), "dropout still active"),
    ],
}
