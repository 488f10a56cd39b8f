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


def _find_broken(log=math.log):
    """The lab's rule with ln C computed with another logarithm."""
    def find_broken(runs, n_classes):
        expected = log(n_classes)
        for name, losses in runs.items():
            if not expected / 2 < losses[0] < 2 * expected or losses[-1] > 0.8 * expected:
                return {"broken": name}
    return find_broken


def _choose_bias(decide=min, seeds=(0, 1, 2), test="chosen", report=True):
    """The lab's protocol with one thing changed: a fixed decision, the seeds, which model the test set is
    opened for, or no report."""
    def choose_bias(vault, fit):
        X, y = vault.val
        models = {bias: [fit(bias, s) for s in seeds] for bias in fit.biases}
        mean = {bias: np.mean([vault.metric(m, X, y) for m in ms]) for bias, ms in models.items()}
        if test == "every":
            scores = {bias: vault.test(ms[0], candidate=bias) for bias, ms in models.items()}
            best = min(scores, key=scores.get)
            return {"bias": best, "test": scores[best]}
        best = min(mean, key=mean.get) if decide is min else decide
        if not report:
            return {"bias": best}
        shown = best if test == "chosen" else ("zeros" if best != "zeros" else "prior")
        return {"bias": best, "test": vault.test(models[shown][0], candidate=shown)}
    return choose_bias


WRONG = {
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
    "loss.find_broken": [
        (lambda runs, n_classes: "run 1", "nothing is wrong with it"),
        (_find_broken(log=math.log10), "nothing is wrong with it"),
        (lambda runs, n_classes: {"broken": 3}, "the broken run is one of 'run 1'"),
    ],
    "loss.choose_bias": [
        (_choose_bias(decide="prior"), "a bias of p gives probabilities proportional to e^p"),
        (_choose_bias(decide="zeros"), "zeros start every class at 1/C"),
        (_choose_bias(test="every"), "opened the test set for several candidates (choosing on test)"),
        (_choose_bias(test="other"), "(peeking)"),
        (_choose_bias(seeds=(0,)), "train each candidate with 3 seeds"),
        (_choose_bias(report=False), "reported no test score"),
        (lambda vault, fit: {"bias": "ones"}, "the bias is one of"),
    ],
}
