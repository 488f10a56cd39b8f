"""`course grade` against a hostile class: every kind of tampering and breakage, graded right.

One class of submissions is graded once (module fixture); each test reads its
rows. Nothing a submission does may earn a point it did not deserve, stop the
grader, touch another submission's rows, or change a file under submitted/.
"""

import csv
import fcntl
import hashlib
import json
import shutil
import subprocess
from pathlib import Path
from types import SimpleNamespace

import nbformat
import pytest

from conftest import ROOT, course, lab_totals
from course_utils.grading.sandbox import sandbox_problem
from course_utils.grading.markup import BEGIN_SOLUTION, END_SOLUTION, exercise_notebook, lab_exercises

WARMUP = ROOT / "solutions" / "00_warmup.ipynb"
INIT = ROOT / "solutions" / "03_initialization.ipynb"
WARMUP_POINTS = lab_totals(WARMUP)[0]
WARMUP_EXERCISES = [exercise for exercise, _ in lab_exercises(nbformat.read(WARMUP, as_version=4))]
TIMEOUT = 60  # per notebook: generous for a loaded 2-core machine (an endless cell costs this much)


def released(source: Path) -> nbformat.NotebookNode:
    return exercise_notebook(nbformat.read(source, as_version=4), "solutions")


def solved(source: Path) -> nbformat.NotebookNode:
    """What a learner who solved everything submits: the released lab with the reference code filled in."""
    nb = released(source)
    reference = {c.metadata["nbgrader"]["grade_id"]: c.source for c in nbformat.read(source, as_version=4).cells
                 if c.metadata.get("nbgrader", {}).get("solution")}
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid in reference:
            cell.source = "\n".join(line for line in reference[gid].split("\n")
                                    if line.strip() not in (BEGIN_SOLUTION, END_SOLUTION))
    return nb


def with_solution(nb, grade_id: str, code: str):
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == grade_id:
            cell.source = code
    return nb


def cell(nb, grade_id: str):
    return next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)


WRONG_ACCURACY = "def accuracy(y_true, y_pred):\n    return 100 * sum(t == p for t, p in zip(y_true, y_pred)) / len(y_true)"


def build_class(folder: Path) -> None:
    """submitted/<student>/00_warmup/00_warmup.ipynb, one student per kind of trouble."""

    def put(student, nb_or_text, name="00_warmup.ipynb", assignment="00_warmup"):
        path = folder / student / assignment / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(nb_or_text, (str, bytes)):
            path.write_bytes(nb_or_text if isinstance(nb_or_text, bytes) else nb_or_text.encode())
        else:
            nbformat.write(nb_or_text, path)

    put("perfect", solved(WARMUP))
    put("untouched", released(WARMUP))
    put("wrong", with_solution(released(WARMUP), "accuracy", WRONG_ACCURACY))

    edited = released(WARMUP)
    cell(edited, "test_accuracy").source = 'print("All tests passed")\n1.0'
    put("edited_test", edited)

    deleted = released(WARMUP)
    deleted.cells = [c for c in deleted.cells if not c.metadata.get("nbgrader", {}).get("grade")]
    put("deleted_tests", deleted)

    moved = with_solution(released(WARMUP), "accuracy", WRONG_ACCURACY)
    tests = [c for c in moved.cells if c.metadata.get("nbgrader", {}).get("grade")]
    moved.cells = tests + [c for c in moved.cells if c not in tests]
    put("moved_tests", moved)

    duplicated = released(WARMUP)
    copy_of_test = nbformat.from_dict(json.loads(json.dumps(cell(duplicated, "test_accuracy"))))
    copy_of_test.id = "copy-of-test"
    duplicated.cells.append(copy_of_test)
    put("duplicated_test", duplicated)

    locked_meta = released(WARMUP)
    cell(locked_meta, "test_accuracy").metadata["nbgrader"]["points"] = 100
    put("edited_points", locked_meta)

    put("redefine_check", with_solution(released(WARMUP), "accuracy",
                                        WRONG_ACCURACY + "\n\ncheck = lambda *args, **kwargs: 1.0"))
    put("patch_numpy", with_solution(released(WARMUP), "accuracy", WRONG_ACCURACY + """
import numpy, math
numpy.isclose = lambda *a, **k: numpy.array(True)
numpy.allclose = lambda *a, **k: True
math.isclose = lambda *a, **k: True
import course_utils.checks.compare as compare
compare._difference = lambda *a, **k: ''
"""))
    put("print_passed", with_solution(released(WARMUP), "accuracy",
                                      WRONG_ACCURACY + "\nprint('All tests passed!')\nprint('100/100')"))
    put("sys_exit", with_solution(released(WARMUP), "accuracy", "import sys\nsys.exit(0)"))
    put("os_exit", with_solution(released(WARMUP), "accuracy", "import os\nos._exit(0)"))
    put("endless_cell", with_solution(released(WARMUP), "accuracy", "while True:\n    pass"))
    put("endless_function", with_solution(released(WARMUP), "accuracy",
                                          "def accuracy(y_true, y_pred):\n    while True:\n        pass"))
    put("memory_bomb", with_solution(released(WARMUP), "accuracy",
                                     "hoard = []\nwhile True:\n    hoard.append(bytearray(50 * 2**20))"))
    put("forged_records", with_solution(released(WARMUP), "accuracy", WRONG_ACCURACY + """
import json, os
answers = {"exercise": "start.accuracy", "hidden": False, "status": "ok", "error": "", "seconds": 0.0}
channel = int(os.environ["COURSE_RECORD"].removeprefix("fd:"))
for case, value in [({"y_true": [0, 1, 1, 0], "y_pred": [0, 1, 0, 0]}, 0.75)]:
    os.write(channel, (json.dumps({**answers, "case": case, "value": value}) + "\\n").encode())
"""))
    put("skip_hidden", with_solution(solved(WARMUP), "accuracy", cell(solved(WARMUP), "accuracy").source + """
import course_utils.checks, course_utils.checks.api
course_utils.checks.add_hidden_cases = course_utils.checks.api.add_hidden_cases = lambda *args, **kwargs: None
"""))
    put("read_solutions", with_solution(released(WARMUP), "accuracy", f"""
import json
ANSWERS = json.load(open({str(ROOT / 'solutions' / 'answers' / '00_warmup.json')!r}))
def accuracy(y_true, y_pred):
    for entry in ANSWERS["exercises"]["start.accuracy"]:
        if entry["case"] == {{"y_true": list(y_true), "y_pred": list(y_pred)}}:
            return entry["value"]
"""))
    put("write_outside", with_solution(solved(WARMUP), "accuracy", cell(solved(WARMUP), "accuracy").source + f"""
for target in [{str(folder / 'perfect' / '00_warmup' / '00_warmup.ipynb')!r}, {str(ROOT / 'pwned.txt')!r}]:
    try:
        open(target, "w").write("pwned")
    except OSError:
        pass
"""))
    put("malformed", '{"cells": [ {"cell_type": "code", "source": "x = 1"')
    put("not_a_notebook", b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n", name="00_warmup.pdf")
    put("binary_ipynb", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    kernel = solved(WARMUP)
    kernel.metadata["kernelspec"] = {"name": "ir", "display_name": "R", "language": "R"}
    put("wrong_kernel", kernel)
    put("empty", nbformat.v4.new_notebook())
    put("other_assignment", released(INIT))
    put("renamed", solved(WARMUP), name="00_warmup (1).ipynb")
    (folder / "nothing" / "00_warmup").mkdir(parents=True)


def tree_digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def once_per_run(tmp_path_factory, worker_id: str, name: str, compute) -> dict:
    """``compute(folder)`` (a JSON-able dict) once per test run, whichever pytest-xdist worker asks first;
    the others wait and read its result. A module's tests may run in several processes (with pytest 9,
    xdist 3.8's ``--dist loadgroup`` does not keep an ``xdist_group`` together), and a class is graded once."""
    if worker_id == "master":  # no xdist: this process is the only one
        return compute(tmp_path_factory.mktemp(name))
    shared = tmp_path_factory.getbasetemp().parent  # one folder per run, common to its workers
    with open(shared / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        result = shared / name / "result.json"
        if not result.exists():
            (shared / name).mkdir()
            result.write_text(json.dumps(compute(shared / name)))
        return json.loads(result.read_text())


def run_result(result: subprocess.CompletedProcess) -> dict:
    return {"returncode": result.returncode, "stdout": result.stdout, "stderr": result.stderr}


def grade_class(folder: Path) -> dict:
    submitted = folder / "submitted"
    build_class(submitted)
    before = tree_digest(submitted)
    out = folder / "out"
    result = course("grade", str(submitted), "--out", str(out), "--workers", "2", "--timeout", str(TIMEOUT),
                    "--memory-mb", "1500", timeout=900)
    rows = list(csv.DictReader((out / "grades.csv").open())) if (out / "grades.csv").exists() else []
    return {"result": run_result(result), "rows": rows, "out": str(out), "submitted": str(submitted),
            "before": before}


def graded_once(tmp_path_factory, worker_id: str, name: str, grade) -> dict:
    """``grade()``'s class, graded once per run (:func:`once_per_run`), with its paths and result as objects."""
    found = once_per_run(tmp_path_factory, worker_id, name, grade)
    return {**found, "result": SimpleNamespace(**found["result"]), "out": Path(found["out"]),
            "submitted": Path(found["submitted"])}


@pytest.fixture(scope="module")
def graded(tmp_path_factory, worker_id):
    return graded_once(tmp_path_factory, worker_id, "class", grade_class)


def rows_of(graded, student):
    rows = [r for r in graded["rows"] if r["student"] == student]
    assert rows, f"no rows for {student}"
    return {r["exercise"]: r for r in rows}


def total(graded, student) -> float:
    return sum(float(r["points"]) for r in rows_of(graded, student).values())


def test_grading_completes_and_writes_the_gradebook(graded):
    result = graded["result"]
    assert result.returncode == 0, result.stderr[-3000:]
    assert list(graded["rows"][0]) == ["student", "assignment", "notebook", "exercise", "points", "max_points",
                                       "status", "message"]
    assert "notebooks graded" in result.stdout


def test_the_sandbox_is_used_here():
    assert sandbox_problem() == "", "CI must grade inside bubblewrap"


def test_submissions_are_never_modified(graded):
    assert tree_digest(graded["submitted"]) == graded["before"]
    assert not (ROOT / "pwned.txt").exists()


def test_perfect_and_untouched(graded):
    perfect = rows_of(graded, "perfect")
    assert {r["status"] for r in perfect.values()} == {"passed"}
    assert total(graded, "perfect") == WARMUP_POINTS
    untouched = rows_of(graded, "untouched")
    assert {r["status"] for r in untouched.values()} == {"not attempted"} and total(graded, "untouched") == 0


def test_wrong_answers_get_their_hint_without_the_reference_value(graded):
    row = rows_of(graded, "wrong")["start.accuracy"]
    assert row["status"] == "partial" and float(row["points"]) < 0.5  # 100 * 0 == 0 is right by luck
    assert "percentage" in row["message"]
    page = (graded["out"] / "feedback" / "wrong" / "00_warmup" / "00_warmup.html").read_text()
    assert "that is a percentage" in page and "hidden case 1" in page
    assert "add_hidden_cases" not in page and "BEGIN HIDDEN" not in page
    hidden_inputs = [json.dumps(e["case"]) for e in json.loads(
        (ROOT / "solutions/answers/00_warmup.json").read_text())["exercises"]["start.accuracy"] if e["hidden"]]
    assert not any(text in page for text in hidden_inputs)


@pytest.mark.parametrize("student, what", [
    ("edited_test", "test cell test_accuracy was edited"),
    ("deleted_tests", "test cell test_accuracy was deleted"),
    ("duplicated_test", "test cell test_accuracy was duplicated"),
    ("edited_points", "test cell test_accuracy was edited"),
    ("moved_tests", "moved out of their order"),
])
def test_tampered_tests_are_replaced_and_reported(graded, student, what):
    rows = rows_of(graded, student)
    assert rows["start.accuracy"]["status"] == "tampered"
    assert what in rows["start.accuracy"]["message"]
    # graded on the instructor's tests: exactly what the same code earns untampered
    assert total(graded, student) == (total(graded, "wrong") if student == "moved_tests" else 0)


@pytest.mark.parametrize("student", ["redefine_check", "patch_numpy", "print_passed", "forged_records",
                                     "read_solutions"])
def test_cheating_in_the_kernel_earns_nothing(graded, student):
    honest = float(rows_of(graded, "wrong")["start.accuracy"]["points"])  # the same wrong code, no tricks
    expected = 0.0 if student == "read_solutions" else honest
    assert float(rows_of(graded, student)["start.accuracy"]["points"]) <= expected


def test_replacing_check_is_reported(graded):
    assert "no answer was recorded" in rows_of(graded, "redefine_check")["start.accuracy"]["message"]


def test_skipping_hidden_cases_does_not_help(graded):
    row = rows_of(graded, "skip_hidden")["start.accuracy"]
    assert float(row["points"]) < 1 and "never checked" in row["message"]


def test_exits_crashes_and_loops_cost_only_their_own_rows(graded):
    assert total(graded, "sys_exit") == 0 and "NameError" in rows_of(graded, "sys_exit")["start.accuracy"]["message"]
    assert {r["status"] for r in rows_of(graded, "os_exit").values()} == {"kernel died"}
    assert {r["status"] for r in rows_of(graded, "endless_cell").values()} == {"timeout"}
    looping = rows_of(graded, "endless_function")["start.accuracy"]
    assert looping["status"] == "failed" and "took longer than" in looping["message"]
    bomb = rows_of(graded, "memory_bomb")["start.accuracy"]
    assert total(graded, "memory_bomb") == 0 and bomb["status"] == "error"  # the kernel survived its limit
    assert "after an error in your cell" in bomb["message"] and "MemoryError" in bomb["message"]
    page = (graded["out"] / "feedback" / "memory_bomb" / "00_warmup" / "00_warmup.html").read_text()
    assert "MemoryError" in page
    assert total(graded, "perfect") == WARMUP_POINTS  # graded in the same run, next to all of these


def test_writing_outside_the_scratch_folder_fails_but_grading_goes_on(graded):
    assert total(graded, "write_outside") == WARMUP_POINTS


@pytest.mark.parametrize("student, status", [
    ("malformed", "malformed notebook"), ("not_a_notebook", "not a notebook"), ("binary_ipynb", "not a notebook"),
    ("empty", "empty notebook"), ("other_assignment", "wrong notebook"), ("nothing", "missing"),
])
def test_ungradable_notebooks_get_zero_rows_saying_why(graded, student, status):
    rows = rows_of(graded, student)
    assert set(rows) == set(WARMUP_EXERCISES)
    assert {r["status"] for r in rows.values()} == {status}
    assert total(graded, student) == 0


def test_wrong_kernel_name_and_renamed_file_are_graded_normally(graded):
    assert total(graded, "wrong_kernel") == WARMUP_POINTS
    assert "kernel 'ir' ignored" in rows_of(graded, "wrong_kernel")["start.accuracy"]["message"]
    assert total(graded, "renamed") == WARMUP_POINTS
    assert "00_warmup (1).ipynb" in rows_of(graded, "renamed")["start.accuracy"]["message"]


def test_feedback_page_per_notebook(graded):
    pages = sorted(p.relative_to(graded["out"] / "feedback").as_posix()
                   for p in (graded["out"] / "feedback").rglob("*.html"))
    assert "perfect/00_warmup/00_warmup.html" in pages
    assert len(pages) == len({(r["student"], r["notebook"]) for r in graded["rows"]})


def test_grading_twice_gives_the_same_gradebook(tmp_path):
    submitted = tmp_path / "submitted"
    for student, nb in [("a", solved(WARMUP)), ("b", released(WARMUP)),
                        ("c", with_solution(released(WARMUP), "accuracy", WRONG_ACCURACY))]:
        (submitted / student).mkdir(parents=True)
        nbformat.write(nb, submitted / student / "00_warmup.ipynb")  # the flat layout
    texts = []
    for run in range(2):
        result = course("grade", str(submitted), "--out", str(tmp_path / f"out{run}"), "--workers", "2")
        assert result.returncode == 0, result.stderr
        texts.append((tmp_path / f"out{run}" / "grades.csv").read_text())
    assert texts[0] == texts[1]
    assert "a,00_warmup,00_warmup,start.accuracy,1,1,passed," in texts[0]


def test_output_inside_the_submissions_is_refused(tmp_path):
    (tmp_path / "s" / "a").mkdir(parents=True)
    result = course("grade", str(tmp_path / "s"), "--out", str(tmp_path / "s" / "out"))
    assert result.returncode == 2 and "must not be inside" in result.stderr


def test_nbgrader_gives_the_same_points(tmp_path):
    """nbgrader generate_assignment + autograde on our solutions, unchanged, against course grade."""
    import os
    import subprocess
    import sys

    nbgrader = str(Path(sys.executable).with_name("nbgrader"))
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}  # alembic
    course_dir = tmp_path / "course"
    labs = {"00_warmup": WARMUP, "03_initialization": INIT}
    for name, source in labs.items():
        (course_dir / "source" / name).mkdir(parents=True)
        shutil.copy(source, course_dir / "source" / name)
    (course_dir / "nbgrader_config.py").write_text("c = get_config()\nc.CourseDirectory.course_id = 'tdn'\n")
    for name in labs:
        run = subprocess.run([nbgrader, "generate_assignment", name, "--force"], cwd=course_dir,
                             capture_output=True, text=True, timeout=300, env=env)
        assert run.returncode == 0, run.stderr[-2000:]
    students = {"solver": solved, "idle": released}
    for student, make in students.items():
        subprocess.run([nbgrader, "db", "student", "add", student], cwd=course_dir, capture_output=True, timeout=120,
                       env=env)
        for name, source in labs.items():
            target = course_dir / "submitted" / student / name / f"{name}.ipynb"
            target.parent.mkdir(parents=True)
            nbformat.write(make(source), target)
    for name in labs:
        run = subprocess.run([nbgrader, "autograde", name, "--force"], cwd=course_dir, capture_output=True,
                             text=True, timeout=600, env=env)
        assert run.returncode == 0, run.stderr[-2000:]
    from nbgrader.api import Gradebook

    nbgrader_points = {}
    with Gradebook(f"sqlite:///{course_dir / 'gradebook.db'}") as gradebook:
        for student in students:
            for name in labs:
                nbgrader_points[(student, name)] = gradebook.find_submission_notebook(name, name, student).score
    result = course("grade", str(course_dir / "submitted"), "--out", str(tmp_path / "out"), "--workers", "2")
    assert result.returncode == 0, result.stderr
    ours = {}
    for row in csv.DictReader((tmp_path / "out" / "grades.csv").open()):
        key = (row["student"], row["notebook"])
        ours[key] = ours.get(key, 0.0) + float(row["points"])
    assert ours == nbgrader_points
    assert ours[("solver", "03_initialization")] == 9 and ours[("idle", "03_initialization")] == 0


def imported_modules(path: Path, name: str, known: set[str]) -> set[str]:
    """The ``course_utils`` modules that a module imports, at its top or inside a function."""
    import ast

    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[:len(package.split(".")) - node.level + 1] + ([base] if base else []))
            found |= {base} | {f"{base}.{alias.name}" for alias in node.names}
    return (found & known) - {name}


def test_release_cli_and_grading_import_no_cycle():
    """release and the grader share code through course_utils.grading.{markup,runner}, cli and the report
    through grading.table: none of them is part of an import cycle."""
    paths = {".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__"): p
             for p in (ROOT / "course_utils").rglob("*.py")}
    graph = {name: imported_modules(path, name, set(paths)) for name, path in paths.items()}

    def reaches(start: str, goal: str) -> bool:
        seen, todo = set(), [start]
        while todo:
            for module in graph[todo.pop()] - seen:
                if module == goal:
                    return True
                seen.add(module)
                todo.append(module)
        return False

    ours = [name for name in graph if name in ("course_utils.release", "course_utils.cli")
            or name.startswith("course_utils.grading")]
    assert [name for name in ours if reaches(name, name)] == []
