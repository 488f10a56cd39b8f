"""Lesson and lab 12, the bug clinic: the catalogue, the generator of broken runs, the preflight, the checks.

The reference preflight (course_utils.preflight) must name the bug of every kind on five seeds each,
find nothing on healthy runs, and find nothing once the kind's fix is applied; runs are reproducible
and never name their bug.
"""

import numpy as np
import pytest
import torch

from course_utils import clinic, preflight
from course_utils.checks.clinic import CONFUSIONS, EXERCISES
from course_utils.checks.engine import PASSED, attempt, case_key, grade, vary
from course_utils.checks.registry import EXERCISES as REGISTRY

SEEDS = range(5)


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_the_catalogue_has_at_least_twenty_kinds_each_with_a_fix_and_its_evidence():
    assert len(clinic.KINDS) >= 20
    for name, kind in clinic.KINDS.items():
        assert kind.name == name and kind.fix in clinic.FIXES and kind.evidence and kind.what
        assert set(kind.tasks) <= set(clinic.TASKS)
    assert set(clinic.DECOYS) <= set(clinic.FIXES)
    assert {clinic.kind_of(seed) for seed in range(400)} == set(clinic.KINDS)  # every kind can be drawn


@pytest.mark.parametrize("kind", clinic.KIND_NAMES)
def test_the_kinds_fix_repairs_the_configuration_and_no_decoy_does(kind):
    for seed in SEEDS:
        assert clinic.repaired(seed, kind, clinic.KINDS[kind].fix)
        assert not any(clinic.repaired(seed, kind, decoy) for decoy in clinic.DECOYS)
    others = [fix for fix in clinic.FIXES if fix != clinic.KINDS[kind].fix]
    assert not any(clinic.repaired(0, kind, fix) for fix in others if fix not in clinic.fixes_for(kind))


@pytest.mark.parametrize("kind", clinic.KIND_NAMES)
def test_the_reference_preflight_names_every_kind_on_five_seeds(kind):
    found = [preflight.diagnose(preflight.preflight(clinic.broken_run(seed, kind))) for seed in SEEDS]
    assert found == [kind] * len(SEEDS), found


@pytest.mark.parametrize("task", clinic.TASKS)
def test_the_preflight_finds_nothing_on_healthy_runs(task):
    for seed in range(3):
        assert preflight.diagnose(preflight.preflight(clinic.healthy_run(seed, task))) == "none found"


@pytest.mark.parametrize("kind", ["lr_too_high", "label_noise", "detached_pinn_derivative", "wrong_class_order"])
def test_retraining_with_the_fix_gives_a_clean_run_that_does_better(kind):
    seed = next(s for s in range(200) if clinic.KINDS[kind].tasks[-1] == clinic._config(s, kind)[0].task)
    broken = clinic.broken_run(seed, kind)
    fixed = broken.retrain(clinic.KINDS[kind].fix)
    assert preflight.diagnose(preflight.preflight(fixed)) == "none found"
    if fixed.classes:
        assert fixed.evaluate(fixed.model, "test") > broken.evaluate(broken.model, "test") + 0.05
    else:
        assert fixed.history["val_metric"][-1] < broken.history["val_metric"][-1] / 2


def test_a_decoy_leaves_the_bug_in_place_or_hides_it():
    broken = clinic.broken_run(0, "missing_zero_grad")
    assert preflight.diagnose(preflight.preflight(broken.retrain("train for more epochs"))) == "missing_zero_grad"
    # clipping does not repair it, it hides it: the clipped gradients no longer double
    clipped = broken.retrain("clip the gradients")
    assert not clinic.repaired(0, "missing_zero_grad", "clip the gradients")
    assert preflight.gradient_accumulates(clipped) < 1.5
    with pytest.raises(ValueError, match="unknown fix"):
        broken.retrain("reboot")


def test_runs_are_reproducible_and_seeds_differ():
    a, b = clinic.broken_run(5), clinic.broken_run(5)
    assert a.log == b.log and a.history == b.history and a.monitors == b.monitors
    assert all(torch.equal(x, y) for (x, _), (y, _) in zip(a.batches, b.batches))
    assert clinic.broken_run(6).history != a.history
    assert clinic.broken_run(0, "label_noise").history != clinic.broken_run(1, "label_noise").history


@pytest.mark.parametrize("kind", clinic.KIND_NAMES)
def test_a_run_never_names_its_bug(kind):
    run = clinic.broken_run(0, kind)
    shown = " ".join(run.log) + repr(run) + " ".join(run.history) + " ".join(run.monitors)
    assert kind not in shown and kind.replace("_", " ") not in shown


def test_an_unknown_kind_is_a_sentence():
    with pytest.raises(ValueError, match="unknown bug kind"):
        clinic.broken_run(0, "gremlins")


# -- the checks of lab 12 -------------------------------------------------------------------------------------

def test_the_exercises_are_registered_and_vary_per_learner():
    ids = {exercise.id for exercise in EXERCISES}
    assert ids == {"clinic.leak_scan", "clinic.dead_share", "clinic.diagnose"} and ids <= set(REGISTRY)
    assert all(exercise.varies == ("seed",) for exercise in EXERCISES)


def _solution() -> dict:
    """The reference solution of lab 12: its setup and solution cells, run in one namespace."""
    import nbformat

    from conftest import ROOT

    namespace: dict = {}
    for cell in nbformat.read(ROOT / "solutions" / "12_bug_clinic.ipynb", as_version=4).cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "code" and (meta.get("solution") or meta.get("grade_id") == "setup"):
            exec(compile(cell.source, "12_bug_clinic", "exec"), namespace)
    return namespace


@pytest.mark.parametrize("exercise_id", ["clinic.diagnose", "clinic.leak_scan", "clinic.dead_share"])
def test_five_learner_variants_differ_and_the_reference_and_an_alternative_get_full_marks_on_each(exercise_id):
    from alternatives.clinic import RIGHT

    exercise = REGISTRY[exercise_id]
    reference = _solution()[exercise_id.split(".")[1]]
    seeds = set()
    for learner in ("ada", "bob", "cy", "dee", "eve"):
        case = vary(exercise, exercise.cases[0], learner)
        seeds.add(case["seed"])
        want = attempt(exercise, reference, case)
        assert want.status == "ok", want.error
        for function in (reference, RIGHT[exercise_id][0]):
            graded = grade(exercise, [(case, False, attempt(exercise, function, case))], {case_key(case): want.value})
            assert graded.status == PASSED, (learner, function.__name__, graded.cases[0].message)
    assert len(seeds) == 5
    if exercise_id == "clinic.diagnose":
        assert len({clinic.kind_of(seed) for seed in seeds}) >= 3  # different bugs, not only other data


def test_a_wrong_diagnosis_names_the_evidence_it_missed_and_a_wrong_fix_costs_its_share():
    exercise = REGISTRY["clinic.diagnose"]
    case = {"seed": 51}  # leaked normalization statistics
    wrong = attempt(exercise, lambda run: {"diagnosis": "label_noise", "fix": clinic.FIX_RELABEL}, case)
    result = grade(exercise, [(case, False, wrong)], {case_key(case): wrong.value})
    assert result.points == 0 and clinic.KINDS["leaked_normalization"].evidence in result.cases[0].message
    half = attempt(exercise, lambda run: {"diagnosis": "leaked_normalization", "fix": clinic.FIX_STANDARDIZE}, case)
    result = grade(exercise, [(case, False, half)], {case_key(case): half.value})
    assert result.points == exercise.points / 2 and "the fix" in result.cases[0].message


def test_answers_that_are_not_kinds_or_fixes_get_a_sentence():
    exercise = REGISTRY["clinic.diagnose"]
    for answer, says in (({"diagnosis": "gremlins", "fix": clinic.FIX_LOWER_LR}, "not one of the bug kinds"),
                         ({"diagnosis": "lr_too_high", "fix": "pray"}, "not one of clinic.FIXES"),
                         ("lr_too_high", "expected a dict")):
        result = attempt(exercise, lambda run, answer=answer: answer, {"seed": 9})
        assert result.status == "rejected" and says in result.error


def test_the_reference_preflight_is_forbidden_in_the_diagnosis():
    exercise = REGISTRY["clinic.diagnose"]

    def lazy(run):
        return preflight.diagnose(preflight.preflight(run))

    assert attempt(exercise, lazy, {"seed": 9}).status == "rejected"


@pytest.mark.parametrize("pair", list(CONFUSIONS), ids=lambda pair: "-".join(sorted(pair)))
def test_each_confusion_hint_fires_on_its_pair_only(pair):
    exercise = REGISTRY["clinic.diagnose"]
    hint = next(h for h in exercise.hints if h.says == CONFUSIONS[pair])
    said, truth = sorted(pair)
    seed = next(s for s in range(400) if clinic.kind_of(s) == truth)
    assert hint.matches({"diagnosis": said, "fix": clinic.FIX_LOWER_LR}, None, {"seed": seed})
    other = next(k for k in clinic.KIND_NAMES if k not in pair)
    assert not hint.matches({"diagnosis": other, "fix": clinic.FIX_LOWER_LR}, None, {"seed": seed})
    assert not hint.matches({"diagnosis": truth, "fix": clinic.FIX_LOWER_LR}, None, {"seed": seed})


def test_the_probes_read_what_they_should():
    duplicates = preflight.leak_scan(clinic.broken_run(1, "train_test_duplicates"))
    assert duplicates["test"] == pytest.approx(0.3) and duplicates["val"] == 0 and duplicates["train"] == 0
    blank = preflight.leak_scan(clinic.broken_run(1, "blank_samples"))
    assert blank["train"] == pytest.approx((150 - 1) / 600)
    assert preflight.dead_relus(clinic.broken_run(1, "dead_relus_bad_init")) > 0.9
    assert preflight.gradient_accumulates(clinic.broken_run(1, "missing_zero_grad")) == pytest.approx(2, rel=0.05)
    assert preflight.gradient_accumulates(clinic.healthy_run(1)) == pytest.approx(1, rel=1e-6)
    flow = preflight.gradient_flow(clinic.broken_run(1, "detached_pinn_derivative"))
    assert flow["residual"] == 0 and flow["initial"] > 0
    labels = np.asarray(clinic.broken_run(1, "label_noise").split("train")[1])
    assert len(labels) == 600
