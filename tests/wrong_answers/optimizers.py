"""Known-wrong implementations of lab 08's exercises, with the hint each must get."""

import math

import numpy as np
import torch

from course_utils.vault import CHOSE_ON_TEST, NOT_REPORTED, ONE_SEED, PEEKED

from .regularization import seeded_choice


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


def _smooth(losses, beta=0.98, corrected=True):
    average, out = 0.0, []
    for i, loss in enumerate(losses):
        average = beta * average + (1 - beta) * loss
        out.append(average / (1 - beta ** (i + 1)) if corrected else average)
    return np.array(out)


def _adamw_no_state(p, g, state, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2):
    """Keeps its moments in local variables: nothing survives to the next step."""
    beta1, beta2 = betas
    m, v = (1 - beta1) * g, (1 - beta2) * g * g
    return p * (1 - lr * weight_decay) - lr * (m / (1 - beta1)) / (np.sqrt(v / (1 - beta2)) + eps)


def _learning_rate(pick="read", seeds=3, tests="final"):
    """The range test read as the lab teaches (or its raw minimum), the candidate nearest it and its two
    neighbours compared over ``seeds`` seeds; ``tests`` as in ``seeded_choice``."""

    def choose_learning_rate(lab):
        test = lab.range_test()
        at = test["lrs"][np.argmin(test["losses"] if pick == "raw" else _smooth(test["losses"]))]
        target = at if pick == "raw" else at / 10
        i = int(np.argmin([abs(math.log(lr / target)) for lr in lab.candidates]))
        if pick == "raw":  # trains it with three seeds, compares it with nothing
            for s in lab.seeds[:seeds]:
                lab.run(lab.candidates[i], s)
            return {"lr": lab.candidates[i], "test_accuracy": lab.test(lab.candidates[i])}
        near = lab.candidates[max(i - 1, 0):i + 2]
        mean = {lr: np.mean([lab.run(lr, s)["val_loss"][-1] for s in lab.seeds[:seeds]]) for lr in near}
        choice = min(mean, key=mean.get)
        if tests == "all":
            opened = {lr: lab.test(lr) for lr in near}
            choice = max(opened, key=opened.get)
        if tests == "peek":
            return {"lr": choice, "test_accuracy": lab.test(next(lr for lr in near if lr != choice))}
        return {"lr": choice, **({} if tests == "none" else {"test_accuracy": lab.test(choice)})}

    return choose_learning_rate


WRONG = {
    "opt.optimizer": [
        (seeded_choice("optimizer", score=lambda lab, run: run["train_loss"][-1]), "lower TRAINING loss"),
        (seeded_choice("optimizer", tests="all"), CHOSE_ON_TEST),
        (seeded_choice("optimizer", tests="peek"), PEEKED),
        (seeded_choice("optimizer", seeds=1), ONE_SEED.format(needed=3)),
        (seeded_choice("optimizer", tests="none"), NOT_REPORTED),
        (lambda lab: {"optimizer": "rmsprop"}, "is not one of the lab's candidates"),
    ],
    "opt.learning_rate": [
        (_learning_rate(pick="raw"), "where the range test's loss is lowest"),
        (_learning_rate(tests="all"), CHOSE_ON_TEST),
        (_learning_rate(tests="peek"), PEEKED),
        (_learning_rate(seeds=1), ONE_SEED.format(needed=3)),
        (_learning_rate(tests="none"), NOT_REPORTED),
    ],
    "opt.lr_limit": [
        (lambda hessian: 2 / np.linalg.eigvalsh(hessian).min(), "that is 2/λ_min"),
        (lambda hessian: 1 / np.linalg.eigvalsh(hessian).max(), "1/λ_max is where"),
        (lambda hessian: np.linalg.eigvalsh(hessian).max(), "that is λ_max itself"),
        (lambda hessian: 2 / np.diag(hessian).max(), "the diagonal of a rotated Hessian"),
        (lambda hessian: 2 / np.trace(hessian), "2 / trace"),
        (lambda hessian: 2 / np.linalg.eigvalsh(hessian), "expected one number: the largest stable learning rate"),
    ],
    "opt.adamw_step": [
        (_adamw(coupled=True), "Adam with L2"),
        (_adamw(decay_after=True), "BEFORE the Adam update"),
        (_adamw(decay_without_lr=True), "scaled by the learning rate"),
        (_adamw(no_correction=True), "the bias correction is missing"),
        (_adamw(eps_inside=True), "AFTER the square root"),
        (_adamw_no_state, "state['exp_avg'] is missing after the step"),
    ],
    "opt.range_test_lr": [
        (lambda lrs, losses, beta=0.98: lrs[np.argmin(losses)] / 10, "raw, noisy losses"),
        (lambda lrs, losses, beta=0.98: lrs[np.argmin(_smooth(losses, beta, corrected=False))] / 10,
         "the bias correction"),
        (lambda lrs, losses, beta=0.98: lrs[np.argmin(_smooth(losses, beta))], "already too large"),
        (lambda lrs, losses, beta=0.98: lrs / 10, "expected one number: a learning rate"),
    ],
}
