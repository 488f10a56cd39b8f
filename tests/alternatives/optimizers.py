"""Correct implementations of lab 08's exercises, written another way than the reference solution."""

import math

import numpy as np
import pandas as pd
import torch


# -- opt.lr_limit ----------------------------------------------------------------------------------------

def lr_limit_power_iteration(hessian):
    """The largest eigenvalue by power iteration, no eigen-solver."""
    v = np.ones(len(hessian))
    for _ in range(2000):
        v = hessian @ v
        v /= np.linalg.norm(v)
    return 2 / float(v @ hessian @ v)


def lr_limit_torch_float32(hessian):
    return 2 / torch.linalg.eigvalsh(torch.as_tensor(hessian, dtype=torch.float32)).max()


# -- opt.optimizer (a decision) ----------------------------------------------------------------------------

def optimizer_five_seeds(lab):
    """Every seed of both (the whole budget)."""
    mean = {name: np.mean([lab.run(name, s)["val_loss"][-1] for s in lab.seeds]) for name in lab.candidates}
    choice = min(mean, key=mean.get)
    return {"optimizer": choice, "test_accuracy": lab.test(choice)}


def optimizer_paired_wins(lab):
    """Three paired seeds; the sum of the differences decides (the same as the means, written otherwise)."""
    sgd = np.array([lab.run("sgd", s)["val_loss"][-1] for s in lab.seeds[:3]])
    adam = np.array([lab.run("adam", s)["val_loss"][-1] for s in lab.seeds[:3]])
    choice = "adam" if (sgd - adam).sum() > 0 else "sgd"
    return {"optimizer": choice, "test_accuracy": lab.test(choice)}


# -- opt.adamw_step ----------------------------------------------------------------------------------------

def adamw_step_torch_formula(p, g, state, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2):
    """PyTorch's own arrangement: step size lr / (1 - b1^t), denominator sqrt(v) / sqrt(1 - b2^t) + eps."""
    b1, b2 = betas
    p, g = torch.as_tensor(p), torch.as_tensor(g)
    step = state.get("step", 0) + 1
    m = torch.as_tensor(state.get("exp_avg", torch.zeros_like(p))).lerp(g, 1 - b1)
    v = torch.as_tensor(state.get("exp_avg_sq", torch.zeros_like(p))) * b2 + (1 - b2) * g * g
    state.update(step=torch.tensor(float(step)), exp_avg=m, exp_avg_sq=v)
    p = p * (1 - lr * weight_decay)
    denominator = v.sqrt() / math.sqrt(1 - b2 ** step) + eps
    return p - (lr / (1 - b1 ** step)) * m / denominator


def adamw_step_numpy(p, g, state, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2):
    b1, b2 = betas
    state.setdefault("exp_avg", np.zeros_like(p))
    state.setdefault("exp_avg_sq", np.zeros_like(p))
    state["step"] = state.get("step", 0) + 1
    state["exp_avg"] = b1 * state["exp_avg"] + (1 - b1) * g
    state["exp_avg_sq"] = b2 * state["exp_avg_sq"] + (1 - b2) * np.square(g)
    t = state["step"]
    update = (state["exp_avg"] / (1 - b1 ** t)) / (np.sqrt(state["exp_avg_sq"] / (1 - b2 ** t)) + eps)
    return p - lr * weight_decay * p - lr * update


# -- opt.range_test_lr ----------------------------------------------------------------------------------------

def range_test_pandas(lrs, losses, beta=0.98):
    """pandas' ewm with adjust=True is the bias-corrected moving average."""
    smoothed = pd.Series(losses).ewm(alpha=1 - beta, adjust=True).mean().to_numpy()
    return lrs[smoothed.argmin()] * 0.1


def range_test_closed_form(lrs, losses, beta=0.98):
    i = np.arange(len(losses))
    weights = (1 - beta) * beta ** (i[:, None] - i[None, :]) * (i[:, None] >= i[None, :])
    smoothed = weights @ np.asarray(losses) / (1 - beta ** (i + 1))
    return torch.tensor(lrs[np.argmin(smoothed)] / 10)


# -- opt.learning_rate (a decision) -------------------------------------------------------------------------

def learning_rate_coarse_then_fine(lab):
    """No reading of the range test beyond its minimum: one seed of every other candidate below it, then the
    best and its two neighbours with three seeds."""
    test = lab.range_test()
    ceiling = test["lrs"][np.argmin(test["losses"])]
    grid = [lr for lr in lab.candidates if lr < ceiling] or list(lab.candidates[:1])
    coarse = {lr: lab.run(lr, 0)["val_loss"][-1] for lr in grid[-6::2]}
    centre = lab.candidates.index(min(coarse, key=coarse.get))
    fine = {}
    for i in range(max(centre - 1, 0), min(centre + 2, len(lab.candidates))):
        lr = lab.candidates[i]
        fine[lr] = np.mean([lab.run(lr, s)["val_loss"][-1] for s in (0, 1, 2)])
    choice = min(fine, key=fine.get)
    return {"lr": choice, "test_accuracy": lab.test(choice)}


def learning_rate_window_of_five(lab):
    """The range test's suggestion (smoothed minimum / 10, pandas), then the five candidates around it."""
    test = lab.range_test()
    smoothed = pd.Series(test["losses"]).ewm(alpha=0.02, adjust=True).mean().to_numpy()
    suggestion = test["lrs"][np.argmin(smoothed)] / 10
    i = int(np.argmin(np.abs(np.log10(np.array(lab.candidates)) - math.log10(suggestion))))
    window = lab.candidates[max(0, min(i - 2, len(lab.candidates) - 5)):][:5]
    mean = {lr: np.mean([lab.run(lr, s)["val_loss"][-1] for s in lab.seeds[:3]]) for lr in window}
    choice = min(mean, key=mean.get)
    return {"lr": choice, "test_accuracy": lab.test(choice)}


RIGHT = {
    "opt.lr_limit": [lr_limit_power_iteration, lr_limit_torch_float32],
    "opt.optimizer": [optimizer_five_seeds, optimizer_paired_wins],
    "opt.adamw_step": [adamw_step_torch_formula, adamw_step_numpy],
    "opt.range_test_lr": [range_test_pandas, range_test_closed_form],
    "opt.learning_rate": [learning_rate_coarse_then_fine, learning_rate_window_of_five],
}
