"""Every lab: references get full marks, untouched exercises get 0, known-wrong code gets its hint."""

import copy
import json

import nbformat
import pytest

from conftest import EXERCISES, ROOT, SOLUTIONS, check_json
from course_utils.checks.answers import read_records
from course_utils.checks.engine import PASSED, attempt, case_key, grade
from course_utils.checks.registry import EXERCISES as REGISTRY
from course_utils.grading.lab import grade_records, lab_exercises
from wrong_answers import WRONG


def reference_answers() -> dict[str, list[dict]]:
    """{exercise id: [answer entries]} from the instructor's answer files (public and hidden cases)."""
    merged = {}
    for path in (ROOT / "solutions" / "answers").glob("*.json"):
        for exercise, entries in json.loads(path.read_text())["exercises"].items():
            merged[exercise] = entries
    return merged


ANSWERS = reference_answers()


@pytest.mark.parametrize("notebook", SOLUTIONS, ids=lambda p: p.stem)
def test_reference_solution_gets_full_marks(notebook):
    report = check_json(notebook)
    assert report, "a lab checks at least one exercise"
    for row in report:
        assert {"exercise", "points", "max_points", "status", "message", "cases"} <= set(row)
        assert row["status"] == "passed" and row["points"] == row["max_points"] > 0, row


@pytest.mark.parametrize("notebook", EXERCISES, ids=lambda p: p.stem)
def test_untouched_exercise_gets_zero_without_crashing(notebook):
    report = check_json(notebook)
    assert report
    for row in report:
        assert row["points"] == 0 and row["status"] == "not attempted", row


@pytest.mark.parametrize("exercise_id", sorted(REGISTRY))
def test_known_wrong_implementations_get_their_hint(exercise_id):
    exercise = REGISTRY[exercise_id]
    entries = ANSWERS[exercise_id]
    answers = {case_key(entry["case"]): entry["value"] for entry in entries}
    assert any(entry["hidden"] for entry in entries), f"{exercise_id} has no hidden cases"
    for wrong, hint in WRONG[exercise_id]:
        attempts = [(e["case"], e["hidden"], attempt(exercise, wrong, e["case"])) for e in entries]
        result = grade(exercise, attempts, answers)
        assert result.points < result.max_points, f"{exercise_id}: a wrong implementation got full marks"
        # the hint must recognise the mistake wherever it shows; a hidden case would only say HIDDEN_WRONG,
        # so every case is judged here as a public one (some mistakes show on hidden cases only)
        shown = grade(exercise, [(case, False, outcome) for case, _, outcome in attempts], answers)
        messages = [case.message for case in shown.cases if case.status != PASSED]
        assert any(hint in message for message in messages), f"{exercise_id}: no {hint!r} in {messages}"


@pytest.mark.parametrize("exercise_id", sorted(REGISTRY))
def test_every_hint_rule_is_reached_by_a_known_mistake(exercise_id):
    covered = " ".join(hint for _, hint in WRONG.get(exercise_id, []))
    for rule in REGISTRY[exercise_id].hints:
        assert any(hint in rule.says for _, hint in WRONG.get(exercise_id, [])), \
            f"{exercise_id}: no known-wrong implementation in tests/wrong_answers.py reaches {rule.says!r}"
    assert covered, f"{exercise_id} has no known-wrong implementation"


@pytest.mark.parametrize("notebook", SOLUTIONS, ids=lambda p: p.stem)
def test_test_cells_are_worth_their_exercise_points(notebook):
    nb = nbformat.read(notebook, as_version=4)
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade"):
            (exercise_id, _), = lab_exercises(nbformat.v4.new_notebook(cells=[cell]))
            assert meta["points"] == REGISTRY[exercise_id].points
            assert meta["locked"] and not meta["solution"]


def test_every_exercise_belongs_to_exactly_one_lab():
    seen = {}
    for notebook in SOLUTIONS:
        for exercise_id, _ in lab_exercises(nbformat.read(notebook, as_version=4)):
            assert exercise_id not in seen, f"{exercise_id} is in {seen.get(exercise_id)} and {notebook.name}"
            seen[exercise_id] = notebook.name
    assert set(seen) == set(REGISTRY)


def test_grading_compares_records_outside_the_kernel(tmp_path):
    """The grading hook: a record file of answers is judged here, against the reference answers."""
    records = [{"exercise": "init.he_std", "case": e["case"], "hidden": e["hidden"], "status": "ok",
                "value": e["value"]} for e in ANSWERS["init.he_std"]]
    answers = {"init.he_std": {case_key(e["case"]): e["value"] for e in ANSWERS["init.he_std"]}}
    (result,) = grade_records([("init.he_std", 0)], records, answers, {})
    assert result.status == PASSED and result.hidden_run
    tampered = [dict(r, value=0.0) if r["hidden"] else r for r in records]
    (result,) = grade_records([("init.he_std", 0)], tampered, answers, {})
    assert result.status == "partial" and 0 < result.points < result.max_points
    (result,) = grade_records([("init.he_std", 3)], [], answers, {3: "NameError: name 'he_std' is not defined"})
    assert result.status == "error" and result.message == "NameError: name 'he_std' is not defined"
    assert read_records(tmp_path / "missing.jsonl") == []


LEARNER_IDS = ("ada", "bao", "chidi", "dana", "émile")   # five learners, one with a non-ASCII id


@pytest.mark.parametrize("notebook", SOLUTIONS, ids=lambda p: p.stem)
def test_reference_solution_gets_full_marks_on_every_learners_variant(notebook):
    """The solution runs on five learners' variants (one run, as the grader does it) and every answer it
    gives is judged right: for decision exercises the comparator computes what the evidence supports by
    itself, so this is the reference's decision meeting an independent judge on new data."""
    from course_utils.checks.engine import Attempt, judge
    from course_utils.grading.grade import load_lab
    from course_utils.grading.markup import remove_hidden_tests
    from course_utils.grading.variants import class_variants, varying

    lab = load_lab(notebook, log=lambda message: None)
    varied = varying(lab.exercises)
    if not varied:
        pytest.skip(f"{notebook.stem} has no exercise that varies per learner")
    # the public cases of five variants (the hidden ones vary the same way; the class test grades them)
    public_only = copy.deepcopy(lab.source)
    for cell in public_only.cells:
        cell.source = remove_hidden_tests(cell.source) if cell.cell_type == "code" else cell.source
    public = {ex: [(case, hidden) for case, hidden in cases if not hidden] for ex, cases in lab.expected.items()}
    variants = class_variants(public_only, public, LEARNER_IDS, cwd=notebook.parent, name=str(notebook),
                              timeout=600, cache=None)
    for exercise_id in varied:
        exercise = REGISTRY[exercise_id]
        seen = set()
        for learner in LEARNER_IDS:
            for case, hidden in variants.cases[learner][exercise_id]:
                want = variants.answers[exercise_id][case_key(case)]
                verdict = judge(exercise, case, Attempt("ok", want), want, hidden=hidden)
                assert verdict.status == PASSED, (exercise_id, learner, case, verdict.message)
                seen.add(case_key(case))
        assert len(seen) > len(public[exercise_id]), f"{exercise_id}: the learners' cases are all the same"
