"""``course grade --scheduler tcp://HOST:8786``: a class graded on a Dask cluster, one task per notebook.

The grader's machine does what needs the instructor's files: it finds the
submissions (:mod:`.collect`), loads each lab with its reference answers and
its learners' variants as the local run does (:func:`load_labs`), and reads
each notebook without trusting it (:func:`.grade.prepare`). What travels to the cluster is plain data: the
notebook's bytes with the submission's names and notes (:class:`.grade.Task`,
no path of the grader's), and once per lab its source, released notebook and
reference answers (:class:`.grade.Lab`, sent as a task of its own that every
grading task of that lab depends on). A worker needs the course package
installed -- the same version as the grader's, checked -- and nothing else:
it grades in its own sandbox (:class:`.sandbox.Sandbox`, made once per worker
process from the run's :class:`Settings`) with the step the local pool uses,
:meth:`.grade.Grader.grade_task`. The results come back as data and are written
here as a local run writes them (same ``grades.csv``, byte for byte).

A worker lost mid-run costs a retry of its notebooks, nothing more: the
scheduler runs a lost worker's tasks again elsewhere (a lost lab task too: its
data is in its spec). Each notebook's key is a digest of everything its grade
depends on, so a key names one grading, and each key's result is used once.
A notebook whose task fails anyway (it killed ``distributed.scheduler.allowed-failures``
workers in a row) gets "grader error" rows saying so: the gradebook is always
complete.

Example::

    graded, threads = grade_on_cluster("tcp://10.0.0.5:8786", submissions, Settings(timeout=300))
    write_outputs(Path("out"), graded)

>>> plain_task(Task(Submission("ann", "00_warmup", "00_warmup", Path("/srv/in/ann/00.ipynb"),
...                            Path("/srv/solutions/00_warmup.ipynb"), root=Path("/srv/in")), "00.ipynb", b"{}"))
Task(submission=Submission(student='ann', assignment='00_warmup', notebook='00_warmup', path=None, source=None, \
notes=(), problem=None, root=None), filename='00.ipynb', data=b'{}')
"""

from __future__ import annotations

import atexit
import copy
import dataclasses
import hashlib
import json
import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import course_utils
from course_utils.grading.collect import Submission
from course_utils.grading.grade import Graded, Grader, Lab, Task, _grader_error, prepare
from course_utils.grading.limits import Limits
from course_utils.grading.sandbox import COLD, Sandbox, sandbox_problem

KEY_PREFIX = "course-grade-"
LAB_PREFIX = "course-lab-"
CONNECT_SECONDS = 30       # to reach the scheduler
WORKERS_SECONDS = 120      # for a first worker to join


class ClusterError(RuntimeError):
    """The cluster cannot grade this class (no scheduler, no worker, another course package...)."""


@dataclass(frozen=True)
class Settings:
    """How every notebook of a run is graded, the same on every worker."""

    limits: Limits = field(default_factory=Limits)
    timeout: float = 300
    public_weight: float | None = None
    require_sandbox: bool = False
    keep_scratch: bool = False
    kernels: str = COLD       # or WARM: forks of a zygote per worker thread (:mod:`.warm`), cold where it cannot


# -- on the grader's machine ------------------------------------------------------------------------

def plain_task(task: Task) -> Task:
    """The task as it travels: the submission's names and notes, the file's name and bytes, no path."""
    return dataclasses.replace(task, submission=dataclasses.replace(task.submission, path=None, source=None,
                                                                    root=None))


def plain_lab(lab: Lab) -> Lab:
    """The lab as it travels: its notebooks and answers; its path (and the released notebook's record of
    it) reduced to the file's name."""
    released = copy.deepcopy(lab.released)
    origin = released.metadata.get("course", {})
    if "generated_from" in origin:
        origin["generated_from"] = Path(origin["generated_from"]).name
    return dataclasses.replace(lab, path=Path(lab.path.name), released=released)


def lab_digest(lab: Lab) -> str:
    """What a lab's grading depends on: all its data (source, cases, reference answers...) but its path."""
    data = {name: value for name, value in dataclasses.asdict(plain_lab(lab)).items() if name != "path"}
    text = json.dumps(data, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def task_key(task: Task, lab_key: str, settings: Settings, package: str) -> str:
    """A key per submission, the same whenever the same notebook is graded the same way (idempotent):
    its names, notes and bytes, its lab, the settings and the course package."""
    sub = task.submission
    digest = hashlib.sha256()
    for part in (sub.student, sub.assignment, sub.notebook, "\0".join(sub.notes), task.filename, lab_key,
                 repr(settings), package):
        digest.update(part.encode("utf-8", "surrogateescape") + b"\0")
    digest.update(task.data)
    return KEY_PREFIX + digest.hexdigest()[:40]


def grade_on_cluster(scheduler, submissions: list[Submission], settings: Settings,
                     on_done: Callable[[Graded, int, int], None] = lambda graded, done, total: None, *,
                     log: Callable[[str], None] = print) -> tuple[list[Graded], int]:
    """Grade ``submissions`` on the Dask cluster of ``scheduler`` (an address such as ``tcp://host:8786``,
    or a ``distributed.Client``): the gradebook's rows in submission order, and the cluster's number of
    threads. ``on_done(graded, done, total)`` is called as each notebook comes back (a progress line).

    Raises :class:`ClusterError` when the cluster cannot grade (it is unreachable, has no worker, a worker
    runs another version of the course package, or cannot sandbox while ``settings.require_sandbox``), or
    the class has nbgrader assignments (graded locally only, for now).
    """
    client, own = _client(scheduler)  # first: an unreachable scheduler is said at once
    try:
        return _grade_with(client, submissions, settings, on_done, log)
    finally:
        if own:
            client.close()


def _grade_with(client, submissions: list[Submission], settings: Settings, on_done, log) -> tuple[list[Graded], int]:
    labs = load_labs(submissions, settings, log)
    other = sorted({str(path) for path, lab in labs.items() if not isinstance(lab, (Lab, str))})
    if other:
        raise ClusterError(f"{', '.join(other)}: nbgrader assignments are graded without --scheduler (their tasks "
                           "would need the files beside each submission)")
    results: list[Graded | None] = [None] * len(submissions)
    tasks: dict[int, Task] = {}
    for index, sub in enumerate(submissions):
        found = _prepared(sub, labs.get(sub.source))
        if isinstance(found, Task):
            tasks[index] = found
        else:
            results[index] = found
    done = 0
    for graded in results:  # what cannot be graded is known at once
        if graded is not None:
            done += 1
            on_done(graded, done, len(submissions))
    if not tasks:
        return [r for r in results if r is not None], 0
    package = package_digest()
    threads = _check_workers(client, settings, package, log)
    used = {submissions[index].source for index in tasks}
    lab_keys = {path: LAB_PREFIX + lab_digest(labs[path]) for path in used}
    lab_futures = {path: client.submit(_lab_value, plain_lab(labs[path]), key=key, pure=False)
                   for path, key in lab_keys.items()}
    keys: dict[str, list[int]] = {}
    for index, task in tasks.items():
        keys.setdefault(task_key(task, lab_keys[submissions[index].source], settings, package), []).append(index)
    futures = [client.submit(grade_remote, plain_task(tasks[indices[0]]), lab_futures[submissions[indices[0]].source],
                             settings, package, key=key, pure=False)
               for key, indices in keys.items()]
    for index, graded in receive(_completed(client, futures), keys, labs, submissions, log):
        results[index] = graded
        done += 1
        on_done(graded, done, len(submissions))
    return [r for r in results if r is not None], threads


def load_labs(submissions: list[Submission], settings: Settings, log: Callable[[str], None] = print) -> dict:
    """``{source path: lab, or why it cannot be used}`` for the class, loaded as the local run loads them
    (:meth:`.grade.Grader.load_labs`: reference answers, then each learner's variant), by a grader that
    runs no submission."""
    from course_utils.grading.nbgrader_course import CourseGrader

    loader = CourseGrader(Sandbox(settings.limits, use_bwrap=False), timeout=settings.timeout,
                          public_weight=settings.public_weight)
    try:
        loader.load_labs(submissions, log=log)
        return {sub.source: loader.lab(sub.source, log=log) for sub in submissions if sub.source is not None}
    finally:
        loader.close()


def _prepared(sub: Submission, lab: Lab | str | None) -> Task | Graded:
    """:func:`.grade.prepare`; a grader bug costs one notebook."""
    try:
        return prepare(sub, lab)
    except Exception as exc:
        return _grader_error(sub, lab, exc)


def receive(completed: Iterable[tuple[str, object]], keys: dict[str, list[int]], labs: dict[Path, Lab | str],
            submissions: list[Submission], log: Callable[[str], None] = print):
    """``(index, graded)`` for each submission, once: the first result of each key (the submissions it
    grades: ``keys``), with the grader's own submission put back; a task that failed gives "grader error"
    rows; a key seen again is ignored."""
    seen: set[str] = set()
    for key, outcome in completed:
        if key not in keys or key in seen:
            continue
        seen.add(key)
        for index in keys[key]:
            sub = submissions[index]
            if isinstance(outcome, BaseException):
                log(f"note: {sub.student}/{sub.notebook}: the cluster could not grade it "
                    f"({type(outcome).__name__})")
                graded = _grader_error(sub, labs.get(sub.source), RuntimeError(
                    f"the cluster could not grade it: {type(outcome).__name__}: {outcome}"))
            else:
                graded = dataclasses.replace(outcome[0], submission=sub)
            yield index, graded


def _completed(client, futures) -> Iterable[tuple[str, object]]:
    """``(key, result or exception)`` as each future finishes."""
    from distributed import as_completed

    for future in as_completed(futures, loop=client.loop):
        try:
            yield future.key, future.result()
        except Exception as exc:  # KilledWorker, a cancelled future...
            yield future.key, exc


def _client(scheduler):
    from distributed import Client

    if isinstance(scheduler, Client):
        return scheduler, False
    try:
        return Client(scheduler, timeout=CONNECT_SECONDS, set_as_default=False), True
    except (OSError, TimeoutError) as exc:
        raise ClusterError(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from None


def _check_workers(client, settings: Settings, package: str, log) -> int:
    """The cluster's threads, after checking that its workers can grade as asked (see the module doc)."""
    try:
        client.wait_for_workers(1, timeout=WORKERS_SECONDS)
    except TimeoutError:
        raise ClusterError(f"no Dask worker joined the scheduler in {WORKERS_SECONDS} s") from None
    found = client.run(worker_state)
    other = sorted(address for address, (digest, _) in found.items() if digest != package)
    if other:
        raise ClusterError(f"{len(other)} worker(s) run another version of the course package than this grader "
                           f"({', '.join(other[:3])}): install the same one on every worker")
    unsandboxed = sorted(address for address, (_, problem) in found.items() if problem)
    if unsandboxed:
        problem = found[unsandboxed[0]][1]
        if settings.require_sandbox:
            raise ClusterError(f"{len(unsandboxed)} worker(s) cannot sandbox ({unsandboxed[0]}: {problem})")
        log(f"warning: on {len(unsandboxed)} of {len(found)} worker(s), submissions run WITHOUT a sandbox: "
            f"{problem}")
    threads = sum(info["nthreads"] for info in client.scheduler_info()["workers"].values())
    sandboxed = "in a bubblewrap sandbox" if not unsandboxed else "see the warning above"
    log(f"Dask cluster at {client.scheduler.address}: {len(found)} worker(s), {threads} thread(s); each notebook "
        f"graded by one worker, {sandboxed}")
    return threads


# -- on a worker -------------------------------------------------------------------------------------

_graders: dict[Settings, Grader] = {}
_graders_lock = threading.Lock()
_log = logging.getLogger("course_utils.grading")


def package_digest() -> str:
    """A digest of the course package's code that judges and grades (``checks`` and ``grading``), as
    installed now: a worker must run the grader's own, or the same notebook could get another grade."""
    root = Path(course_utils.__file__).resolve().parent
    digest = hashlib.sha256()
    for path in sorted([*(root / "checks").rglob("*.py"), *(root / "grading").rglob("*.py")]):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def worker_state() -> tuple[str, str]:
    """On a worker: its course package's digest, and why it cannot sandbox (empty when it can)."""
    return package_digest(), sandbox_problem()


def _lab_value(lab: Lab) -> Lab:
    return lab


def worker_grader(settings: Settings) -> Grader:
    """This worker process's grader for ``settings``: its sandbox and scratch, made once."""
    with _graders_lock:
        if settings not in _graders:
            sandbox = Sandbox.create(settings.limits, allow_unsandboxed=not settings.require_sandbox,
                                     kernels=settings.kernels, warn=_log.warning)
            grader = Grader(sandbox, timeout=settings.timeout, keep_scratch=settings.keep_scratch,
                            public_weight=settings.public_weight)
            atexit.register(grader.close)
            _graders[settings] = grader
        return _graders[settings]


def grade_remote(task: Task, lab: Lab, settings: Settings, package: str) -> tuple[Graded, str]:
    """The cluster's task: grade one notebook in this worker's sandbox. Returns the graded notebook (plain
    data) and how it ran (:meth:`.sandbox.Sandbox.describe`). Never raises: a problem is rows."""
    try:
        if package != package_digest():
            raise RuntimeError("this worker runs another version of the course package than the grader")
        grader = worker_grader(settings)
    except Exception as exc:
        return _grader_error(task.submission, lab, exc), ""
    return grader.grade_task(task, lab), grader.sandbox.describe()
