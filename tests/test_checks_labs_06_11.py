"""The checks of labs 06-11 are fair to every correct answer and precise about every mistake (issues 12, 14).

Each item of the issues that concerns these labs is reproduced here: correct answers get full marks,
wrong ones get 0 with a sentence about the answer. The family tests run every exercise of the six labs
on odd answers (wrong shapes and types), and audit the tolerances.
"""

import math
import re

import numpy as np
import pytest
import torch

from conftest import ROOT, reference_answers
from course_utils.checks import features, imbalance, optimizers, pinn, regularization, transfer
from course_utils.checks.engine import PASSED, case_key
from course_utils.checks.registry import EXERCISES as REGISTRY
from test_alternatives import PYTHON_INTERNALS, graded, learner_texts

TOPICS = (imbalance, regularization, optimizers, pinn, transfer, features)
IDS = sorted(exercise.id for topic in TOPICS for exercise in topic.EXERCISES)
ANSWERS = reference_answers()


def messages(result) -> list[str]:
    """What the failing public cases say (a hidden case says one fixed sentence whatever the answer: see
    tests/test_grading_leaks.py)."""
    return [case.message for case in result.cases if case.status != PASSED and not case.hidden]


def assert_zero_with(result, sentence: str):
    """0 points, every case failed, each public one with a message, and ``sentence`` in at least one of them."""
    texts = messages(result)
    assert result.points == 0, (result.points, texts)
    assert len(texts) == len([case for case in result.cases if not case.hidden]) and all(texts), texts
    assert any(sentence in text for text in texts), texts
    assert not [t for t in learner_texts(result) if PYTHON_INTERNALS.search(t)], learner_texts(result)


def full(result) -> bool:
    return result.points == result.max_points


# -- issue 12: float32 answers, tolerances set by the quantity ------------------------------------------------

def _rtol(comparator):
    match = re.fullmatch(r"close \(rtol ([^,]+), atol ([^)]+)\)", getattr(comparator, "description", ""))
    return float(match.group(1)) if match else None


# Quantities that are exact: the answer is one of the inputs, copied (not computed).
EXACT = {"imb.threshold_for_recall": "the threshold is one of the given scores; neighbours can be 1e-7 apart",
         "reg.shift": "pixels are moved, not computed"}


@pytest.mark.parametrize("exercise_id", IDS)
def test_no_tolerance_below_float_noise_unless_the_quantity_is_exact(exercise_id):
    rtol = _rtol(REGISTRY[exercise_id].compare)
    if rtol is not None and rtol <= 1e-9:
        assert exercise_id in EXACT, f"{exercise_id}: rtol {rtol:g} on a computed quantity"


def test_fractions_k_over_n_are_compared_as_fractions():
    assert REGISTRY["feat.knn_accuracy"].compare.description == "the same fraction k/n"


# -- issue 12: behaviour, not only values ------------------------------------------------------------------

def _residual(second_graph=True, detach=False):
    def heat_residual(model, xt, k):
        xt = xt.clone().requires_grad_(True)
        u = model(xt)
        (grad,) = torch.autograd.grad(u.sum(), xt, create_graph=True)
        (grad_x,) = torch.autograd.grad(grad[:, 0].sum(), xt, create_graph=second_graph,
                                        retain_graph=True)
        residual = grad[:, 1] - k * grad_x[:, 0]
        return residual.detach() if detach else residual
    return heat_residual


def test_a_residual_without_create_graph_on_u_xx_gets_zero():
    """Right values, but training would get no gradient through the diffusion term."""
    assert full(graded("pinn.residual", _residual()))
    assert_zero_with(graded("pinn.residual", _residual(second_graph=False)),
                     "the second autograd.grad also needs create_graph=True")
    assert_zero_with(graded("pinn.residual", _residual(detach=True)), "they carry no autograd graph")


def test_the_residual_check_compares_the_gradients_training_would_use():
    case = REGISTRY["pinn.residual"].cases[0]
    kwargs = pinn._residual_arguments(case)
    right = pinn._residual_probe(_residual(), kwargs)
    kwargs = pinn._residual_arguments(case)
    frozen = pinn._residual_probe(_residual(second_graph=False), kwargs)
    assert np.allclose(right["values"], frozen["values"])
    # every weight gets a gradient; the output bias none (derivatives of u do not depend on it)
    assert len(right["gradient_norms"]) == 6 and all(g > 0 for g in right["gradient_norms"][:5])
    assert not np.allclose(right["gradient_norms"], frozen["gradient_norms"], rtol=1e-3)


def test_periodic_features_must_be_differentiable_through_x():
    def as_new_leaf(x, n_harmonics):
        n = np.arange(1, n_harmonics + 1)
        phase = math.pi * x.detach().numpy() * n
        values = np.stack([np.cos(phase), np.sin(phase)], axis=2).reshape(len(x), -1)
        return torch.tensor(values, requires_grad=True)  # requires grad, but not connected to x

    assert_zero_with(graded("pinn.periodic_features", as_new_leaf), "autograd cannot differentiate")


def test_a_dropout_that_reseeds_inside_gets_zero():
    def dropout(x, p, training):
        if not training:
            return x
        torch.manual_seed(0)  # the same mask at every call
        return x * (torch.rand_like(x) >= p) / (1 - p)

    assert_zero_with(graded("reg.dropout", dropout), "two calls dropped exactly the same units")


@pytest.mark.parametrize("seed", range(5))
def test_any_correct_dropout_passes_whatever_its_masks(seed):
    generator = torch.Generator().manual_seed(100 + seed)

    def dropout(x, p, training):
        if not training:
            return x.clone()
        return x * (torch.rand(x.shape, generator=generator) >= p) / (1 - p)

    assert full(graded("reg.dropout", dropout))


def test_dropout_from_the_library_is_refused():
    assert_zero_with(graded("reg.dropout", lambda x, p, training: torch.nn.functional.dropout(x, p, training)),
                     "without `torch.nn.functional.dropout`")


def _smote(gap=None, base=None, partner_any=False, seed_shift=0):
    def smote(X_minority, n_new, k, seed):
        rng = np.random.default_rng(seed + seed_shift)
        neighbours = imbalance._neighbours(X_minority, k)
        bases = rng.integers(0, len(X_minority), n_new) if base is None else np.full(n_new, base)
        partners = (rng.integers(0, len(X_minority), n_new) if partner_any
                    else neighbours[bases, rng.integers(0, k, n_new)])
        gaps = rng.random((n_new, 1)) if gap is None else np.full((n_new, 1), gap)
        return X_minority[bases] + gaps * (X_minority[partners] - X_minority[bases])
    return smote


def test_a_smote_of_midpoints_gets_zero():
    assert_zero_with(graded("imb.smote", _smote(gap=0.5)), "every new point sits at the same place")
    assert_zero_with(graded("imb.smote", _smote(base=0)), "grow from one or two minority samples")


@pytest.mark.parametrize("entry", range(4))
def test_any_correct_smote_passes_whatever_its_draws(entry):
    """200 other random streams on every case, public and hidden: the facts a SMOTE has are always there."""
    case = ANSWERS["imb.smote"][entry]["case"]
    good = {"rows": case["n_new"], "on_neighbour_segments": True, "on_minority_segments": True,
            "copies_of_originals": False, "factors_spread": True, "many_bases": True}
    for shift in range(1, 201):
        kwargs = imbalance._minority_arguments(case)
        assert imbalance._smote_observe(_smote(seed_shift=shift)(**kwargs), kwargs) == good, (case, shift)


def test_a_stratified_split_may_round_either_way():
    def floor_split(y, test_fraction, seed):
        rng = np.random.default_rng(seed)
        return np.concatenate([rng.permutation(np.flatnonzero(y == c))[:int(test_fraction * (y == c).sum())]
                               for c in np.unique(y)])

    assert full(graded("imb.stratified_split", floor_split))


# -- issue 12: hints that explain the answer ---------------------------------------------------------------

def test_within_class_positions_are_not_told_to_sample_without_replacement():
    def positions(y, test_fraction, seed):
        rng = np.random.default_rng(seed)
        return np.sort(np.concatenate([rng.permutation((y == c).sum())[:round(test_fraction * (y == c).sum())]
                                       for c in np.unique(y)]))

    result = graded("imb.stratified_split", positions)
    assert_zero_with(result, "positions WITHIN each class")
    assert not any("without replacement" in text for text in messages(result))


def test_a_partner_outside_the_neighbours_is_not_told_about_itself():
    result = graded("imb.smote", _smote(partner_any=True))  # any minority sample, itself included
    assert result.points == 0 and any("k NEAREST" in text for text in messages(result))
    assert not any("is itself" in text for text in messages(result))


# -- issue 12: wrong shapes get a sentence, never a Python exception -----------------------------------------

def test_a_renamed_parameter_gets_a_sentence():
    assert_zero_with(graded("imb.threshold_for_recall", lambda s, y, target_recall: 0.5),
                     "keep the template's parameter names (`scores`, `y`, `target_recall`)")


ODD_ANSWERS = {
    "None": None, "a string": "relu", "a list of strings": ["a", "b"], "a dict": {"a": 1.0},
    "a generator": (i for i in range(3)), "a complex number": 1 + 2j, "a 0-d tensor": torch.tensor(0.5),
    "a ragged list": [[1.0, 2.0], [3.0]], "a tuple of tensors": (torch.zeros(3), torch.ones(2)),
    "a big array": np.zeros((7, 3, 2)), "a boolean": True, "a model": torch.nn.Linear(2, 2),
}


@pytest.mark.parametrize("exercise_id", IDS)
def test_odd_answers_get_sentences_and_no_points(exercise_id):
    """The family of 'wrong shapes': whatever a function returns, no observe or probe crashes and the
    learner reads a sentence about the answer (no exception name, traceback or memory address)."""
    exercise = REGISTRY[exercise_id]
    parameters = ", ".join(exercise.arguments(dict(exercise.cases[0])) if exercise.arguments
                           else exercise.cases[0])
    for name, odd in ODD_ANSWERS.items():
        function = eval(f"lambda {parameters}: odd", {"odd": odd})  # the template's parameter names
        result = graded(exercise_id, function)
        assert result.points < result.max_points, (exercise_id, name)
        texts = messages(result)
        assert all(texts), (exercise_id, name, texts)
        internals = [t for t in learner_texts(result) if PYTHON_INTERNALS.search(t)]
        assert not internals, (exercise_id, name, internals)


# -- issue 14: lab 07 tells the truth about L1; lab 11 no longer repeats lab 10 -------------------------------

def _markdown(lab: str) -> str:
    import nbformat

    nb = nbformat.read(ROOT / "solutions" / lab, as_version=4)
    return "\n".join(cell.source for cell in nb.cells if cell.cell_type == "markdown")


def test_lab_07_says_plain_gradient_steps_give_no_exact_zeros_and_practises_the_proximal_step():
    text = _markdown("07_regularization.ipynb")
    assert "exactly at 0" not in text and "end exactly at 0" not in text
    assert "does not make them\nexactly 0 with plain gradient steps" in text

    def l1_gradient_step(model, lam, lr):
        with torch.no_grad():
            for layer in regularization._linears(model):
                layer.weight.sub_(lr * lam * torch.sign(layer.weight))
        return model

    result = graded("reg.l1_prox", l1_gradient_step)
    assert result.points < result.max_points and any("none lands on 0" in m for m in messages(result))


def test_the_proximal_step_gives_exact_zeros():
    for entry in ANSWERS["reg.l1_prox"]:
        zeros = entry["value"]["exact_zeros"]
        t = entry["case"]["lam"] * entry["case"]["lr"]
        below = sum(int((np.abs(w) <= t).sum()) for w in regularization._weights(entry["case"]))
        assert zeros == below


def test_lab_11_no_longer_extracts_features_like_lab_10():
    assert "feat.penultimate_features" not in REGISTRY and "transfer.extract_features" in REGISTRY
    assert "knn_accuracy" in _markdown("11_features.ipynb")


def test_knn_accuracy_counting_each_sample_as_its_own_neighbour_gets_zero():
    def with_itself(features, labels, k):
        F = np.asarray(features, dtype=np.float64)
        nearest = np.argsort(((F[:, None] - F[None]) ** 2).sum(axis=2), axis=1)[:, :k]
        votes = np.asarray(labels)[nearest]
        return float(np.mean([np.bincount(v).argmax() == label for v, label in zip(votes, labels)]))

    assert_zero_with(graded("feat.knn_accuracy", with_itself), "its own nearest neighbour")


@pytest.mark.parametrize("entry", ANSWERS["feat.knn_accuracy"], ids=lambda e: case_key(e["case"]))
def test_knn_cases_have_no_ties(entry):
    """No tie in the distances at the k-th neighbour nor in the votes: any tie rule gives the reference."""
    a = features._knn_arguments(entry["case"])
    F, k = a["features"].astype(np.float64), a["k"]
    distances = ((F[:, None] - F[None]) ** 2).sum(axis=2)
    np.fill_diagonal(distances, np.inf)
    ordered = np.sort(distances, axis=1)
    assert not np.isclose(ordered[:, k - 1], ordered[:, k], rtol=1e-6).any()
    for votes in features.knn_votes(F, a["labels"], k):
        counts = np.bincount(votes)
        assert (counts == counts.max()).sum() == 1
