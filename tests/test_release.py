"""solutions/ -> exercises/: the round trip, and a release that never destroys a learner's work."""

import json
import shutil

import nbformat
import pytest

from conftest import ROOT, SOLUTIONS, course
from course_utils.grading.markup import (CODE_STUB, MarkupError, exercise_notebook, remove_hidden_tests,
                                         replace_solutions)
from course_utils.notebooks import cells_digest, notebook_text, read_notebook
from course_utils.release import ReleaseError, edited_by_someone


def test_solution_regions_become_the_nbgrader_stub_at_their_indentation():
    source = "def f(x):\n    ### BEGIN SOLUTION\n    y = 2 * x\n    return y\n    ### END SOLUTION\nprint(1)"
    assert replace_solutions(source) == "def f(x):\n    # YOUR CODE HERE\n    raise NotImplementedError()\nprint(1)"


def test_hidden_tests_are_removed_markers_included():
    source = "### BEGIN HIDDEN TESTS\nadd_hidden_cases('a', [])\n### END HIDDEN TESTS\ncheck('a', f)"
    assert remove_hidden_tests(source) == "check('a', f)"


@pytest.mark.parametrize("source", ["### BEGIN SOLUTION\nx = 1", "x = 1\n### END SOLUTION",
                                    "### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION"])
def test_unbalanced_solution_markers_are_refused(source):
    with pytest.raises(MarkupError):
        replace_solutions(source)


def test_release_names_the_lab_whose_markers_are_unbalanced(tmp_path):
    from course_utils.release import build_lab

    (tmp_path / "solutions").mkdir()
    broken = tmp_path / "solutions" / SOLUTIONS[0].name
    broken.write_text(SOLUTIONS[0].read_text().replace("### END SOLUTION", "", 1))
    with pytest.raises(ReleaseError, match=f"solutions/{SOLUTIONS[0].name}: .*never closed"):
        build_lab(broken, tmp_path)


@pytest.mark.parametrize("solution", SOLUTIONS, ids=lambda p: p.stem)
def test_exercise_notebook_is_the_release_of_its_solution(solution):
    nb = read_notebook(solution)
    learner = exercise_notebook(nb, f"solutions/{solution.name}")
    committed = ROOT / "exercises" / solution.name
    assert committed.read_text() == notebook_text(learner), "run `course release`"
    for original, released in zip(nb.cells, learner.cells):
        meta = original.metadata.get("nbgrader", {})
        assert released.metadata.get("nbgrader") == meta or (not meta and "nbgrader" not in released.metadata)
        assert "BEGIN SOLUTION" not in released.source and "HIDDEN TESTS" not in released.source
        assert "add_hidden_cases" not in released.source
        if meta.get("solution"):
            assert all(line in released.source for line in CODE_STUB)
        elif not meta.get("grade"):
            assert released.source == original.source
        if released.cell_type == "code":
            assert released.outputs == [] and released.execution_count is None
    assert learner.metadata["course"]["cells_sha256"] == cells_digest(learner)


def test_release_refuses_to_overwrite_an_edited_exercise(tmp_path):
    project = tmp_path / "course"
    for folder in ("solutions", "exercises", "notebooks"):
        (project / folder).mkdir(parents=True)
    shutil.copy(SOLUTIONS[0], project / "solutions")
    shutil.copy(ROOT / "exercises" / SOLUTIONS[0].name, project / "exercises")
    target = project / "exercises" / SOLUTIONS[0].name
    assert not edited_by_someone(target)
    nb = nbformat.read(target, as_version=4)
    solution_cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution"))
    solution_cell.source = solution_cell.source.replace("raise NotImplementedError()", "return 42  # my work")
    nbformat.write(nb, target)
    assert edited_by_someone(target)
    (project / "solutions" / SOLUTIONS[0].name).write_text(
        (project / "solutions" / SOLUTIONS[0].name).read_text().replace("Warm-up", "Warm up"))
    result = course("release", "--timeout", "300", env_root=project)
    assert result.returncode == 1
    assert "has been edited since it was generated; left untouched" in result.stdout
    assert "return 42  # my work" in target.read_text()
    assert (project / "solutions" / "answers" / f"{SOLUTIONS[0].stem}.json").exists()
    forced = course("release", "--force", "--timeout", "300", env_root=project)
    assert forced.returncode == 0, forced.stdout + forced.stderr
    assert "return 42" not in target.read_text() and "Warm up" in target.read_text()


def test_release_check_is_clean():
    result = course("release", "--check")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "up to date" in result.stdout


def test_answers_recorded_under_other_exercise_definitions_are_stale(monkeypatch):
    """Answers depend on the exercises' definitions too (cases, observe, comparators), not only on the
    solution: edit a topic module without `course release` and the answer files' fingerprint no longer
    matches, so `course release --check` reports them and the grader recomputes them, saying why,
    instead of comparing learners with answers of another exercise."""
    from course_utils.grading import grade, runner

    solution = ROOT / "solutions" / "00_warmup.ipynb"
    recorded = json.loads((ROOT / "solutions" / "answers" / "00_warmup.json").read_text())["source_sha256"]
    assert recorded == runner.answers_fingerprint(read_notebook(solution)), "run `course release`"
    monkeypatch.setattr(runner, "definitions_digest", lambda exercise_ids: "start.py with another case")
    assert runner.answers_fingerprint(read_notebook(solution)) != recorded
    logged = []
    lab = grade.load_lab(solution, timeout=300, log=logged.append)
    assert lab.recomputed and len(logged) == 1
    assert "00_warmup.json is stale" in logged[0] and "exercises' definitions" in logged[0]
