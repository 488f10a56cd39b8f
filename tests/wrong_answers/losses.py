"""Known-wrong implementations of lab 04's exercises, with the hint each must get.

The from-scratch exercises forbid the library losses, so their mistakes are written by hand too.
"""

import math

import numpy as np
import torch
import torch.nn.functional as F


def _log_sum_exp(z, dim=1):
    m = z.max(dim=dim, keepdim=True).values
    return (m + torch.log(torch.exp(z - m).sum(dim=dim, keepdim=True))).squeeze(dim)


def _picked(logits, targets):
    return logits[torch.arange(len(targets)), targets]


def _ce_naive(logits, targets):
    """Without the max subtraction: exp overflows to inf on large logits."""
    log_sum_exp = torch.log(torch.exp(logits).sum(dim=1))
    return (log_sum_exp - logits[torch.arange(len(targets)), targets]).mean()


def _ce_softmax_twice(logits, targets):
    p = torch.softmax(logits, dim=1)
    return (_log_sum_exp(p) - _picked(p, targets)).mean()


def _ce_batch_axis(logits, targets):
    log_probs = logits - _log_sum_exp(logits, dim=0)[None, :]  # normalized over the samples, not the classes
    return -_picked(log_probs, targets).mean()


def _ce_sum(logits, targets):
    return (_log_sum_exp(logits) - _picked(logits, targets)).sum()


def _ce_log10(logits, targets):
    return (_log_sum_exp(logits) - _picked(logits, targets)).mean() / math.log(10)


def _ce_columns(logits, targets):
    return (_log_sum_exp(logits) - logits[:, targets]).mean()


def _ce_per_sample(logits, targets):
    return _log_sum_exp(logits) - _picked(logits, targets)


def _ce_library(logits, targets):
    return F.cross_entropy(logits, targets)


def _ce_nll(logits, targets):
    return F.nll_loss(F.log_softmax(logits, dim=1), targets)


def _bce_naive(logits, targets):
    s = torch.sigmoid(logits)
    return -(targets * torch.log(s) + (1 - targets) * torch.log(1 - s)).mean()


def _bce_stable(logits, targets, reduce=torch.mean):
    return reduce(logits.clamp(min=0) - logits * targets + torch.log1p(torch.exp(-logits.abs())))


def _diagnose(gaps_of, tolerance=0.02):
    def diagnose(human, train, train_dev, dev):
        gaps = gaps_of(human, train, train_dev, dev)
        name = max(gaps, key=gaps.get)
        return name if tolerance is None or gaps[name] > tolerance else "good"
    return diagnose


def _epoch(*, same_order=True, zero_grad=True, softmax=None, evaluate=True, as_dict=False):
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
            loss = F.cross_entropy(torch.softmax(out, dim=softmax) if softmax is not None else out, yb)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        if evaluate:
            model.eval()
        with torch.no_grad():
            accuracy = (model(X_val).argmax(dim=1) == y_val).float().mean().item()
        if as_dict:
            return {"losses": losses, "accuracy": accuracy}
        return losses, accuracy
    return train_epoch


def _renamed_epoch(model, optimizer, X, y, X_val, y_val, batch, generator):
    return _epoch()(model, optimizer, X, y, X_val, y_val, batch, generator)


WRONG = {
    "loss.initial_loss": [
        (lambda n_classes: math.log(1 / n_classes), "the sign is flipped"),
        (lambda n_classes: math.log10(n_classes), "that is log10(C)"),
        (lambda n_classes: math.log2(n_classes), "that is log2(C)"),
        (lambda n_classes: 1 / n_classes, "1/C is the probability"),
        (lambda n_classes: torch.log(torch.tensor(n_classes - 1.0)), "that is ln(C - 1)"),
        (lambda n_classes: torch.full((n_classes,), math.log(n_classes)), "expected one number: the expected loss"),
        (lambda C: math.log(C), "keep the template's parameter names (`n_classes`)"),
    ],
    "loss.prior_bias": [
        (lambda counts: np.asarray(counts) / np.sum(counts), "you used the prior p itself"),
        (lambda counts: -np.log(np.asarray(counts) / np.sum(counts)), "the sign is flipped"),
        (lambda counts: np.asarray(counts, dtype=float), "you used the counts as the bias"),
        (lambda counts: np.log10(np.asarray(counts) / np.sum(counts)), "log10 is not the inverse of exp"),
        (lambda counts: (math.log(c / sum(counts)) for c in counts), "a generator"),
        (lambda counts: float(np.log(counts[0] / np.sum(counts))), "expected a bias vector"),
    ],
    "loss.cross_entropy": [
        (_ce_naive, "the loss overflowed"),
        (_ce_softmax_twice, "the softmax is applied twice"),
        (_ce_batch_axis, "over the batch axis"),
        (_ce_sum, "that is the sum over the batch"),
        (_ce_log10, "not log10"),
        (_ce_columns, "logits[:, targets] is an (n, n) block"),
        (_ce_per_sample, "expected one number: the mean loss over the batch (a float or a 0-d tensor), got a tensor"),
        (_ce_library, "without `F.cross_entropy`"),
        (_ce_nll, "without `F.log_softmax`"),
    ],
    "loss.bce_with_logits": [
        (_bce_naive, "log(1 - sigmoid(z)) is -inf"),
        (lambda logits, targets: F.binary_cross_entropy(torch.sigmoid(logits), targets), "PyTorch clamps each log"),
        (lambda logits, targets: _bce_stable(logits, 1 - targets), "y and 1 - y are swapped"),
        (lambda logits, targets: _bce_stable(logits, targets, reduce=torch.sum), "that is the sum over the batch"),
        (lambda logits, targets: F.binary_cross_entropy_with_logits(logits, targets),
         "without `F.binary_cross_entropy_with_logits`"),
        (lambda logits, y: _bce_stable(logits, y), "keep the template's parameter names"),
    ],
    "loss.diagnose": [
        (_diagnose(lambda h, tr, td, d: {"high bias": td - tr, "high variance": tr - h, "data mismatch": d - td}),
         "bias and variance are swapped"),
        (_diagnose(lambda h, tr, td, d: {"high bias": tr - h, "high variance": d - tr}),
         "the gap is between train-dev"),
        (_diagnose(lambda h, tr, td, d: {"high bias": tr, "high variance": td - tr, "data mismatch": d - td}),
         "not against 0"),
        (_diagnose(lambda h, tr, td, d: {"high bias": tr - h, "high variance": td - tr, "data mismatch": d - td},
                   tolerance=None), "return 'good' when even the largest gap"),
        (lambda human, train, train_dev, dev: ["good"], "got a list of 1 text"),
        (lambda human, train, train_dev, dev: "bias", "'bias' is not one of"),
    ],
    "loss.train_epoch": [
        (_epoch(zero_grad=False), "the gradients accumulate from batch to batch"),
        (_epoch(same_order=False), "the labels were shuffled with their own permutation"),
        (_epoch(softmax=0), "a softmax over the batch axis (dim=0) feeds"),
        (_epoch(softmax=1), "a softmax over the classes (dim=1) is still applied"),
        (_epoch(evaluate=False), "dropout still active"),
        (_epoch(zero_grad=False, same_order=False),
         "two bugs are left: the gradients accumulate (no optimizer.zero_grad()), and X and y are shuffled"),
        (_epoch(zero_grad=False, softmax=0),
         "two bugs are left: the gradients accumulate (no optimizer.zero_grad()), and a softmax over the batch"),
        (_epoch(zero_grad=False, softmax=1),
         "two bugs are left: the gradients accumulate (no optimizer.zero_grad()), and a softmax (dim=1)"),
        (_epoch(zero_grad=False, evaluate=False),
         "two bugs are left: the gradients accumulate (no optimizer.zero_grad()), and the validation runs"),
        (_epoch(same_order=False, softmax=0),
         "two bugs are left: X and y are shuffled with two different permutations, and a softmax over the batch"),
        (_epoch(same_order=False, softmax=1),
         "two bugs are left: X and y are shuffled with two different permutations, and a softmax (dim=1)"),
        (_epoch(same_order=False, evaluate=False),
         "two bugs are left: X and y are shuffled with two different permutations, and the validation runs"),
        (_epoch(softmax=0, evaluate=False),
         "two bugs are left: a softmax over the batch axis is still applied before the loss, and the validation"),
        (_epoch(softmax=1, evaluate=False),
         "two bugs are left: a softmax (dim=1) is still applied before F.cross_entropy, and the validation"),
        (_epoch(as_dict=True), "expected a pair (losses, accuracy)"),
        (_renamed_epoch, "keep the template's parameter names"),
    ],
}
