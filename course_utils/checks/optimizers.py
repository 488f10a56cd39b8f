"""Exercises of lab 08, optimizers & learning rates (``solutions/08_optimizers.ipynb``).

Ids: ``opt.lr_limit``, ``opt.optimizer``, ``opt.adamw_step``, ``opt.range_test_lr``, ``opt.learning_rate``.

Two exercises are decisions (:mod:`.decisions`): the learner gets an experiment harness
(:mod:`course_utils.experiments.optimizers`) and chooses an optimizer from runs over several seeds, or a
learning rate from an LR range test and a few runs, then opens the test set once. The decision is judged
against what the harness's own runs support (every seed; any candidate within the noise of the best),
the protocol by the vault's sentence; their seed varies per learner.

The AdamW update is checked one step at a time, from a given state (the first step, and a step later in
a run), with the state's keys named as in ``torch.optim``'s own state, so that every convention (where
the weight decay goes, where ε goes, the bias correction) is tested on its own;
tests/test_topic_08_optimizers.py checks the reference answers against ``torch.optim``. The new p and
each state entry earn their share of a case (``parts``); ``torch.optim`` itself is refused
(``forbid``): the point is to write the rule. The hint rules compute typical *wrong* answers to recognise them; the reference answers come from
the solution notebook.
"""

from __future__ import annotations

import numpy as np

from course_utils.experiments.seeded import chose, observe_choice

from .compare import close
from .decisions import followed, supported
from .engine import Exercise
from .hints import like, when
from .values import AnswerError, as_array, describe, to_plain

STEP_ANSWER = "the new p (an array of the shape of p)"


def _array_answer(value, what: str = STEP_ANSWER) -> np.ndarray:
    try:
        return as_array(value)
    except AnswerError:
        raise AnswerError(f"expected {what}, got {describe(to_plain(value))}") from None


# -- opt.lr_limit ----------------------------------------------------------------------------------------

def _curvatures(case: dict) -> np.ndarray:
    return np.geomspace(1.0, case["condition"], case["dim"]) * case["scale"]


def _hessian_arguments(case: dict) -> dict:
    """A symmetric positive definite Hessian with eigenvalues from scale to scale * condition, rotated."""
    rng = np.random.default_rng(case["seed"])
    q, _ = np.linalg.qr(rng.standard_normal((case["dim"], case["dim"])))
    return {"hessian": q @ np.diag(_curvatures(case)) @ q.T}


# -- opt.optimizer and opt.learning_rate: decisions ------------------------------------------------------

def _optimizer_arguments(case: dict) -> dict:
    from course_utils.experiments.optimizers import optimizer_lab

    return {"lab": optimizer_lab(case["seed"])}


def _learning_rate_arguments(case: dict) -> dict:
    from course_utils.experiments.optimizers import learning_rate_lab

    return {"lab": learning_rate_lab(case["seed"])}


def _acceptable_optimizers(case: dict) -> list:
    from course_utils.experiments.optimizers import acceptable_optimizers

    return acceptable_optimizers(case)


def _acceptable_learning_rates(case: dict) -> list:
    from course_utils.experiments.optimizers import acceptable_learning_rates

    return acceptable_learning_rates(case)


def _optimizer_on_training_loss(case: dict) -> str:
    from course_utils.experiments.optimizers import best_on_training_loss

    return best_on_training_loss(case["seed"])


def _range_test_minimum(case: dict) -> float:
    from course_utils.experiments.optimizers import range_test_minimum

    return range_test_minimum(case["seed"])


# -- opt.adamw_step --------------------------------------------------------------------------------------

def _vectors(case: dict, names: tuple[str, ...]) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(case["seed"])
    return {name: rng.standard_normal(case["dim"]) * case.get(f"{name}_scale", 1.0) for name in names}


def _step_observe(keys: tuple[str, ...]):
    """The new p and the state entries ``keys`` after the step (PyTorch's names; each must be there)."""
    def observe(result, kwargs) -> dict:
        state = kwargs["state"]
        if not isinstance(state, dict):
            raise AnswerError("the state must stay the dict you were given (update it, do not replace it)")
        observed = {"p": _array_answer(result)}
        for key in keys:
            if key not in state:
                raise AnswerError(f"keep the state under PyTorch's names: state[{key!r}] is missing after the step")
            observed[key] = _array_answer(state[key], f"state[{key!r}] to hold an array")
        return observed
    return observe


def _adam_arguments(case: dict) -> dict:
    v = _vectors(case, ("p", "g", "m", "v"))
    scale = case.get("g_scale", 1.0)  # of the gradients, and of the moments that follow them
    state = {} if case["t"] == 0 else {"step": case["t"], "exp_avg": 0.3 * scale * v["m"],
                                       "exp_avg_sq": (scale * v["v"]) ** 2}
    return {"p": v["p"], "g": v["g"], "state": state, "lr": case["lr"], "betas": (0.9, 0.999), "eps": 1e-8,
            "weight_decay": case["weight_decay"]}


def _adamw_like(case: dict, slip: str) -> dict:
    """One AdamW step with exactly one classic slip (never the correct rule)."""
    a = _adam_arguments(case)
    p, g, lr, wd, eps = a["p"], a["g"], a["lr"], a["weight_decay"], a["eps"]
    beta1, beta2 = a["betas"]
    state = a["state"]
    t = state.get("step", 0) + 1
    if slip == "coupled":  # Adam with L2: the decay enters the gradient
        g = g + wd * p
    start = p if slip in ("coupled", "decay after the update") else p * (1 - (1 if slip == "decay without lr" else lr) * wd)
    m = beta1 * state.get("exp_avg", 0.0) + (1 - beta1) * g
    v = beta2 * state.get("exp_avg_sq", 0.0) + (1 - beta2) * g * g
    if slip == "no bias correction":
        m_hat, v_hat = m, v
    else:
        m_hat, v_hat = m / (1 - beta1 ** t), v / (1 - beta2 ** t)
    denominator = np.sqrt(v_hat + eps) if slip == "eps inside" else np.sqrt(v_hat) + eps
    new = start - lr * m_hat / denominator
    if slip == "decay after the update":
        new = new * (1 - lr * wd)
    if slip not in ("coupled", "decay after the update", "decay without lr", "no bias correction", "eps inside"):
        raise ValueError(slip)
    return {"p": new.tolist(), "step": float(t), "exp_avg": np.broadcast_to(m, p.shape).tolist(),
            "exp_avg_sq": np.broadcast_to(v, p.shape).tolist()}


def _adam_observe(result, kwargs) -> dict:
    observed = _step_observe(("exp_avg", "exp_avg_sq", "step"))(result, kwargs)
    if observed["step"].size != 1:
        raise AnswerError("state['step'] counts the steps taken: one number")
    observed["step"] = float(observed["step"].reshape(()))
    return observed


def _p_like(got, wrong) -> bool:
    return close(rtol=1e-6, atol=1e-12)(got["p"], wrong["p"]).ok


# -- opt.range_test_lr -----------------------------------------------------------------------------------

def _range_arguments(case: dict) -> dict:
    """A synthetic LR range test: a plateau, a descent, a blow-up, with noise."""
    rng = np.random.default_rng(case["seed"])
    lrs = np.geomspace(1e-5, 10, case["n"])
    x = np.log10(lrs)
    losses = (2.3 - 1.8 / (1 + np.exp(-(x - case["drop_at"]) * 3)) + np.exp((x - case["blow_at"]) * 4)
              + rng.normal(0, case["noise"], case["n"]))
    return {"lrs": lrs, "losses": losses}


def _smoothed(losses: np.ndarray, beta: float = 0.98, corrected: bool = True) -> np.ndarray:
    average, out = 0.0, []
    for i, loss in enumerate(losses):
        average = beta * average + (1 - beta) * loss
        out.append(average / (1 - beta ** (i + 1)) if corrected else average)
    return np.array(out)


def _range_like(case: dict, slip: str) -> float:
    a = _range_arguments(case)
    curve = {"raw": a["losses"], "uncorrected": _smoothed(a["losses"], corrected=False)}.get(
        slip, _smoothed(a["losses"]))
    at_minimum = a["lrs"][int(np.argmin(curve))]
    return float(at_minimum if slip == "minimum itself" else at_minimum / 10)


EXERCISES = (
    Exercise(
        id="opt.lr_limit",
        title="The largest stable learning rate of gradient descent on a quadratic",
        points=1,
        cases=({"seed": 0, "dim": 2, "condition": 100.0, "scale": 1.0},
               {"seed": 1, "dim": 5, "condition": 30.0, "scale": 0.5}),
        compare=close(rtol=1e-6),
        arguments=_hessian_arguments,
        answer="one number: the largest stable learning rate",
        hints=(
            like(lambda want, case: 2 / _curvatures(case).min(),
                 "that is 2/λ_min: the steepest direction (the LARGEST eigenvalue) sets the limit"),
            like(lambda want, case: 1 / _curvatures(case).max(),
                 "1/λ_max is where each step lands exactly on the minimum along the steepest axis; the "
                 "iteration stays stable up to |1 - lr·λ| < 1, that is lr < 2/λ_max"),
            like(lambda want, case: _curvatures(case).max(), "that is λ_max itself; the limit is 2/λ_max"),
            like(lambda want, case: 2 / _hessian_arguments(case)["hessian"].diagonal().max(),
                 "the diagonal of a rotated Hessian is not its curvature: use its eigenvalues "
                 "(np.linalg.eigvalsh)"),
            like(lambda want, case: 2 / _curvatures(case).sum(),
                 "2 / trace is a safe bound but not the limit: use the largest eigenvalue alone"),
        ),
    ),
    Exercise(
        id="opt.optimizer",
        title="Choose between two optimizers over several seeds; report test once",
        points=2,
        cases=({"seed": 3},),
        varies=("seed",),
        arguments=_optimizer_arguments,
        observe=observe_choice("optimizer", "optimizer"),
        compare={"decision": supported(_acceptable_optimizers, what="the optimizer"), "protocol": followed()},
        parts=("decision", "protocol"),
        answer="a dict: {'optimizer': 'sgd' or 'adam', 'test_accuracy': lab.test(...)}",
        timeout=30.0,
        hints=(
            when(chose(_optimizer_on_training_loss, _acceptable_optimizers),
                 "that optimizer has the lower TRAINING loss, not the lower validation loss: an optimizer that "
                 "fits the training set faster does not generalize better for it"),
        ),
    ),
    Exercise(
        id="opt.adamw_step",
        title="One step of torch.optim.AdamW (decoupled weight decay)",
        points=3,
        cases=({"seed": 0, "dim": 4, "t": 0, "lr": 0.01, "weight_decay": 0.1},
               {"seed": 1, "dim": 4, "t": 9, "lr": 0.05, "weight_decay": 0.01},
               {"seed": 2, "dim": 3, "t": 3, "lr": 0.1, "weight_decay": 0.5, "g_scale": 1e-6}),
        compare=close(rtol=1e-7, atol=1e-14),
        arguments=_adam_arguments,
        observe=_adam_observe,
        answer=STEP_ANSWER,
        parts=("p", "exp_avg", "exp_avg_sq", "step"),
        forbid=("torch.optim.AdamW", "torch.optim.Adam"),
        hints=(
            when(lambda got, want, case: _p_like(got, _adamw_like(case, "coupled")),
                 "the decay went into the gradient (that is Adam with L2, torch.optim.Adam(weight_decay=...)); "
                 "AdamW decays the weights directly: p ← p·(1 - lr·weight_decay), then the Adam step"),
            when(lambda got, want, case: _p_like(got, _adamw_like(case, "decay after the update")),
                 "PyTorch decays the weights BEFORE the Adam update, from the old p"),
            when(lambda got, want, case: _p_like(got, _adamw_like(case, "decay without lr")),
                 "the decay is scaled by the learning rate: p ← p·(1 - lr·weight_decay)"),
            when(lambda got, want, case: _p_like(got, _adamw_like(case, "no bias correction")),
                 "the bias correction is missing: divide m by (1 - β1^t) and v by (1 - β2^t), t counted from "
                 "1 (state['step'] + 1)"),
            when(lambda got, want, case: _p_like(got, _adamw_like(case, "eps inside")),
                 "ε goes AFTER the square root: √v̂ + ε, not √(v̂ + ε) — it matters when gradients are tiny"),
        ),
    ),
    Exercise(
        id="opt.range_test_lr",
        title="Read an LR range test",
        points=2,
        cases=({"seed": 0, "n": 100, "drop_at": -2.5, "blow_at": 0.3, "noise": 0.15},
               {"seed": 1, "n": 80, "drop_at": -3.5, "blow_at": -0.5, "noise": 0.3}),
        compare=close(rtol=1e-6),  # one of the learning rates divided by 10: neighbours differ by 15 %
        arguments=_range_arguments,
        answer="one number: a learning rate",
        hints=(
            like(lambda want, case: _range_like(case, "raw"),
                 "you took the minimum of the raw, noisy losses: smooth them first (the moving average with "
                 "β = 0.98)"),
            like(lambda want, case: _range_like(case, "uncorrected"),
                 "the moving average starts at 0, so its first values are far too small and the 'minimum' is "
                 "at the very start: divide by (1 - β^(i+1)), the bias correction"),
            like(lambda want, case: _range_like(case, "minimum itself"),
                 "the learning rate at the minimum is already too large (the loss was about to blow up): "
                 "take one order of magnitude below it, minimum / 10"),
        ),
    ),
    Exercise(
        id="opt.learning_rate",
        title="Choose the learning rate from a range test and a few runs; report test once",
        points=2,
        cases=({"seed": 0},),
        varies=("seed",),
        arguments=_learning_rate_arguments,
        observe=observe_choice("lr", "learning rate"),
        compare={"decision": supported(_acceptable_learning_rates, what="the learning rate"),
                 "protocol": followed()},
        parts=("decision", "protocol"),
        answer="a dict: {'lr': your choice (one of lab.candidates), 'test_accuracy': lab.test(...)}",
        timeout=30.0,
        hints=(
            when(chose(_range_test_minimum, _acceptable_learning_rates),
                 "that is where the range test's loss is lowest: there the loss is about to blow up; a good "
                 "learning rate lies about a decade below it (then compare the neighbours on validation)"),
        ),
    ),
)
