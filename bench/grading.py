"""Grade classes of growing size with `nbgrader autograde` and with `course grade` (cold kernels, warm
kernels, and through a local Dask cluster of 2 workers), and compare.

    .venv/bin/python bench/grading.py [--sizes 24,96] [--large] [--lab 03_initialization] [--workers 2]

Each class (24 and 96 submissions of one lab; 240 more with ``--large``) is a mix: a third solved, a
third with typical mistakes, a third untouched, except the first two: one notebook that hangs and one
whose kernel crashes. It is laid out as an nbgrader course folder and graded every way on the same machine, with
the same time limit (``--timeout``: nbgrader's per cell, ours per notebook). The table gives seconds,
notebooks/s and the agreement of each notebook's points with nbgrader's. Before it, the start-up cost
of one kernel, cold and warm (a one-cell notebook, after the zygote's start). The last line is
``grading speedup_vs_nbgrader=<ratio> agreement=<fraction>`` for warm kernels on the first class.
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from course_utils.grading.limits import Limits  # noqa: E402
from course_utils.grading.markup import BEGIN_SOLUTION, END_SOLUTION, exercise_notebook  # noqa: E402
from course_utils.grading.runner import run_recorded  # noqa: E402
from course_utils.grading.sandbox import Sandbox  # noqa: E402
from course_utils.grading.table import format_table  # noqa: E402

BIN = Path(sys.executable).parent
ENV = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}

# A typical mistake per exercise of lab 03 (the class's "wrong" third makes one or two of them).
MISTAKES = {
    "he_std": "def he_std(fan_in):\n    return math.sqrt(1.0 / fan_in)",
    "xavier_std": "def xavier_std(fan_in, fan_out):\n    return 2.0 / (fan_in + fan_out)",
    "fans": "def fans(shape):\n    return shape[0], shape[1]",
    "diagnose": "def diagnose(stds):\n    return 'vanishing' if stds[-1] < 0.1 else 'healthy'",
}
# The two special notebooks: a crash in the first solution cell (nothing after it runs, for any grader),
# a hang in the last one (what came before counts: nbgrader stops the cell, course grade the notebook).
SPECIAL = {"hang": "while True:\n    pass", "crash": "import os\nos._exit(1)"}


def submission(source: nbformat.NotebookNode, kind: str, index: int) -> nbformat.NotebookNode:
    nb = exercise_notebook(source, "solutions")
    if kind == "untouched":
        return nb
    reference = {c.metadata["nbgrader"]["grade_id"]: c.source for c in source.cells
                 if c.metadata.get("nbgrader", {}).get("solution")}
    mistakes = list(MISTAKES.items())
    wrong = dict([mistakes[index % len(mistakes)], mistakes[(index + 1) % len(mistakes)]]) if kind == "wrong" else {}
    if kind in SPECIAL:
        wrong = {list(reference)[-1 if kind == "hang" else 0]: SPECIAL[kind]}
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid in wrong:
            cell.source = wrong[gid]
        elif gid in reference:
            cell.source = "\n".join(line for line in reference[gid].split("\n")
                                    if line.strip() not in (BEGIN_SOLUTION, END_SOLUTION))
    return nb


def kinds(size: int) -> list[str]:
    """A third solved, wrong and untouched, but the first two hang and crash (graded first, a hang costs its
    time limit on one worker while the others go on; last, the whole run would wait for it)."""
    mix = [("solved", "wrong", "untouched")[i % 3] for i in range(size)]
    mix[:2] = ["hang", "crash"]
    return mix


def run(command: list[str], cwd: Path, check: bool = True) -> float:
    start = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, env=ENV, capture_output=True, text=True)
    if check and done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stderr[-3000:]}")
    return time.perf_counter() - start


def make_class(course: Path, source: nbformat.NotebookNode, lab: str, size: int, timeout: float) -> list[str]:
    """An nbgrader course folder with ``size`` submissions of ``lab``; returns the students."""
    (course / "source" / lab).mkdir(parents=True)
    nbformat.write(source, course / "source" / lab / f"{lab}.ipynb")
    (course / "nbgrader_config.py").write_text(
        f"c = get_config()\nc.CourseDirectory.course_id = 'bench'\nc.Execute.timeout = {int(timeout)}\n")
    students = [f"student{i:03d}" for i in range(size)]
    for i, (student, kind) in enumerate(zip(students, kinds(size))):
        target = course / "submitted" / student / lab / f"{lab}.ipynb"
        target.parent.mkdir(parents=True)
        nbformat.write(submission(source, kind, i), target)
    nbgrader = str(BIN / "nbgrader")
    run([nbgrader, "generate_assignment", lab, "--force"], course)
    run([nbgrader, "db", "student", "import", str(write_roster(course, students))], course)
    return students


def write_roster(course: Path, students: list[str]) -> Path:
    roster = course / "students.csv"
    with roster.open("w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["id", "first_name", "last_name", "email"])
        writer.writerows([[s, "", "", ""] for s in students])
    return roster


def course_points(out: Path) -> dict[str, float]:
    points: dict[str, float] = {}
    with open(out / "grades.csv") as stream:
        for row in csv.DictReader(stream):
            points[row["student"]] = points.get(row["student"], 0.0) + float(row["points"] or 0)
    return points


def nbgrader_points(course: Path, lab: str, students: list[str]) -> dict[str, float]:
    """nbgrader's score per student; a notebook nbgrader could not grade (the crash, the hang) scores 0."""
    from nbgrader.api import Gradebook, MissingEntry

    scores = {}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        for student in students:
            try:
                scores[student] = gradebook.find_submission_notebook(lab, lab, student).score
            except MissingEntry:
                scores[student] = 0.0
    return scores


def startup_seconds(kernels: str, repeats: int = 5) -> tuple[float, float]:
    """(median seconds to run a one-cell notebook in a sandboxed kernel, seconds to start the zygote)."""
    with tempfile.TemporaryDirectory(prefix="bench-startup-") as tmp:
        box = Sandbox.create(Limits(), kernels=kernels, warn=lambda message: print(message, file=sys.stderr))
        box.prepare(Path(tmp) / "support")
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("import torch, numpy, sklearn")])
        zygote = 0.0
        if box.kernels == "warm":
            start = time.perf_counter()
            box.zygote()
            zygote = time.perf_counter() - start
        seconds = []
        for i in range(repeats):
            work = Path(tmp) / f"w{i}"
            work.mkdir()
            start = time.perf_counter()
            run_recorded(nb, [], cwd=work, timeout=120, sandbox=box, workdir=work)
            seconds.append(time.perf_counter() - start)
        box.close()
    return statistics.median(seconds), zygote


def local_dask(workers: int):
    """A local Dask cluster of ``workers`` single-threaded worker processes, or None without distributed."""
    try:
        from distributed import LocalCluster
    except ImportError:
        return None
    return LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None)


def grade_class(size: int, args, source, cluster) -> list[list[str]]:
    """The table's rows for one class, and (warm seconds, nbgrader seconds, agreement)."""
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-grading-") as tmp:
        course = Path(tmp)
        students = make_class(course, source, args.lab, size, args.timeout)
        course_grade = [str(BIN / "course"), "grade", "submitted", "--workers", str(args.workers),
                        "--timeout", str(args.timeout)]
        runs = {"cold": course_grade + ["--kernels", "cold"], "warm": course_grade + ["--kernels", "warm"]}
        if cluster is not None:
            runs["dask"] = [str(BIN / "course"), "grade", "submitted", "--scheduler", cluster.scheduler_address,
                            "--timeout", str(args.timeout), "--kernels", "warm"]
        seconds, points, failed = {}, {}, {}
        for name, command in runs.items():
            out = course / f"out-{name}"
            try:
                seconds[name] = run(command + ["--out", str(out)], course)
                points[name] = course_points(out)
            except (SystemExit, OSError) as exc:  # one grader failing leaves the others' rows
                failed[name] = str(exc).strip().splitlines()[-1][:60]
                seconds.pop(name, None)
            print(f"  {name}, {size} notebooks: " + (f"{seconds[name]:.1f} s" if name in seconds else
                                                     f"failed ({failed[name]})"), flush=True)
        seconds["nbgrader"] = run([str(BIN / "nbgrader"), "autograde", args.lab, "--force"], course, check=False)
        points["nbgrader"] = nbgrader_points(course, args.lab, students)
        print(f"  nbgrader, {size} notebooks: {seconds['nbgrader']:.1f} s", flush=True)
    reference = points["nbgrader"]
    names = {"nbgrader": "nbgrader autograde", "cold": f"course grade --kernels cold --workers {args.workers}",
             "warm": f"course grade --kernels warm --workers {args.workers}",
             "dask": f"course grade --scheduler (local Dask, {args.workers} workers, warm)"}
    agreement = {}
    for name in ("nbgrader", "cold", "warm", "dask"):
        if name not in seconds:
            why = f"failed: {failed[name]}" if name in failed else "not available (no distributed)"
            rows.append([names[name], str(size), "-", "-", why, "-"])
            continue
        agree = sum(abs(points[name].get(s, -1) - reference[s]) < 1e-6 for s in students) / len(students)
        agreement[name] = agree
        rows.append([names[name], str(size), f"{seconds[name]:.1f}", f"{size / seconds[name]:.2f}",
                     f"{agree:.3f}", f"{sum(points[name].values()):g}"])
        for s in students:
            if abs(points[name].get(s, -1) - reference[s]) >= 1e-6:
                print(f"  disagreement ({name}, {size}): {s}: {points[name].get(s)} vs nbgrader {reference[s]}")
    print(format_table(["grader", "notebooks", "seconds", "notebooks/s", "agreement", "total points"], rows),
          flush=True)
    return rows, (seconds.get("warm", float("nan")), seconds["nbgrader"], agreement.get("warm", 0.0))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="24,96", help="class sizes, comma-separated")
    parser.add_argument("--large", action="store_true", help="also a class of 240")
    parser.add_argument("--lab", default="03_initialization")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=30,
                        help="seconds: nbgrader's limit per cell, course grade's per notebook")
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")] + ([240] if args.large else [])

    cold, _ = startup_seconds("cold")
    warm, zygote = startup_seconds("warm")
    print(f"kernel start-up per notebook (one cell importing torch, numpy, sklearn; median of 5): cold {cold:.2f} s, "
          f"warm {warm:.2f} s (the zygote's start, once per worker: {zygote:.1f} s)")

    source = nbformat.read(ROOT / "solutions" / f"{args.lab}.ipynb", as_version=4)
    cluster = local_dask(args.workers)
    rows, first = [], None
    try:
        for size in sizes:
            found, figures = grade_class(size, args, source, cluster)
            rows += found
            first = first or figures
    finally:
        if cluster is not None:
            cluster.close()
    print(format_table(["grader", "notebooks", "seconds", "notebooks/s", "agreement", "total points"], rows))
    warm_seconds, nbgrader_seconds, agreement = first
    print(f"grading speedup_vs_nbgrader={nbgrader_seconds / warm_seconds:.2f} agreement={agreement:.3f}")


if __name__ == "__main__":
    main()
