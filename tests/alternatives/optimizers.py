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


# -- opt.sgd_step ----------------------------------------------------------------------------------------

def sgd_step_torch(p, g, state, lr, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False):
    """Tensors inside, float64, the buffer kept as a tensor."""
    p, g = torch.as_tensor(p), torch.as_tensor(g)
    d_p = g.add(p, alpha=weight_decay)
    if momentum:
        buf = state.get("momentum_buffer")
        buf = d_p.clone() if buf is None else torch.as_tensor(buf) * momentum + d_p * (1 - dampening)
        state["momentum_buffer"] = buf
        d_p = d_p + momentum * buf if nesterov else buf
    return (p - lr * d_p).numpy()


def sgd_step_list(p, g, state, lr, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False):
    """Element by element, a list out."""
    d = [gi + weight_decay * pi for pi, gi in zip(p, g)]
    if momentum != 0:
        if "momentum_buffer" in state:
            state["momentum_buffer"] = [momentum * b + (1 - dampening) * di
                                        for b, di in zip(state["momentum_buffer"], d)]
        else:
            state["momentum_buffer"] = list(d)
        buf = state["momentum_buffer"]
        d = [di + momentum * b for di, b in zip(d, buf)] if nesterov else list(buf)
    return [pi - lr * di for pi, di in zip(p, d)]


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


# -- opt.warmup_rsqrt ----------------------------------------------------------------------------------------

def warmup_rsqrt_lambda_lr(steps, warmup_steps, base_lr):
    """Read the rates off a real LambdaLR schedule."""
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=base_lr)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda t: min((t + 1) / warmup_steps, math.sqrt(warmup_steps / (t + 1))))
    rates = []
    for _ in range(steps):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        schedule.step()
    return rates


def warmup_rsqrt_numpy(steps, warmup_steps, base_lr):
    n = np.arange(1, steps + 1)
    return base_lr * np.where(n < warmup_steps, n / warmup_steps, np.sqrt(warmup_steps / n))


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


RIGHT = {
    "opt.lr_limit": [lr_limit_power_iteration, lr_limit_torch_float32],
    "opt.sgd_step": [sgd_step_torch, sgd_step_list],
    "opt.adamw_step": [adamw_step_torch_formula, adamw_step_numpy],
    "opt.warmup_rsqrt": [warmup_rsqrt_lambda_lr, warmup_rsqrt_numpy],
    "opt.range_test_lr": [range_test_pandas, range_test_closed_form],
}
