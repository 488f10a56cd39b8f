"""Run a lab in record mode and collect the answers of its test cells: one runner for ``course release``
(the reference solution), ``course check`` (one notebook) and ``course grade`` (a class, sandboxed).

The kernel's test cells only *record* what the learner's functions returned
(:mod:`course_utils.checks.answers`); the records stream back through a pipe
the runner owns (:mod:`.channel`), each tied to the test cell that was running
when it arrived and kept only if it answers that cell's own exercise.

Example::

    run = run_recorded(nb, lab_exercises(nb), cwd="solutions", timeout=600)
    run.execution.status, len(run.records)    # ('ok', 54)
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from course_utils.checks.answers import RECORD_ENV
from course_utils.checks.engine import LEARNER_ENV
from course_utils.checks.registry import definitions_digest
from course_utils.grading.channel import RecordChannel
from course_utils.grading.markup import lab_exercises
from course_utils.notebooks import OK, Execution, KernelLaunch, NotebookError, cells_digest, execute_notebook

MAX_OUTPUT_BYTES = 4 * 2**20   # a graded notebook's outputs kept by the grader, all cells together


@dataclass
class Recorded:
    """A notebook run in record mode."""

    execution: Execution
    records: list[dict]                                   # each test cell's records of its own exercise
    oversized: list[str] = field(default_factory=list)    # exercises whose answers were too large to read
    stopped_at: str = ""                                  # the sandbox limit that stopped the kernel, if any


def run_recorded(nb: nbformat.NotebookNode, exercises: list[tuple[str, int]], *, cwd: str | Path,
                 timeout: float, sandbox=None, workdir: Path | None = None, learner: str | None = None) -> Recorded:
    """Execute ``nb`` (every cell, errors or not) with ``check`` in record mode, and collect the records.

    ``exercises`` are ``(exercise id, test cell index)`` pairs. With a ``sandbox``
    (:class:`.sandbox.Sandbox`) the kernel runs in it, under its limits, with
    ``workdir`` as the grader's private folder for that kernel, and the grader
    keeps at most ``MAX_OUTPUT_BYTES`` of outputs; without one it runs as the
    current user in ``cwd`` (release and ``course check``). ``learner`` is the learner id whose variant
    the varying exercises run (``$COURSE_LEARNER`` in the kernel; :mod:`.variants`).
    """
    exercise_of = {index: exercise for exercise, index in exercises}
    channel = RecordChannel()
    session = None
    try:
        inherited, started = (channel.write_fd,), lambda pid: channel.release_writer()
        kernel_env = {RECORD_ENV: channel.target, **({LEARNER_ENV: learner} if learner else {})}
        if sandbox is None:
            launch = KernelLaunch(pass_fds=inherited, started=started)
            env, cap = kernel_env, None
        else:
            launch, session = sandbox.launch(workdir, kernel_env, inherited, started)
            env, cap = {}, MAX_OUTPUT_BYTES
        execution = execute_notebook(nb, cwd=cwd, timeout=timeout, env=env, launch=launch, allow_errors=True,
                                     hooks=channel.hooks(set(exercise_of)), max_output_bytes=cap)
    finally:
        channel.close()
        stopped_at = session.finish() if session is not None else ""
    oversized = [exercise_of[index] for index in sorted(channel.oversized)]
    return Recorded(execution, channel.records(exercise_of), oversized, stopped_at)


def record_reference(nb: nbformat.NotebookNode, *, cwd: str | Path, timeout: float, name: str) -> list[dict]:
    """Run an instructor's solution in record mode: the records of its test cells, which must all be
    answers (the reference answers of ``course release`` and of the grader).

    Raises :class:`NotebookError` saying why the solution cannot give reference answers.
    """
    exercises = lab_exercises(nb)
    run = run_recorded(nb, exercises, cwd=cwd, timeout=timeout)
    if run.execution.status != OK:
        raise NotebookError(f"{name}: the reference solution does not run cleanly: {run.execution.summary()}")
    failures = [record for record in run.records if record["status"] != "ok"]
    if failures:
        first = failures[0]
        raise NotebookError(f"{name}: the reference solution of {first['exercise']} failed on case "
                            f"{first['case']}: {first['status']} {first.get('error', '')}".rstrip())
    missing = sorted({exercise for exercise, _ in exercises} - {record["exercise"] for record in run.records})
    if missing:
        raise NotebookError(f"{name}: the reference solution never checked {', '.join(missing)}")
    return run.records


def answers_fingerprint(nb: nbformat.NotebookNode) -> str:
    """What a lab's reference answers depend on: the solution's cells *and* the definitions of the
    exercises it checks (their cases, ``arguments``, ``observe``, comparators: see
    :func:`course_utils.checks.registry.definitions_digest`).

    ``course release`` stores it in the answer files (``source_sha256``); the grader recomputes answers
    recorded under another fingerprint instead of comparing with them, and ``course release --check``
    reports them out of date.

    >>> nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")])
    >>> len(answers_fingerprint(nb)), answers_fingerprint(nb) == cells_digest(nb)
    (64, False)
    """
    exercises = [exercise for exercise, _ in lab_exercises(nb)]
    text = f"cells {cells_digest(nb)}\ndefinitions {definitions_digest(exercises)}\n"
    return hashlib.sha256(text.encode()).hexdigest()
