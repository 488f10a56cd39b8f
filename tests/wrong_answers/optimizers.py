"""Known-wrong implementations of lab 08's exercises, with the hint each must get."""

import math

import numpy as np
import torch


def _sgd(dampen_first=False, decay_after=False, no_decay=False, ignore_nesterov=False, textbook=False):
    def sgd_step(p, g, state, lr, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False):
        d_p = g if (decay_after or no_decay) else g + weight_decay * p
        if momentum:
            if "momentum_buffer" not in state:
                buf = (1 - dampening) * d_p if dampen_first else (lr * d_p if textbook else d_p.copy())
            else:
                buf = momentum * state["momentum_buffer"] + (lr if textbook else 1 - dampening) * d_p
            state["momentum_buffer"] = buf
            if textbook:
                return p - buf
            d_p = d_p + momentum * buf if nesterov and not ignore_nesterov else buf
        if decay_after:
            d_p = d_p + weight_decay * p
        return p - lr * d_p
    return sgd_step


def _adamw(coupled=False, decay_after=False, decay_without_lr=False, no_correction=False, eps_inside=False):
    def adamw_step(p, g, state, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2):
        beta1, beta2 = betas
        if coupled:
            g = g + weight_decay * p
        elif not decay_after:
            p = p * (1 - (1 if decay_without_lr else lr) * weight_decay)
        t = state["step"] = state.get("step", 0) + 1
        state["exp_avg"] = beta1 * state.get("exp_avg", 0.0) + (1 - beta1) * g
        state["exp_avg_sq"] = beta2 * state.get("exp_avg_sq", 0.0) + (1 - beta2) * g * g
        m_hat, v_hat = state["exp_avg"], state["exp_avg_sq"]
        if not no_correction:
            m_hat, v_hat = m_hat / (1 - beta1 ** t), v_hat / (1 - beta2 ** t)
        denominator = np.sqrt(v_hat + eps) if eps_inside else np.sqrt(v_hat) + eps
        p = p - lr * m_hat / denominator
        return p * (1 - lr * weight_decay) if decay_after else p
    return adamw_step


def _rsqrt(from_zero=False, inverse=False, no_warmup=False, one_more=False):
    def warmup_rsqrt(steps, warmup_steps, base_lr):
        out = []
        for t in range(steps + (1 if one_more else 0)):
            n = t if from_zero else t + 1
            decay = warmup_steps / n if inverse else (math.sqrt(warmup_steps / n) if n else float("inf"))
            out.append(base_lr * (decay if no_warmup else min(n / warmup_steps, decay)))
        return out
    return warmup_rsqrt


def _smooth(losses, beta=0.98, corrected=True):
    average, out = 0.0, []
    for i, loss in enumerate(losses):
        average = beta * average + (1 - beta) * loss
        out.append(average / (1 - beta ** (i + 1)) if corrected else average)
    return np.array(out)


def _sgd_with_torch_optim(p, g, state, lr, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False):
    param = torch.tensor(p, requires_grad=True)
    param.grad = torch.tensor(g)
    torch.optim.SGD([param], lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                    nesterov=nesterov).step()
    return param.detach().numpy()


def _adamw_no_state(p, g, state, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2):
    """Keeps its moments in local variables: nothing survives to the next step."""
    beta1, beta2 = betas
    m, v = (1 - beta1) * g, (1 - beta2) * g * g
    return p * (1 - lr * weight_decay) - lr * (m / (1 - beta1)) / (np.sqrt(v / (1 - beta2)) + eps)


WRONG = {
    "opt.lr_limit": [
        (lambda hessian: 2 / np.linalg.eigvalsh(hessian).min(), "that is 2/λ_min"),
        (lambda hessian: 1 / np.linalg.eigvalsh(hessian).max(), "1/λ_max is where"),
        (lambda hessian: np.linalg.eigvalsh(hessian).max(), "that is λ_max itself"),
        (lambda hessian: 2 / np.diag(hessian).max(), "the diagonal of a rotated Hessian"),
        (lambda hessian: 2 / np.trace(hessian), "2 / trace"),
        (lambda hessian: 2 / np.linalg.eigvalsh(hessian), "expected one number: the largest stable learning rate"),
    ],
    "opt.sgd_step": [
        (_sgd(dampen_first=True), "without dampening"),
        (_sgd(decay_after=True), "BEFORE the momentum"),
        (_sgd(no_decay=True), "the weight decay is missing"),
        (_sgd(ignore_nesterov=True), "with nesterov=True"),
        (_sgd(textbook=True), "that is the textbook form"),
        (_sgd_with_torch_optim, "without `torch.optim.SGD`"),
        (lambda p, g, state, lr, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False:
         (_sgd()(p, g, state, lr, momentum, dampening, weight_decay, nesterov), state),
         "expected the new p (an array of the shape of p)"),
    ],
    "opt.adamw_step": [
        (_adamw(coupled=True), "Adam with L2"),
        (_adamw(decay_after=True), "BEFORE the Adam update"),
        (_adamw(decay_without_lr=True), "scaled by the learning rate"),
        (_adamw(no_correction=True), "the bias correction is missing"),
        (_adamw(eps_inside=True), "AFTER the square root"),
        (_adamw_no_state, "state['exp_avg'] is missing after the step"),
    ],
    "opt.warmup_rsqrt": [
        (_rsqrt(from_zero=True), "off by one"),
        (_rsqrt(inverse=True), "inverse SQUARE ROOT"),
        (_rsqrt(no_warmup=True), "the warm-up is missing"),
        (_rsqrt(one_more=True), "expected a list of exactly `steps` learning rates"),
        (lambda steps, warmup_steps, base_lr: (base_lr * min((t + 1) / warmup_steps, math.sqrt(warmup_steps / (t + 1)))
                                               for t in range(steps)), "got a generator"),
    ],
    "opt.range_test_lr": [
        (lambda lrs, losses, beta=0.98: lrs[np.argmin(losses)] / 10, "raw, noisy losses"),
        (lambda lrs, losses, beta=0.98: lrs[np.argmin(_smooth(losses, beta, corrected=False))] / 10,
         "the bias correction"),
        (lambda lrs, losses, beta=0.98: lrs[np.argmin(_smooth(losses, beta))], "already too large"),
        (lambda lrs, losses, beta=0.98: lrs / 10, "expected one number: a learning rate"),
    ],
}
