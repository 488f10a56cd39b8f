"""Grade one class with `course grade --workers 2` and with `nbgrader autograde`, and compare.

    .venv/bin/python bench/grading.py [--students 24] [--lab 03_initialization] [--workers 2]

Builds a class of submissions of one lab (a third solved, a third with typical
mistakes, a third untouched) in an nbgrader course folder, grades it both ways
on the same machine, and prints a table (seconds, notebooks/s, agreement of the
points per notebook). It also executes the same submissions plainly (a fresh
kernel each, as many at a time, no sandbox, no grading) to measure what grading
adds to execution. The last line is
``grading speedup_vs_nbgrader=<ratio> agreement=<fraction> overhead_vs_plain=<fraction>``.
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from course_utils.grading.table import format_table  # noqa: E402
from course_utils.notebooks import execute_notebook  # noqa: E402
from course_utils.grading.markup import BEGIN_SOLUTION, END_SOLUTION, exercise_notebook  # noqa: E402

BIN = Path(sys.executable).parent
ENV = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}

# A typical mistake per exercise of lab 03 (the class's "wrong" third makes one or two of them).
MISTAKES = {
    "he_std": "def he_std(fan_in):\n    return math.sqrt(1.0 / fan_in)",
    "xavier_std": "def xavier_std(fan_in, fan_out):\n    return 2.0 / (fan_in + fan_out)",
    "fans": "def fans(shape):\n    return shape[0], shape[1]",
    "diagnose": "def diagnose(stds):\n    return 'vanishing' if stds[-1] < 0.1 else 'healthy'",
}


def submission(source: nbformat.NotebookNode, kind: str, index: int) -> nbformat.NotebookNode:
    nb = exercise_notebook(source, "solutions")
    if kind == "untouched":
        return nb
    reference = {c.metadata["nbgrader"]["grade_id"]: c.source for c in source.cells
                 if c.metadata.get("nbgrader", {}).get("solution")}
    mistakes = list(MISTAKES.items())
    wrong = dict([mistakes[index % len(mistakes)], mistakes[(index + 1) % len(mistakes)]]) if kind == "wrong" else {}
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid in wrong:
            cell.source = wrong[gid]
        elif gid in reference:
            cell.source = "\n".join(line for line in reference[gid].split("\n")
                                    if line.strip() not in (BEGIN_SOLUTION, END_SOLUTION))
    return nb


def run(command: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, env=ENV, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stderr[-3000:]}")
    return time.perf_counter() - start


def execute_plainly(paths: list[Path], workers: int, scratch: Path) -> float:
    """Seconds to execute every notebook in a fresh kernel, ``workers`` at a time, nothing else."""
    def execute(path: Path) -> None:
        folder = scratch / path.parent.parent.name
        folder.mkdir(parents=True)
        execute_notebook(nbformat.read(path, as_version=4), cwd=folder, allow_errors=True)

    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(execute, paths))
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=24)
    parser.add_argument("--lab", default="03_initialization")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    source_path = ROOT / "solutions" / f"{args.lab}.ipynb"
    source = nbformat.read(source_path, as_version=4)
    with tempfile.TemporaryDirectory(prefix="bench-grading-") as tmp:
        course = Path(tmp)
        (course / "source" / args.lab).mkdir(parents=True)
        nbformat.write(source, course / "source" / args.lab / f"{args.lab}.ipynb")
        (course / "nbgrader_config.py").write_text("c = get_config()\nc.CourseDirectory.course_id = 'bench'\n")
        kinds = ["solved", "wrong", "untouched"]
        students = [f"student{i:03d}" for i in range(args.students)]
        for i, student in enumerate(students):
            target = course / "submitted" / student / args.lab / f"{args.lab}.ipynb"
            target.parent.mkdir(parents=True)
            nbformat.write(submission(source, kinds[i % 3], i), target)

        nbgrader = str(BIN / "nbgrader")
        run([nbgrader, "generate_assignment", args.lab, "--force"], course)
        for student in students:
            run([nbgrader, "db", "student", "add", student], course)

        paths = [course / "submitted" / s / args.lab / f"{args.lab}.ipynb" for s in students]
        execute_plainly(paths[:1], 1, course / "warm-up")  # file caches warm for everybody
        plain = execute_plainly(paths, args.workers, course / "plain")
        ours = run([str(BIN / "course"), "grade", "submitted", "--out", str(course / "course-grades"),
                    "--workers", str(args.workers)], course)
        theirs = run([nbgrader, "autograde", args.lab, "--force"], course)

        points: dict[str, float] = {}
        with open(course / "course-grades" / "grades.csv") as stream:
            for row in csv.DictReader(stream):
                points[row["student"]] = points.get(row["student"], 0.0) + float(row["points"])
        from nbgrader.api import Gradebook

        with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
            reference = {s: gradebook.find_submission_notebook(args.lab, args.lab, s).score for s in students}
    agree = sum(abs(points.get(s, -1) - reference[s]) < 1e-6 for s in students) / len(students)
    n = len(students)
    print(format_table(
        ["grader", "notebooks", "seconds", "notebooks/s", "total points"],
        [[f"course grade --workers {args.workers}", str(n), f"{ours:.1f}", f"{n / ours:.2f}",
          f"{sum(points.values()):g}"],
         ["nbgrader autograde", str(n), f"{theirs:.1f}", f"{n / theirs:.2f}", f"{sum(reference.values()):g}"],
         [f"plain execution, {args.workers} at a time", str(n), f"{plain:.1f}", f"{n / plain:.2f}", "-"]]))
    disagreements = [f"{s}: course {points.get(s)} vs nbgrader {reference[s]}" for s in students
                     if abs(points.get(s, -1) - reference[s]) >= 1e-6]
    if disagreements:
        print("disagreements:\n  " + "\n  ".join(disagreements))
    print(f"grading speedup_vs_nbgrader={theirs / ours:.2f} agreement={agree:.3f} "
          f"overhead_vs_plain={ours / plain - 1:.2f}")


if __name__ == "__main__":
    main()
