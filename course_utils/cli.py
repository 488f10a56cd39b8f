"""The ``course`` command.

::

    course lab                         open JupyterLab on the start-here notebook
    course run [PATHS] [--timeout S]   execute notebooks headless, print a timing table
    course check NOTEBOOK [--json]     run a lab and report each exercise's points
                                       (exit 0: the notebook ran to its end; 1: a cell stopped it)
    course release [LABS] [--check]    regenerate exercises/ and the reference answers
    course grade SUBMITTED --out DIR   grade a class: grades.csv and feedback pages
                                       (our labs and any nbgrader assignment; --gradebook, --late-policy)
    course export GRADES --format F    grades.csv for an LMS: canvas, long or wide (--roster)
    course progress                    your labs: public checks passed, last attempt, what next

Exit status: 0 on success, 1 when something failed (a notebook error, an
out-of-date release), 2 for a wrong path or a malformed notebook.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from course_utils import __version__
from course_utils.grading.table import format_table


def project_root() -> Path:
    """The course folder: ``$COURSE_ROOT``, the checkout this package lives in, or the current folder."""
    configured = os.environ.get("COURSE_ROOT")
    if configured:
        return Path(configured).resolve()
    checkout = Path(__file__).resolve().parents[1]
    if (checkout / "notebooks").is_dir() and (checkout / "solutions").is_dir():
        return checkout
    return Path.cwd()


def _fail(message: str, code: int = 2) -> int:
    print(f"course: error: {message}", file=sys.stderr)
    return code


# -- course lab ---------------------------------------------------------------

def cmd_lab(args: argparse.Namespace) -> int:
    root = project_root()
    start = root / "notebooks" / "00_start_here.ipynb"
    if not start.exists():
        return _fail(f"{start}: no such file (run `course lab` inside the course folder)")
    command = [sys.executable, "-m", "jupyter", "lab", str(start.relative_to(root)),
               f"--ServerApp.root_dir={root}"]
    if args.no_browser:
        command.append("--no-browser")
    if args.port:
        command.append(f"--port={args.port}")
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")  # containers and classroom VMs often run as root
    os.chdir(root)
    os.execv(sys.executable, command)
    return 0  # not reached


# -- course run ---------------------------------------------------------------

def cmd_run(args: argparse.Namespace) -> int:
    from course_utils.notebooks import NotebookError, execute_notebook, find_notebooks, read_notebook

    root = project_root()
    paths = args.paths or [root / "notebooks", root / "solutions"]
    try:
        notebooks = find_notebooks(paths)
        parsed = [(path, read_notebook(path)) for path in notebooks]
    except NotebookError as exc:
        return _fail(str(exc))
    if not parsed:
        return _fail("no notebooks found in " + ", ".join(map(str, paths)))
    rows, failed, total = [], 0, 0.0
    for path, nb in parsed:
        result = execute_notebook(nb, cwd=path.parent, timeout=args.timeout)
        total += result.seconds
        failed += result.status != "ok"
        rows.append([_shown(path, root), f"{result.seconds:.1f}", result.summary()])
        print(f"  {rows[-1][0]}: {rows[-1][2]} ({rows[-1][1]} s)", file=sys.stderr, flush=True)
    rows.append(["total", f"{total:.1f}", f"{len(parsed) - failed}/{len(parsed)} ok"])
    print(format_table(["notebook", "seconds", "status"], rows))
    return 1 if failed else 0


# -- course check -------------------------------------------------------------

def cmd_check(args: argparse.Namespace) -> int:
    """Run a lab headless and report each exercise like a test runner: points, status, failing cases
    with their hints (wrapped, never cut). Exit 0 when the notebook ran to its end (whatever the points;
    cells that stop on an exercise not attempted yet count as run), 1 when a cell stopped with an error or
    the notebook was stopped, 2 for a wrong path or a malformed notebook."""
    from course_utils.grading.lab import check_notebook, lab_exercises
    from course_utils.notebooks import NotebookError, read_notebook

    try:
        report = check_notebook(args.notebook, timeout=args.timeout)
        test_cells = dict(lab_exercises(read_notebook(args.notebook)))
    except NotebookError as exc:
        return _fail(str(exc))
    first_errors = _first_errors(report, set(test_cells.values()))
    messages = {r.exercise: _exercise_message(r, test_cells.get(r.exercise, -1), first_errors)
                for r in report.results}
    ran = _ran_to_the_end(report.execution)
    if args.json:
        print(json.dumps([_check_json(r, messages[r.exercise]) for r in report.results], indent=2,
                         ensure_ascii=False))
        return 0 if ran else 1
    print(_check_text(report, messages, verbose=args.verbose))
    return 0 if ran else 1


def _ran_to_the_end(execution) -> bool:
    """Every cell ran: no error but the ``NotImplementedError`` of an exercise not attempted yet (a
    "try it" cell that calls an unfinished function), no time-out, no dead kernel."""
    if execution.status == "ok":
        return True
    return execution.status == "error" and not execution.message and all(
        error.ename == "NotImplementedError" for error in execution.errors)


def _first_errors(report, test_cells: set[int]) -> list[tuple[int, str]]:
    """(cell index, sentence) of every error in the learner's own cells, in order."""
    from course_utils.checks.engine import describe_cell_error

    return [(e.index, f"your cell {e.index + 1} {describe_cell_error(e.ename, e.evalue, e.traceback)}")
            for e in report.execution.errors if e.index not in test_cells]


def _exercise_message(result, test_cell: int, first_errors: list[tuple[int, str]]) -> str:
    """One sentence for an exercise: the first failing case, or the real first error that kept it from
    running (a syntax error in the learner's cell, not the NameError it causes later)."""
    from course_utils.checks.render import headline

    if result.status in ("passed", "not attempted"):
        return headline(result)
    if not result.cases:
        earlier = [text for index, text in first_errors if index < test_cell]
        if earlier:
            return earlier[0]
    failing = [c for c in result.cases if c.status != "passed"]
    if failing:
        return f"{failing[0].label}: {failing[0].message or failing[0].status}"
    return result.message or headline(result)


def _check_json(result, message: str) -> dict:
    return {"exercise": result.exercise, "title": result.title, "points": result.points,
            "max_points": result.max_points, "status": str(result.status), "message": message,
            "cases": [{"label": c.label, "status": str(c.status), "hidden": c.hidden, "got": c.got, "want": c.want,
                       "message": c.message} for c in result.cases]}


def _check_text(report, messages: dict[str, str], verbose: bool = False, width: int = 100) -> str:
    import textwrap

    from course_utils.checks.render import MARKS

    lines = []
    for r in report.results:
        mark = MARKS.get(r.status, "✗")
        lines.append(f"{mark} {r.exercise}  {r.points:g}/{r.max_points:g}  {r.status}")
        if r.status in ("passed", "not attempted") and not verbose:
            continue
        if not r.cases or r.status == "not attempted":
            lines += textwrap.wrap(messages[r.exercise], width, initial_indent="    ", subsequent_indent="    ")
            continue
        for case in r.cases:
            if case.status == "passed" and not verbose:
                continue
            text = f"{MARKS.get(case.status, '✗')} {case.label}" + (f" → {case.got}" if case.got else "") + (
                f" (expected {case.want})" if case.want else "")
            lines += textwrap.wrap(text, width, initial_indent="    ", subsequent_indent="        ")
            if case.message and case.status != "passed":
                lines += textwrap.wrap(case.message, width, initial_indent="        ", subsequent_indent="        ")
    lines.append("")
    lines.append(f"total: {report.points:g}/{report.max_points:g} points ({report.execution.seconds:.1f} s)")
    if not any(r.hidden_run for r in report.results):
        lines.append("public checks only: your instructor's grading adds hidden cases")
    if not _ran_to_the_end(report.execution):
        detail = report.execution.message or "a cell stopped with an error"
        lines.append(f"note: the notebook did not run to its end ({detail})")
    return "\n".join(lines)


# -- course release -----------------------------------------------------------

def cmd_release(args: argparse.Namespace) -> int:
    from course_utils.release import ReleaseError, release

    root = project_root()
    try:
        problems = release(root, labs=args.labs, check=args.check, force=args.force, timeout=args.timeout,
                           log=lambda message: print(message, file=sys.stderr))
    except ReleaseError as exc:
        return _fail(str(exc), code=1)
    for problem in problems:
        print(problem)
    if not problems:
        print("exercises/ and reference answers are up to date" if args.check else "release complete")
    return 1 if problems else 0


# -- course grade -------------------------------------------------------------

def cmd_grade(args: argparse.Namespace) -> int:
    import time

    from course_utils.grading.collect import collect
    from course_utils.grading.grade import grade_all
    from course_utils.grading.nbgrader_course import CourseGrader
    from course_utils.grading.limits import Limits
    from course_utils.grading.report import Progress
    from course_utils.grading.sandbox import Sandbox

    submitted = Path(args.submitted).resolve()
    out = Path(args.out).resolve()
    sources = Path(args.source).resolve() if args.source else project_root() / "solutions"
    if not submitted.is_dir():
        return _fail(f"{args.submitted}: no such folder")
    if not sources.is_dir():
        return _fail(f"{sources}: no such folder of lab sources (use --source)")
    if out == submitted or submitted in out.parents:
        return _fail("--out must not be inside the submissions folder: grading never writes there")
    if args.public_weight is not None and not 0 <= args.public_weight <= 1:
        return _fail("--public-weight must be between 0 and 1")
    try:
        late = _late_options(args, submitted)
    except ValueError as exc:
        return _fail(str(exc))
    submissions, warnings = collect(submitted, sources)
    for warning in warnings:
        print(f"note: {warning}", file=sys.stderr)
    if not submissions:
        return _fail(f"{args.submitted}: no submissions found (expected <student>/<assignment>/<notebook>.ipynb "
                     "or <student>/<notebook>.ipynb)")
    limits = Limits(memory_mb=args.memory_mb, processes=args.max_processes, tmp_mb=args.disk_mb)
    if args.scheduler:
        return _grade_on_cluster(args, submitted, submissions, limits, out, late)
    try:
        sandbox = Sandbox.create(limits, allow_unsandboxed=not args.require_sandbox, kernels=args.kernels,
                                 warn=lambda message: print(message, file=sys.stderr))
    except RuntimeError as exc:
        return _fail(str(exc))
    grader = CourseGrader(sandbox, timeout=args.timeout, keep_scratch=args.keep_scratch, public_weight=args.public_weight)
    start = time.perf_counter()
    try:
        print(f"grading {len(submissions)} notebooks with {args.workers} worker(s), {sandbox.describe()}",
              file=sys.stderr)
        graded = grade_all(grader, submissions, args.workers, Progress(len(submissions)))
    finally:
        grader.close()
    _after_grading(args, submitted, graded, *late)
    return _write_grades(out, graded, time.perf_counter() - start, args.workers)


def _write_grades(out: Path, graded: list, seconds: float, workers: int) -> int:
    from course_utils.grading.report import summary, write_outputs

    gradebook = write_outputs(out, graded)
    print(summary(graded, seconds, workers))
    print(f"gradebook: {gradebook}\nfeedback:  {out / 'feedback'}")
    return 0


def _grade_on_cluster(args: argparse.Namespace, submitted: Path, submissions: list, limits, out: Path, late) -> int:
    """``course grade --scheduler``: one task per notebook on a Dask cluster (course_utils.grading.cluster)."""
    import time

    from course_utils.grading.cluster import ClusterError, Settings, grade_on_cluster
    from course_utils.grading.report import Progress

    settings = Settings(limits, timeout=args.timeout, public_weight=args.public_weight,
                        require_sandbox=args.require_sandbox, keep_scratch=args.keep_scratch,
                        kernels=args.kernels)
    start = time.perf_counter()
    print(f"grading {len(submissions)} notebooks on the Dask cluster at {args.scheduler}", file=sys.stderr)
    try:
        graded, threads = grade_on_cluster(args.scheduler, submissions, settings, Progress(len(submissions)),
                                           log=lambda message: print(message, file=sys.stderr))
    except ClusterError as exc:
        return _fail(str(exc))
    _after_grading(args, submitted, graded, *late)
    return _write_grades(out, graded, time.perf_counter() - start, threads)


def _late_options(args: argparse.Namespace, submitted: Path) -> tuple:
    """``--late-policy``, ``--due`` and ``--gradebook`` checked before grading: (policy, due_of, gradebook URL)."""
    from course_utils.grading.gradebook import database_url, due_dates
    from course_utils.grading.late import LatePolicy

    course_dir = Path(args.course_dir).resolve() if args.course_dir else submitted.parent
    url = None
    if args.gradebook is not None:
        url = database_url(args.gradebook or str(course_dir / "gradebook.db"))
    return LatePolicy.parse(args.late_policy), due_dates(args.due, url), url, course_dir


def _after_grading(args: argparse.Namespace, submitted: Path, graded: list, policy, due_of, url, course_dir) -> None:
    """The late policy (a row per late notebook), then nbgrader's gradebook (``--gradebook``)."""
    from course_utils.grading.grade import Row
    from course_utils.grading.late import apply_late

    apply_late(graded, policy, due_of, Row)
    if url is not None:
        from course_utils.grading.gradebook import course_id_of, write_gradebook

        course_id = args.course_id if args.course_id is not None else course_id_of(course_dir)
        from course_utils.grading.late import parse_time

        write_gradebook(url, graded, course_dir, course_id=course_id, due=parse_time(args.due) if args.due else None,
                        log=lambda message: print(message, file=sys.stderr))


# -- course export ------------------------------------------------------------

def cmd_export(args: argparse.Namespace) -> int:
    from course_utils.grading.export import export, read_grades, read_roster

    grades = Path(args.grades)
    if not (grades / "grades.csv" if grades.is_dir() else grades).is_file():
        return _fail(f"{args.grades}: no grades.csv there (run course grade --out {args.grades} first)")
    try:
        roster = read_roster(Path(args.roster)) if args.roster else {}
        text = export(read_grades(grades), roster, args.format,
                      warn=lambda message: print(f"note: {message}", file=sys.stderr))
    except (OSError, ValueError, KeyError) as exc:
        return _fail(str(exc))
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
        print(f"{args.format} export: {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


# -- course progress ----------------------------------------------------------

def cmd_progress(args: argparse.Namespace) -> int:
    """Per lab: the exercises whose public checks passed, the last attempt and what to do next, from the
    checks the learner ran in JupyterLab (course_utils/progress.py; nothing leaves the machine)."""
    from course_utils.progress import next_lab, progress_file, summarize

    labs = summarize()
    rows = [[lab.lab, f"{lab.n_passed}/{len(lab.exercises)}", lab.last_attempt or "-", lab.next_step()]
            for lab in labs]
    print(format_table(["lab", "passed", "last attempt", "next"], rows))
    print(f"\n{next_lab(labs)}")
    print(f"(public checks you ran in JupyterLab, kept in {progress_file() or 'no file: COURSE_PROGRESS=off'})")
    return 0


def _shown(path: Path, root: Path) -> str:
    path = Path(path).resolve()
    return str(path.relative_to(root)) if path.is_relative_to(root) else str(path)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="course", description="Training Deep Networks: lessons, labs and grading.")
    parser.add_argument("--version", action="version", version=f"course {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    lab = commands.add_parser("lab", help="open JupyterLab on notebooks/00_start_here.ipynb")
    lab.add_argument("--no-browser", action="store_true", help="start the server without opening a browser")
    lab.add_argument("--port", type=int, help="port of the JupyterLab server")
    lab.set_defaults(run=cmd_lab)

    run = commands.add_parser("run", help="execute notebooks headless in fresh kernels and time them")
    run.add_argument("paths", nargs="*", help="notebooks or folders (default: notebooks/ and solutions/)")
    run.add_argument("--timeout", type=float, default=600, metavar="S", help="seconds allowed per notebook")
    run.set_defaults(run=cmd_run)

    check = commands.add_parser("check", help="run a lab and report each exercise's points")
    check.add_argument("notebook", help="a lab notebook, e.g. exercises/03_initialization.ipynb")
    check.add_argument("--json", action="store_true",
                       help="print a JSON list: per exercise {exercise, title, points, max_points, status, message, "
                            "cases: [{label, status, hidden, got, want, message}]}")
    check.add_argument("--verbose", "-v", action="store_true", help="list every case, passed ones too")
    check.add_argument("--timeout", type=float, default=600, metavar="S", help="seconds allowed for the notebook")
    check.set_defaults(run=cmd_check)

    rel = commands.add_parser("release", help="regenerate exercises/ and the reference answers from solutions/")
    rel.add_argument("labs", nargs="*", help="only these labs, e.g. solutions/03_initialization.ipynb (default: all)")
    rel.add_argument("--check", action="store_true", help="write nothing; exit 1 if anything is out of date")
    rel.add_argument("--force", action="store_true", help="overwrite exercise notebooks even if edited")
    rel.add_argument("--timeout", type=float, default=600, metavar="S", help="seconds allowed per solution")
    rel.set_defaults(run=cmd_release)
    grade = commands.add_parser("grade", help="grade a class of submissions in parallel, sandboxed")
    grade.add_argument("submitted", help="submitted/<student>/<assignment>/<notebook>.ipynb, or <student>/<notebook>.ipynb")
    grade.add_argument("--out", required=True, help="where grades.csv and feedback/ are written")
    grade.add_argument("--workers", type=int, default=min(8, os.cpu_count() or 1), metavar="N",
                       help="notebooks graded at the same time (default: the number of CPUs)")
    grade.add_argument("--timeout", type=float, default=300, metavar="S", help="seconds allowed per notebook")
    grade.add_argument("--memory-mb", type=int, default=2048, metavar="M",
                       help="memory limit per notebook, all its processes together (default: 2048)")
    grade.add_argument("--max-processes", type=int, default=256, metavar="N",
                       help="processes and threads per notebook (default: 256)")
    grade.add_argument("--disk-mb", type=int, default=512, metavar="M",
                       help="size of each notebook's private /tmp, its scratch folder included (default: 512)")
    grade.add_argument("--public-weight", type=float, default=None, metavar="W",
                       help="share of an exercise's points that its public cases alone can earn when it has "
                            "hidden cases, from 0 to 1 (default: every case weighs the same)")
    grade.add_argument("--source", metavar="DIR",
                       help="the lab sources: DIR/<notebook>.ipynb or DIR/<assignment>/<notebook>.ipynb "
                            "(default: solutions/)")
    grade.add_argument("--require-sandbox", action="store_true",
                       help="refuse to grade if the bubblewrap sandbox cannot run here")
    grade.add_argument("--keep-scratch", action="store_true", help="keep each notebook's scratch folder")
    grade.add_argument("--kernels", choices=("warm", "cold"), default="warm",
                       help="warm (default): each worker imports the libraries once and forks a sandboxed kernel "
                            "per notebook; cold: a new interpreter per notebook. Cold where warm cannot run here")
    grade.add_argument("--gradebook", nargs="?", const="", metavar="URL",
                       help="also record the nbgrader notebooks' scores in nbgrader's gradebook (a database URL such "
                            "as sqlite:///gradebook.db, or a file; alone: the course directory's gradebook.db), "
                            "with autograded/ beside submitted/, for formgrader, nbgrader export and feedback")
    grade.add_argument("--course-dir", metavar="DIR",
                       help="nbgrader's course directory (default: the folder that holds SUBMITTED)")
    grade.add_argument("--course-id", metavar="ID",
                       help="nbgrader's course id (default: the course directory's nbgrader_config.py's)")
    grade.add_argument("--late-policy", default="none", metavar="POLICY",
                       help="none (default), zero, per-hour:P or per-day:P (P %% of the points earned per started "
                            "hour or day late), optionally followed by ,cutoff:H (0 points past H hours late)")
    grade.add_argument("--due", metavar="DATE",
                       help="the due date, e.g. '2026-03-01 12:00:00 UTC' (default: the gradebook's, with each "
                            "student's extension); submission times are read from timestamp.txt")
    grade.add_argument("--scheduler", metavar="ADDRESS",
                       help="grade on a Dask cluster, one task per notebook: its scheduler's address, e.g. "
                            "tcp://HOST:8786 (default: a local pool of --workers)")
    grade.set_defaults(run=cmd_grade)

    export = commands.add_parser("export", help="grades.csv for a learning-management system")
    export.add_argument("grades", help="the folder course grade wrote (or its grades.csv)")
    export.add_argument("--format", choices=("canvas", "long", "wide"), default="long",
                        help="canvas: Canvas's gradebook CSV; long: one row per student and assignment; "
                             "wide: one row per student (default: long)")
    export.add_argument("--roster", metavar="CSV",
                        help="a roster with a 'student' column (the submission folders' names) and any of name, "
                             "id, sis_user_id, sis_login_id, section, email")
    export.add_argument("--out", metavar="FILE", help="write here (default: standard output)")
    export.set_defaults(run=cmd_export)

    progress = commands.add_parser("progress", help="your progress: per lab, public checks passed and what next")
    progress.set_defaults(run=cmd_progress)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
