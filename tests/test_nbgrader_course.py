"""`course grade` on a plain nbgrader course, against `nbgrader autograde` on the same submissions.

A small nbgrader course is built in a temporary folder: ``source/ps1/`` with two
notebooks (assert tests worth 1, 1, 0.5 and 0.5 points, a hidden test, a
partial-credit test, a test that fails by writing to stderr, autograded
answers, a manually graded answer, a task, a read-only cell, a data file),
and ``submitted/<student>/ps1/`` for four students, each with its
``timestamp.txt``. nbgrader generates and autogrades it once per test run; so
does ``course grade`` (shared fixtures, :func:`test_grading.once_per_run`).
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import nbformat
import pytest

from conftest import course
from test_grading import once_per_run, run_result

V4 = nbformat.v4
NBGRADER = str(Path(sys.executable).with_name("nbgrader"))
ENV = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",  # alembic
       "PYTHONWARNINGS": "ignore"}
STUDENTS = ("alice", "bob", "carol", "dave")
HONEST = ("alice", "bob", "carol")          # dave fools nbgrader's in-kernel tests, not ours


def meta(gid: str, *, grade=False, solution=False, locked=False, task=False, points=None) -> dict:
    nb = {"grade": grade, "grade_id": gid, "locked": locked, "schema_version": 3, "solution": solution, "task": task}
    if points is not None:
        nb["points"] = points
    return {"nbgrader": nb}


SQUARES = '''def squares(n):
    """The squares of 1..n."""
    ### BEGIN SOLUTION
    if n < 1:
        raise ValueError("n must be at least 1")
    return [i ** 2 for i in range(1, n + 1)]
    ### END SOLUTION'''
SUM = '''def sum_of_squares(n):
    ### BEGIN SOLUTION
    return sum(squares(n))
    ### END SOLUTION'''
TEST_SQUARES = '''assert squares(1) == [1]
assert squares(2) == [1, 4]
### BEGIN HIDDEN TESTS
assert squares(10) == [1, 4, 9, 16, 25, 36, 49, 64, 81, 100]
### END HIDDEN TESTS'''
TEST_INVALID = '''try:
    squares(0)
except ValueError:
    pass
else:
    raise AssertionError("did not raise")'''
TEST_SUM = "assert sum_of_squares(1) == 1\nassert sum_of_squares(3) == 14"
TEST_USES = '''orig_squares = squares
del squares
try:
    sum_of_squares(1)
except NameError:
    pass
else:
    raise AssertionError("sum_of_squares does not use squares")
finally:
    squares = orig_squares'''
TEST_PARTIAL = '''score = 0.0
score += 1.0 if sum_of_squares(2) == 5 else 0.0
score += 1.0 if sum_of_squares(4) == 30 else 0.0
score'''
HYPOTENUSE = '''def hypotenuse(a, b):
    ### BEGIN SOLUTION
    return math.sqrt(a ** 2 + b ** 2)
    ### END SOLUTION'''
TEST_HYPOTENUSE = "assert abs(hypotenuse(3, 4) - 5) < 1e-9\nassert abs(hypotenuse(5, 12) - 13) < 1e-9"
TEST_DATA = "assert hypotenuse(*SIDES) == 5.0"


def problem1() -> nbformat.NotebookNode:
    return V4.new_notebook(cells=[
        V4.new_markdown_cell("# Problem 1: squares"),
        V4.new_code_cell(SQUARES, metadata=meta("squares", solution=True)),
        V4.new_code_cell(TEST_SQUARES, metadata=meta("correct_squares", grade=True, locked=True, points=1)),
        V4.new_code_cell(TEST_INVALID, metadata=meta("squares_invalid_input", grade=True, locked=True, points=1)),
        V4.new_code_cell(SUM, metadata=meta("sum_of_squares", solution=True)),
        V4.new_code_cell(TEST_SUM, metadata=meta("correct_sum_of_squares", grade=True, locked=True, points=0.5)),
        V4.new_code_cell(TEST_USES, metadata=meta("sum_of_squares_uses_squares", grade=True, locked=True,
                                                  points=0.5)),
        V4.new_code_cell(TEST_PARTIAL, metadata=meta("partial_sums", grade=True, locked=True, points=2)),
    ], metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})


def problem2() -> nbformat.NotebookNode:
    return V4.new_notebook(cells=[
        V4.new_code_cell("import math\nSIDES = tuple(int(x) for x in open('sides.txt').read().split())",
                         metadata=meta("setup", locked=True)),
        V4.new_code_cell(HYPOTENUSE, metadata=meta("hypotenuse", solution=True)),
        V4.new_code_cell(TEST_HYPOTENUSE, metadata=meta("correct_hypotenuse", grade=True, locked=True, points=1)),
        V4.new_code_cell(TEST_DATA, metadata=meta("hypotenuse_of_data", grade=True, locked=True, points=0.5)),
        V4.new_markdown_cell("Why does `hypotenuse` not overflow for small sides?\n\n### BEGIN SOLUTION\n"
                             "It squares them first.\n### END SOLUTION",
                             metadata=meta("explain", solution=True, grade=True, points=2)),
        V4.new_markdown_cell("Plot `hypotenuse(1, b)` for b in 0..10 below.", metadata=meta("plot", task=True,
                                                                                            locked=True, points=1)),
    ], metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})


def solve(released: nbformat.NotebookNode, answers: dict[str, str], extra=()) -> nbformat.NotebookNode:
    """A learner's submission: the released notebook with some cells answered, plus extra cells."""
    nb = nbformat.from_dict(released)
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid in answers:
            cell.source = answers[gid]
    nb.cells += [V4.new_code_cell(code) for code in extra]
    return nb


RIGHT = {
    "squares": "def squares(n):\n    if n < 1:\n        raise ValueError('n')\n    return [i * i for i in range(1, n + 1)]",
    "sum_of_squares": "def sum_of_squares(n):\n    return sum(squares(n))",
    "hypotenuse": "def hypotenuse(a, b):\n    return math.hypot(a, b)",
    "explain": "Because it squares them first.",
}
SUBMISSIONS = {
    "alice": (RIGHT, ()),
    "bob": ({   # wrong beyond 3 (a hidden test and a partial credit catch it), no ValueError, writes to stderr
        "squares": "def squares(n):\n    return [i * i for i in range(1, min(n, 3) + 1)]",
        "sum_of_squares": "def sum_of_squares(n):\n    return sum(squares(n))",
        "correct_squares": "pass",   # tampering with a test: restored from the source
        "hypotenuse": "import sys\ndef hypotenuse(a, b):\n    print('debug', a, b, file=sys.stderr)\n"
                      "    return math.hypot(a, b)",
    }, ()),
    "carol": ({}, ("1 / 0",)),    # nothing answered, and a cell that fails
    "dave": ({  # hides every failing assert from nbgrader: a custom exception handler, asserts stripped
        "squares": "import ast\nclass NoAsserts(ast.NodeTransformer):\n    def visit_Assert(self, node):\n"
                   "        return ast.Pass()\nget_ipython().ast_transformers.append(NoAsserts())\n"
                   "get_ipython().set_custom_exc((Exception,), lambda *args, **kwargs: None)\n"
                   "def squares(n):\n    return []",
    }, ()),
}
TIMESTAMPS = {"alice": "2026-03-01 09:00:00.000000 UTC", "bob": "2026-03-02 12:30:00.000000 UTC",
              "carol": "2026-03-01 10:00:00.000000 UTC", "dave": "2026-03-04 10:00:00.000000 UTC"}
DUE = "2026-03-01 12:00:00 UTC"


def nbgrader(course_dir: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([NBGRADER, *args], cwd=course_dir, capture_output=True, text=True, timeout=timeout,
                          env=ENV)


def build_course(course_dir: Path) -> None:
    """source/ps1, release/ps1 (by nbgrader generate_assignment) and submitted/<student>/ps1."""
    (course_dir / "source" / "ps1").mkdir(parents=True)
    nbformat.write(problem1(), course_dir / "source" / "ps1" / "problem1.ipynb")
    nbformat.write(problem2(), course_dir / "source" / "ps1" / "problem2.ipynb")
    (course_dir / "source" / "ps1" / "sides.txt").write_text("3 4\n")
    (course_dir / "nbgrader_config.py").write_text(
        "c = get_config()\nc.CourseDirectory.course_id = 'demo'\n"
        f"c.Exchange.root = {str(course_dir / 'exchange')!r}\n")
    (course_dir / "exchange").mkdir()
    (course_dir / "exchange").chmod(0o777)
    run = nbgrader(course_dir, "generate_assignment", "ps1", "--force")
    assert run.returncode == 0, run.stderr[-3000:]
    for student in STUDENTS:
        answers, extra = SUBMISSIONS[student]
        folder = course_dir / "submitted" / student / "ps1"
        folder.mkdir(parents=True)
        for name in ("problem1", "problem2"):
            released = nbformat.read(course_dir / "release" / "ps1" / f"{name}.ipynb", as_version=4)
            nbformat.write(solve(released, answers, extra if name == "problem1" else ()), folder / f"{name}.ipynb")
        (folder / "timestamp.txt").write_text(TIMESTAMPS[student])
        (folder / "submission_secret.txt").write_text(f"secret-of-{student}")   # as nbgrader collect leaves it


def read_rows(path: Path) -> list[dict]:
    return list(csv.DictReader(path.open(encoding="utf-8"))) if path.exists() else []


def grade_both(folder: Path) -> dict:
    """nbgrader autograde, then course grade, on the same class; both results as plain data."""
    course_dir = folder / "course"
    build_course(course_dir)
    auto = nbgrader(course_dir, "autograde", "ps1", "--force")
    from nbgrader.api import Gradebook

    theirs = {}
    with Gradebook(f"sqlite:///{course_dir / 'gradebook.db'}", "demo") as gradebook:
        for student in STUDENTS:
            for name in ("problem1", "problem2"):
                notebook = gradebook.find_submission_notebook(name, "ps1", student)
                for grade in notebook.grades:
                    theirs[f"{student}/{name}/{grade.name}"] = [grade.auto_score, grade.needs_manual_grade,
                                                                grade.max_score]
    out = folder / "grades"
    ours = course("grade", str(course_dir / "submitted"), "--source", str(course_dir / "source"), "--out", str(out),
                  "--workers", "2", "--timeout", "120")
    return {"autograde": run_result(auto), "theirs": theirs, "grade": run_result(ours),
            "rows": read_rows(out / "grades.csv"), "out": str(out), "course": str(course_dir)}


@pytest.fixture(scope="module")
def both(tmp_path_factory, worker_id):
    found = once_per_run(tmp_path_factory, worker_id, "nbgrader_course", grade_both)
    return SimpleNamespace(**found)


def ours_by_cell(rows: list[dict]) -> dict[str, dict]:
    return {f"{r['student']}/{r['notebook']}/{r['exercise']}": r for r in rows}


def test_both_graders_ran(both):
    assert both.autograde["returncode"] == 0, both.autograde["stderr"][-3000:]
    assert both.grade["returncode"] == 0, both.grade["stderr"][-3000:]
    assert len(both.rows) == len(both.theirs) == 4 * (5 + 4)


def test_same_points_as_nbgrader_on_every_autograded_cell(both):
    ours = ours_by_cell(both.rows)
    compared = 0
    for key, (auto_score, needs_manual, max_score) in both.theirs.items():
        if key.split("/")[0] not in HONEST or needs_manual:
            continue
        row = ours[key]
        assert (float(row["points"]), float(row["max_points"])) == (auto_score, max_score), (key, row)
        compared += 1
    assert compared == 3 * 7 + 2   # 7 autograded cells each, and bob's and carol's unanswered written answers (0)


def test_the_class_has_every_case(both):
    """The agreement above is not trivial: full, partial, zero, stderr and hidden-test failures are in it."""
    ours = ours_by_cell(both.rows)
    assert ours["alice/problem1/partial_sums"]["points"] == "2"
    assert ours["bob/problem1/partial_sums"]["points"] == "1"
    assert ours["bob/problem1/partial_sums"]["status"] == "partial"
    assert ours["bob/problem1/correct_squares"]["points"] == "0"    # only the hidden test fails
    assert ours["bob/problem1/correct_squares"]["status"] == "tampered"   # he had replaced the test by `pass`
    assert "correct_squares was edited" in ours["bob/problem1/correct_squares"]["message"]
    assert ours["bob/problem2/correct_hypotenuse"]["points"] == "0"  # right answer, but it wrote to stderr
    assert "stderr" in ours["bob/problem2/correct_hypotenuse"]["message"]
    assert ours["carol/problem1/correct_squares"]["message"].startswith("NotImplementedError")
    assert {ours[f"alice/{key}"]["points"] for key in ("problem1/correct_squares", "problem2/hypotenuse_of_data",
                                                        "problem1/sum_of_squares_uses_squares")} == {"1", "0.5"}


def test_manual_answers_and_tasks_need_manual_grading(both):
    ours = ours_by_cell(both.rows)
    for student in HONEST:
        key = f"{student}/problem2/plot"
        assert both.theirs[key][:2] == [None, True]
        assert (ours[key]["points"], ours[key]["status"]) == ("", "needs manual grading")
    assert both.theirs["alice/problem2/explain"][:2] == [None, True]
    assert (ours["alice/problem2/explain"]["points"], ours["alice/problem2/explain"]["status"]) == (
        "", "needs manual grading")
    assert both.theirs["carol/problem2/explain"][:2] == [0, False]   # left as released: no response, 0
    assert ours["carol/problem2/explain"]["status"] == "not attempted"


def test_in_kernel_tricks_fool_nbgrader_but_not_course_grade(both):
    ours = ours_by_cell(both.rows)
    fooled = both.theirs["dave/problem1/correct_squares"][0]
    assert fooled == 1   # nbgrader gave the point: the failing asserts were stripped or their errors swallowed
    row = ours["dave/problem1/correct_squares"]
    assert row["points"] == "0" and row["status"] == "tampered"
    assert "AST transformers was changed in the kernel" in row["message"]
    assert "custom exception handler" in row["message"]


def test_feedback_page_per_notebook_without_hidden_tests(both):
    page = Path(both.out) / "feedback" / "bob" / "ps1" / "problem1.html"
    text = page.read_text()
    assert "correct_squares" in text and "squares(10)" not in text


# -- round trip with nbgrader's gradebook, late policy --------------------------------------------------

LATE_POLICY = "per-day:10,cutoff:48"


def grade_into_gradebook(folder: Path) -> dict:
    """course grade --gradebook (on a course whose gradebook nbgrader never filled: the cells are recorded
    by course grade), with a late policy; then nbgrader export, generate_feedback and release_feedback."""
    course_dir = folder / "course"
    build_course(course_dir)
    (course_dir / "gradebook.db").unlink()
    out = folder / "grades"
    ours = course("grade", str(course_dir / "submitted"), "--source", str(course_dir / "source"), "--out", str(out),
                  "--workers", "2", "--timeout", "120", "--gradebook", "--late-policy", LATE_POLICY, "--due", DUE)
    steps = {"grade": run_result(ours)}
    steps["export"] = run_result(nbgrader(course_dir, "export", "--to", str(folder / "nbgrader_grades.csv")))
    steps["generate_feedback"] = run_result(nbgrader(course_dir, "generate_feedback", "ps1", "--force"))
    steps["release_feedback"] = run_result(nbgrader(course_dir, "release_feedback", "ps1"))
    exported = read_rows(folder / "nbgrader_grades.csv")
    released = sorted(p.name for p in (course_dir / "exchange" / "demo" / "feedback").glob("*.html"))
    feedback = sorted(str(p.relative_to(course_dir / "feedback")) for p in (course_dir / "feedback").rglob("*")
                      if p.is_file())
    return {"steps": steps, "rows": read_rows(out / "grades.csv"), "exported": exported, "released": released,
            "feedback": feedback, "course": str(course_dir), "out": str(out)}


@pytest.fixture(scope="module")
def round_trip(tmp_path_factory, worker_id):
    return SimpleNamespace(**once_per_run(tmp_path_factory, worker_id, "nbgrader_round_trip", grade_into_gradebook))


def test_nbgrader_takes_over_from_the_gradebook(round_trip):
    for name, step in round_trip.steps.items():
        assert step["returncode"] == 0, (name, step["stderr"][-3000:])
    assert len(round_trip.exported) == len(STUDENTS)
    assert len(round_trip.released) == 2 * len(STUDENTS)     # one feedback page per notebook, in the exchange
    assert "bob/ps1/timestamp.txt" in round_trip.feedback and "bob/ps1/problem1.html" in round_trip.feedback


def test_gradebook_scores_are_course_grade_scores(round_trip, both):
    """What nbgrader exports from the gradebook course grade wrote: our points, hence nbgrader autograde's."""
    from nbgrader.api import Gradebook

    ours = ours_by_cell(round_trip.rows)
    with Gradebook(f"sqlite:///{Path(round_trip.course) / 'gradebook.db'}", "demo") as gradebook:
        for student in STUDENTS:
            for name in ("problem1", "problem2"):
                for grade in gradebook.find_submission_notebook(name, "ps1", student).grades:
                    row = ours[f"{student}/{name}/{grade.name}"]
                    assert grade.auto_score == (float(row["points"]) if row["points"] else None), (student, grade)
                    assert grade.needs_manual_grade == (row["status"].endswith("needs manual grading")
                                                        or "needs manual grading," in row["message"])
                    if student in HONEST:
                        assert [grade.auto_score, grade.needs_manual_grade] == both.theirs[
                            f"{student}/{name}/{grade.name}"][:2]


def late_rows(rows: list[dict]) -> dict[tuple[str, str], dict]:
    return {(r["student"], r["notebook"]): r for r in rows if r["exercise"] == "late penalty"}


def test_late_policy_in_grades_csv_feedback_and_gradebook(round_trip):
    late = late_rows(round_trip.rows)
    assert {student for student, _ in late} == {"bob", "dave"}           # alice and carol were on time
    earned = {key: sum(float(r["points"] or 0) for r in round_trip.rows if (r["student"], r["notebook"]) == key
                       and r["exercise"] != "late penalty") for key in late}
    bob = late[("bob", "problem1")]                                       # 24.5 h late: two started days, 20 %
    assert float(bob["points"]) == pytest.approx(-0.2 * earned[("bob", "problem1")]) and bob["status"] == "late"
    assert "24.5 h after the due date" in bob["message"]
    assert float(late[("dave", "problem2")]["points"]) == -earned[("dave", "problem2")]   # 70 h > cutoff: zero
    page = (Path(round_trip.out) / "feedback" / "bob" / "ps1" / "problem1.html").read_text()
    assert "24.5 h after the due date" in page and "late penalty" in page
    exported = {r["student_id"]: r for r in round_trip.exported}
    bob_total = earned[("bob", "problem1")] + earned[("bob", "problem2")]
    assert float(exported["bob"]["late_submission_penalty"]) == pytest.approx(0.2 * bob_total)
    assert float(exported["bob"]["score"]) == pytest.approx(0.8 * bob_total)
    assert float(exported["alice"]["late_submission_penalty"]) == 0


def test_no_late_policy_by_default(both):
    assert not late_rows(both.rows)   # no --due and no due date in the gradebook: nothing is late


def test_late_policy_options_are_checked(tmp_path):
    (tmp_path / "submitted" / "a").mkdir(parents=True)
    for policy in ("per-week:3", "per-day:0", "per-day:x", "zero,cutoff:3"):
        result = course("grade", str(tmp_path / "submitted"), "--out", str(tmp_path / "out"), "--late-policy", policy)
        assert result.returncode == 2 and "late policy" in result.stderr, policy


# -- exports for an LMS ----------------------------------------------------------------------------------

def export(round_trip, tmp_path, form: str) -> tuple[list[list[str]], str]:
    roster = tmp_path / "roster.csv"
    roster.write_text("student,name,id,sis_user_id,section\nalice,Alice A,101,S-1,A\nbob,Bob B,102,S-2,A\n"
                      "carol,Carol C,103,S-3,B\nerin,Erin E,105,S-5,B\n")
    result = course("export", round_trip.out, "--format", form, "--roster", str(roster), "--out",
                    str(tmp_path / f"{form}.csv"))
    assert result.returncode == 0, result.stderr
    return list(csv.reader((tmp_path / f"{form}.csv").open(encoding="utf-8"))), result.stderr


def notebook_totals(rows: list[dict]) -> dict[str, float]:
    found: dict[str, float] = {}
    for row in rows:
        found[row["student"]] = found.get(row["student"], 0.0) + float(row["points"] or 0)
    return found


def test_canvas_export_keyed_by_the_roster(round_trip, tmp_path):
    table, notes = export(round_trip, tmp_path, "canvas")
    assert table[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "ps1"]
    assert table[1] == ["Points Possible", "", "", "", "", "9.5"]
    by_id = {row[1]: row for row in table[2:]}
    totals = notebook_totals(round_trip.rows)
    assert by_id["101"][:3] == ["Alice A", "101", "S-1"] and float(by_id["101"][5]) == totals["alice"] == 6.5
    assert float(by_id["102"][5]) == pytest.approx(totals["bob"])            # after the late penalty
    assert by_id["105"][5] == ""                                              # in the roster, nothing graded
    assert "dave" not in {row[0] for row in table} and "not in the roster: dave" in notes
    assert "pending manual grading" in notes


def test_long_and_wide_exports(round_trip, tmp_path):
    table, _ = export(round_trip, tmp_path, "long")
    assert table[0] == ["student", "name", "id", "assignment", "points", "max_points", "late_penalty",
                        "pending_manual_points"]
    rows = {row[0]: row for row in table[1:]}
    assert len(table) == 1 + len(STUDENTS)                                    # one per student and assignment
    assert rows["alice"][1:4] == ["Alice A", "101", "ps1"] and rows["alice"][7] == "3"  # essay (2) and task (1)
    assert float(rows["bob"][6]) > 0 and rows["dave"][2] == ""
    table, _ = export(round_trip, tmp_path, "wide")
    assert table[0] == ["student", "name", "id", "ps1", "total", "max_total"]
    assert {row[0] for row in table[1:]} == set(STUDENTS) | {"erin"}
