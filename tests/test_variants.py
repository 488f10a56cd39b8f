"""A variant per learner in the grader: copies named, honest mistakes never called copies; a class graded
on its own learners' variants (issue 15)."""

from course_utils.checks.engine import OK, Attempt, Exercise, case_key, vary
from course_utils.grading.variants import Variants, copied, learner_cases

EXERCISE = Exercise("demo.mean", "Mean of your data", 1, cases=({"seed": 0},), varies=("seed",))
LEARNERS = ("ada", "bob", "cy", "dee")


def variants(values: dict[str, object]) -> Variants:
    """Every learner's variant of EXERCISE's case, with ``values[learner]`` as its reference answer."""
    result = Variants()
    for learner in LEARNERS:
        case = vary(EXERCISE, EXERCISE.cases[0], learner)
        result.cases[learner] = {EXERCISE.id: [(case, False)]}
        result.answers.setdefault(EXERCISE.id, {})[case_key(case)] = values[learner]
    return result


def test_an_answer_that_is_one_other_learners_reference_is_a_copy():
    class_ = variants({"ada": 0.4871, "bob": 0.5213, "cy": 0.4990, "dee": 0.5102})
    assert copied(EXERCISE, Attempt(OK, 0.4871), 0, "bob", class_)
    assert copied(EXERCISE, Attempt(OK, 0.4871 + 1e-13), 0, "bob", class_)      # float noise
    assert not copied(EXERCISE, Attempt(OK, 0.4872), 0, "bob", class_)          # a wrong answer of its own
    assert not copied(EXERCISE, Attempt(OK, 0.5213), 0, "bob", class_)          # its own reference
    assert not copied(EXERCISE, Attempt("error", error="x"), 0, "bob", class_)


def test_a_value_that_several_variants_share_is_never_called_a_copy():
    # a choice out of a short list: the reference of two other learners; an honest mistake looks the same,
    # and in a class whose references repeat, no value of that list is called a copy
    class_ = variants({"ada": 0.01, "bob": 0.1, "cy": 0.01, "dee": 0.001})
    assert not copied(EXERCISE, Attempt(OK, 0.01), 0, "bob", class_)
    assert not copied(EXERCISE, Attempt(OK, 0.001), 0, "bob", class_)


DECISION = Exercise("demo.choose", "Choose", 2, cases=({"seed": 0},), varies=("seed",),
                    parts=("decision", "protocol"))


def test_a_copied_decision_is_named_whatever_the_protocol():
    decisions = {"ada": 0.0123, "bob": 0.0456, "cy": 0.0789, "dee": 0.0314}
    class_ = Variants()
    for learner in LEARNERS:
        case = vary(DECISION, DECISION.cases[0], learner)
        class_.cases[learner] = {DECISION.id: [(case, False)]}
        class_.answers.setdefault(DECISION.id, {})[case_key(case)] = {"decision": decisions[learner],
                                                                      "protocol": "followed"}
    no_report = "reported no test score: open the test set once, for your final choice"
    assert copied(DECISION, Attempt(OK, {"decision": 0.0123, "protocol": no_report}), 0, "bob", class_)
    assert not copied(DECISION, Attempt(OK, {"decision": 0.0456, "protocol": no_report}), 0, "bob", class_)
    assert not copied(DECISION, Attempt(OK, {"decision": 0.05, "protocol": "followed"}), 0, "bob", class_)


def test_a_forged_value_is_not_a_copy_and_does_not_crash():
    class_ = variants({"ada": 1.0, "bob": 2.0, "cy": 3.0, "dee": 4.0})
    assert not copied(EXERCISE, Attempt(OK, {"__ndarray__": "forged"}), 0, "bob", class_)


def test_each_learner_gets_their_own_cases_and_exercises_that_do_not_vary_keep_theirs():
    fixed = Exercise("start.accuracy", "fixed", 1, cases=({"seed": 0},))
    expected = {EXERCISE.id: [({"seed": 0}, False), ({"seed": 1}, True)], "start.accuracy": [({"n": 3}, False)]}
    registry = {EXERCISE.id: EXERCISE, fixed.id: fixed}
    ada, bob = learner_cases(expected, "ada", registry), learner_cases(expected, "bob", registry)
    assert ada["start.accuracy"] == expected["start.accuracy"] == bob["start.accuracy"]
    assert [hidden for _, hidden in ada[EXERCISE.id]] == [False, True]        # hidden cases vary too
    seeds = {case["seed"] for variant in (ada, bob) for case, _ in variant[EXERCISE.id]}
    assert len(seeds) == 4 and ada == learner_cases(expected, "ada", registry)


# -- a class graded on its own learners' variants ---------------------------------------------------------

import csv
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from conftest import ROOT
from course_utils.checks.registry import EXERCISES as REGISTRY
from course_utils.grading.grade import load_lab
from course_utils.grading.variants import COPIED, class_variants, varying
from test_grading import solved

POOL = ("ada", "bao", "chidi", "dana", "emile", "fatou", "gus", "hana")


def decision_lab():
    """The first lab (in course order) with a decision exercise that varies per learner."""
    for path in sorted((ROOT / "solutions").glob("*.ipynb")):
        lab = load_lab(path, log=lambda message: None)
        for exercise_id in varying(lab.exercises):
            if "decision" in REGISTRY[exercise_id].parts:
                return path, lab, exercise_id
    pytest.skip("no lab has a decision exercise that varies per learner")





def hard_coded(nb, exercise_id: str, value) -> nbformat.NotebookNode:
    """The notebook with the function checked by ``exercise_id`` replaced by one returning ``value``."""
    test_index = next(i for i, c in enumerate(nb.cells) if f'check("{exercise_id}"' in c.source)
    name = nb.cells[test_index].source.split(f'check("{exercise_id}",', 1)[1].split(")")[0].strip()
    for cell in reversed(nb.cells[:test_index]):
        if f"def {name}(" in cell.source and cell.metadata.get("nbgrader", {}).get("solution"):
            cell.source = f"def {name}(*args, **kwargs):\n    return {value!r}\n"
            return nb
    raise AssertionError(f"no solution cell defines {name}")


@pytest.mark.xdist_group("variants")
def test_a_class_is_graded_on_each_learners_own_variant_and_a_copy_is_named(tmp_path):
    path, lab, exercise_id = decision_lab()
    cache = tmp_path / "cache"
    variants = class_variants(lab.source, lab.expected, POOL, cwd=path.parent, name=str(path), timeout=600,
                              cache=cache / "course" / "variants")
    first = lambda learner: variants.answers[exercise_id][case_key(variants.cases[learner][exercise_id][0][0])][
        "decision"]
    # three learners whose first cases call for three different decisions (the copy must be unambiguous)
    chosen = []
    for learner in POOL:
        if all(repr(first(learner)) != repr(first(other)) for other in chosen):
            chosen.append(learner)
    assert len(chosen) >= 3, f"{exercise_id}: the variants of {POOL} call for fewer than 3 different decisions"
    author, honest, copier = chosen[:3]

    submitted = tmp_path / "submitted"
    for learner in (author, honest):
        (submitted / learner).mkdir(parents=True)
        nbformat.write(solved(path), submitted / learner / path.name)
    (submitted / copier).mkdir(parents=True)
    nbformat.write(hard_coded(solved(path), exercise_id, first(author)), submitted / copier / path.name)
    source = tmp_path / "source"
    source.mkdir()
    os.symlink(path, source / path.name)
    (source / "answers").mkdir()
    os.symlink(path.parent / "answers" / f"{path.stem}.json", source / "answers" / f"{path.stem}.json")

    env = {**os.environ, "XDG_CACHE_HOME": str(cache), "PYTHONWARNINGS": "ignore"}
    command = [str(Path(sys.executable).with_name("course")), "grade", str(submitted), "--source", str(source),
               "--out", str(tmp_path / "out"), "--timeout", "120"]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=1200, env=env)
    assert result.returncode == 0, result.stderr
    rows = {(r["student"], r["exercise"]): r for r in csv.DictReader(open(tmp_path / "out" / "grades.csv"))}
    for learner in (author, honest):
        mine = [r for (student, _), r in rows.items() if student == learner]
        assert mine and all(r["status"] == "passed" for r in mine), mine
    copy = rows[(copier, exercise_id)]
    assert float(copy["points"]) < float(copy["max_points"]) and COPIED in copy["message"], copy
    # each learner's feedback shows the cases of their own variant
    pages = {learner: next((tmp_path / "out" / "feedback" / learner).rglob("*.html")).read_text()
             for learner in (author, honest)}
    for learner, page in pages.items():
        public = variants.cases[learner][exercise_id][0][0]
        assert f"seed={public['seed']}" in page
    assert variants.cases[author][exercise_id][0][0] != variants.cases[honest][exercise_id][0][0]
