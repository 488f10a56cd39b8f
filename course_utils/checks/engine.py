"""Exercises, and how a learner's function is run and judged on their cases.

The engine is split in three steps so that they can run in different
processes:

1. :func:`attempt` runs the learner's function on one case (in the learner's
   kernel) and returns an :class:`Attempt` holding a *plain* JSON value;
2. :func:`judge` compares one attempt with the reference value (anywhere:
   in the kernel for instant feedback, in the grader's own process when
   grading);
3. :func:`score` turns the judged cases into points.

>>> from course_utils.checks.compare import close
>>> ex = Exercise("demo.double", "Double it", points=2, cases=({"x": 1}, {"x": 2}))
>>> a = attempt(ex, lambda x: 2 * x, {"x": 2})
>>> a.status, a.value
('ok', 4)
>>> judge(ex, {"x": 2}, a, want=4).status
'passed'
"""

from __future__ import annotations

import json
import signal
import threading
import time
import traceback
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable

from .compare import Comparator, close
from .hints import Hint, first_match
from .values import from_plain, short_repr, to_plain

# Case statuses
PASSED = "passed"
FAILED = "failed"
NOT_ATTEMPTED = "not attempted"
ERROR = "error"
TIMEOUT = "timeout"
NO_REFERENCE = "no reference"

# Exercise statuses (besides PASSED, FAILED, NOT_ATTEMPTED and ERROR)
PARTIAL = "partial"


@dataclass(frozen=True)
class Exercise:
    """One graded exercise: the learner writes a function, we call it on cases.

    ``cases`` are the public inputs, as JSON-compatible dicts. ``arguments``
    turns a case into the keyword arguments of the learner's function (e.g.
    builds a model from layer sizes); ``observe`` turns the function's result
    into the value that is compared (e.g. a model into its per-layer weight
    standard deviations). ``timeout`` is the time limit of one case, seconds.
    """

    id: str
    title: str
    points: float
    cases: tuple[dict, ...]
    compare: Comparator = field(default_factory=close)
    hints: tuple[Hint, ...] = ()
    arguments: Callable[[dict], dict] | None = None
    observe: Callable[[Any, dict], Any] | None = None
    timeout: float = 10.0

    def label(self, case: dict) -> str:
        """How a case is shown to the learner, e.g. ``fan_in=64``."""
        text = ", ".join(f"{key}={value!r}" for key, value in case.items())
        return text if len(text) <= 70 else text[:67] + "..."


@dataclass
class Attempt:
    """What happened when the learner's function ran on one case (plain data)."""

    status: str  # "ok", NOT_ATTEMPTED, ERROR or TIMEOUT
    value: Any = None
    error: str = ""
    seconds: float = 0.0


@dataclass
class CaseResult:
    label: str
    status: str
    got: str = ""
    want: str = ""
    message: str = ""
    hidden: bool = False


@dataclass
class ExerciseResult:
    exercise: str
    title: str
    points: float
    max_points: float
    status: str
    cases: list[CaseResult]
    message: str = ""

    @property
    def hidden_run(self) -> bool:
        return any(case.hidden for case in self.cases)


class CaseTimeout(BaseException):
    """Raised inside a case that ran past its time limit.

    A ``BaseException`` so that a learner's ``except Exception`` cannot
    swallow it.
    """


def attempt(exercise: Exercise, function: Callable, case: dict) -> Attempt:
    """Run ``function`` on ``case`` and return the observed value as plain data.

    Raising ``NotImplementedError`` means "not attempted"; any other exception
    or a timeout is reported with a short traceback. Random generators are
    seeded before each case so that the same function gives the same answer.
    """
    from course_utils.data import set_seed

    if not callable(function):
        return Attempt(ERROR, error=f"expected a function, got {type(function).__name__}: {short_repr(function)}")
    kwargs = _fresh(case)
    start = time.perf_counter()
    try:
        with _time_limit(exercise.timeout), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # nbgrader scores any stderr output as 0
            if exercise.arguments is not None:
                kwargs = exercise.arguments(kwargs)
            set_seed(0)
            result = function(**kwargs)
            observed = result if exercise.observe is None else exercise.observe(result, kwargs)
            value = to_plain(observed)
    except NotImplementedError:
        return Attempt(NOT_ATTEMPTED, seconds=time.perf_counter() - start)
    except CaseTimeout:
        return Attempt(TIMEOUT, error=f"took longer than {exercise.timeout:g} s", seconds=exercise.timeout)
    except Exception as exc:  # the learner's code may raise anything
        return Attempt(ERROR, error=describe_exception(exc), seconds=time.perf_counter() - start)
    return Attempt("ok", value=value, seconds=time.perf_counter() - start)


def judge(exercise: Exercise, case: dict, attempt: Attempt, want: Any, *, hidden: bool = False,
          has_reference: bool = True, index: int = 0) -> CaseResult:
    """Compare one attempt with the reference value ``want`` (plain data).

    Hidden cases are labelled by number only and never show the expected value.
    """
    label = f"hidden case {index + 1}" if hidden else exercise.label(case)
    if attempt.status != "ok":
        return CaseResult(label, attempt.status, message=attempt.error, hidden=hidden)
    try:
        got = from_plain(attempt.value)
        shown_got = short_repr(got)
    except Exception:  # a record the learner's kernel forged or mangled
        return CaseResult(label, FAILED, message="unreadable answer", hidden=hidden)
    if not has_reference:
        return CaseResult(label, NO_REFERENCE, shown_got,
                          message="no reference answer for this case: run `course release`", hidden=hidden)
    want = from_plain(want)
    try:
        verdict = exercise.compare(got, want)
    except Exception as exc:
        return CaseResult(label, FAILED, shown_got, message=f"could not compare this answer ({type(exc).__name__})",
                          hidden=hidden)
    if verdict.ok:
        return CaseResult(label, PASSED, shown_got, hidden=hidden)
    hint = first_match(exercise.hints, got, want, _fresh(case))
    message = hint or verdict.why
    if hidden and not hint:
        message = _without_expected(verdict.why)
    return CaseResult(label, FAILED, shown_got, "" if hidden else short_repr(want), message, hidden)


def score(exercise: Exercise, cases: list[CaseResult]) -> ExerciseResult:
    """Points are shared equally between the cases (partial credit)."""
    total = len(cases)
    passed = sum(case.status == PASSED for case in cases)
    if total == 0:
        return ExerciseResult(exercise.id, exercise.title, 0.0, float(exercise.points), ERROR, cases,
                              "this exercise was never checked")
    if all(case.status == NOT_ATTEMPTED for case in cases):
        status = NOT_ATTEMPTED
    elif passed == total:
        status = PASSED
    elif passed:
        status = PARTIAL
    else:
        status = FAILED
    points = round(exercise.points * passed / total, 4)
    return ExerciseResult(exercise.id, exercise.title, points, float(exercise.points), status, cases)


def case_key(case: dict) -> str:
    """A canonical string for a case's inputs: the key of its reference answer.

    >>> case_key({"fan_out": 3, "fan_in": 2})
    '{"fan_in":2,"fan_out":3}'
    """
    return json.dumps(case, sort_keys=True, separators=(",", ":"))


def grade(exercise: Exercise, attempts: list[tuple[dict, bool, Attempt]], answers: dict[str, Any]) -> ExerciseResult:
    """Judge every ``(case, hidden, attempt)`` against ``answers`` ({case key: value}) and score it.

    The same function gives the instant feedback of ``check`` in a kernel and
    the grader's verdict in its own process.
    """
    judged = []
    hidden_index = 0
    for case, hidden, result in attempts:
        key = case_key(case)
        judged.append(judge(exercise, case, result, answers.get(key), hidden=hidden,
                            has_reference=key in answers, index=hidden_index))
        hidden_index += hidden
    return score(exercise, judged)


def describe_exception(exc: BaseException) -> str:
    """``"ZeroDivisionError: division by zero (line 3 in he_std)"``: where the learner's code failed."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if "course_utils" not in f.filename]
    where = f" (line {frames[-1].lineno} in {frames[-1].name})" if frames else ""
    text = f"{type(exc).__name__}: {exc}".strip().rstrip(":")
    if len(text) > 300:
        text = text[:297] + "..."
    return text + where


def _fresh(case: dict) -> dict:
    """A deep copy of a case, so that a function that mutates its inputs cannot spoil the next case."""
    return json.loads(json.dumps(case))


SAFE_FOR_HIDDEN = ("shape ", "length ", "got None", "contains NaN", "expected a", "missing key", "unexpected key")


def _without_expected(why: str) -> str:
    """Say what kind of difference a hidden case found, never the reference value."""
    return why if why.startswith(SAFE_FOR_HIDDEN) else "wrong answer on this case"


@contextmanager
def _time_limit(seconds: float):
    """Raise :class:`CaseTimeout` after ``seconds`` (POSIX main thread only)."""
    usable = (hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
              and seconds and seconds > 0)
    if not usable:
        yield
        return

    def on_alarm(signum, frame):
        raise CaseTimeout()

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
