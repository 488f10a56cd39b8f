"""Known-wrong implementations of lab 07's exercises, with the hint each must get."""

import numpy as np
import torch
from torch import nn

from course_utils.vault import CHOSE_ON_TEST, NOT_REPORTED, ONE_SEED, PEEKED


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


def seeded_choice(key, score=lambda lab, run: run["val_loss"][-1], best=min, seeds=3, tests="final"):
    """A decision over ``lab.candidates`` (a :class:`Runs` harness): ``score`` of each run averaged over the
    first ``seeds`` seeds, the ``best`` candidate; ``tests``: "final" (the protocol), "all" (chooses on
    test), "peek" (reports the test score of another candidate), "none" (no report)."""

    def choose(lab):
        means = {c: np.mean([score(lab, lab.run(c, s)) for s in lab.seeds[:seeds]]) for c in lab.candidates}
        choice = best(means, key=means.get)
        if tests == "all":
            opened = {c: lab.test(c) for c in lab.candidates}
            choice = max(opened, key=opened.get)
        if tests == "peek":
            return {key: choice, "test_accuracy": lab.test(next(c for c in lab.candidates if c != choice))}
        return {key: choice, **({} if tests == "none" else {"test_accuracy": lab.test(choice)})}

    choose.__name__ = f"choose_{key}_{tests}_{seeds}_seeds"
    return choose


def _stop(pick="val", seeds=3, tests="final"):
    def choose_stop_epoch(lab):
        runs = [lab.run(s) for s in lab.seeds[:seeds]]
        epoch = (len(runs[0]["val_loss"]) - 1 if pick == "last"
                 else int(np.argmin(np.mean([r["val_loss"] for r in runs], axis=0))))
        if tests == "all":
            opened = {e: lab.test(e) for e in (epoch, epoch + 5, epoch + 10)}
            epoch = max(opened, key=opened.get)
        if tests == "peek":
            return {"epoch": epoch, "test_accuracy": lab.test(len(runs[0]["val_loss"]) - 1)}
        return {"epoch": epoch, **({} if tests == "none" else {"test_accuracy": lab.test(epoch)})}
    return choose_stop_epoch


WRONG = {
    "reg.weight_decay": [
        (seeded_choice("weight_decay", score=lambda lab, run: run["train_loss"][-1]), "lowest TRAINING loss"),
        (seeded_choice("weight_decay", tests="all"), CHOSE_ON_TEST),
        (seeded_choice("weight_decay", tests="peek"), PEEKED),
        (seeded_choice("weight_decay", seeds=1), ONE_SEED.format(needed=3)),
        (seeded_choice("weight_decay", tests="none"), NOT_REPORTED),
        (lambda lab: {"weight_decay": 0.05}, "is not one of the lab's candidates"),
    ],
    "reg.stop_epoch": [
        (_stop(pick="last"), "the last epoch has the lowest TRAINING loss"),
        (_stop(tests="all"), CHOSE_ON_TEST),
        (_stop(tests="peek"), PEEKED),
        (_stop(seeds=1), ONE_SEED.format(needed=3)),
        (_stop(tests="none"), NOT_REPORTED),
        (lambda lab: {"stop": 3}, "expected a dict with the key 'epoch'"),
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
