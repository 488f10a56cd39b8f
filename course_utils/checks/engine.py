"""Exercises, and how a learner's function is run and judged on their cases.

The engine is split in three steps so that they can run in different
processes:

1. :func:`attempt` runs the learner's function on one case (in the learner's
   kernel) and returns an :class:`Attempt` holding the answer as *plain* JSON
   data, exactly as a record file holds it (:func:`.values.canonical`);
2. :func:`judge` validates the kind of the answer (:mod:`.validate`), then
   compares it with the reference value (in the kernel for instant feedback,
   in the grader's own process when grading) -- the same function, on the
   same plain data, so a check and a grade never disagree;
3. :func:`score` turns the judged cases into points.

>>> from course_utils.checks.compare import close
>>> ex = Exercise("demo.double", "Double it", points=2, cases=({"x": 1}, {"x": 2}))
>>> a = attempt(ex, lambda x: 2 * x, {"x": 2})
>>> a.status, a.value
('ok', 4)
>>> judge(ex, {"x": 2}, a, want=4).status
<Status.PASSED: 'passed'>
"""

from __future__ import annotations

import hashlib
import inspect
import json
import re
import signal
import sysconfig
import threading
import time
import traceback
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, Callable

from .compare import Comparator, call, close
from .forbid import forbidden_uses
from .hints import Hint, first_match
from .validate import problem
from .values import AnswerError, UnreadableAnswer, canonical, describe, from_plain, kind, short_repr, to_plain


class Status(str, Enum):
    """What happened to a case or an exercise. Compares equal to its text: ``Status.PASSED == "passed"``."""

    PASSED = "passed"
    PARTIAL = "partial"            # exercises only: some points
    FAILED = "failed"
    NOT_ATTEMPTED = "not attempted"
    ERROR = "error"
    TIMEOUT = "timeout"
    NO_REFERENCE = "no reference"

    def __str__(self) -> str:
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)


PASSED, PARTIAL, FAILED = Status.PASSED, Status.PARTIAL, Status.FAILED
NOT_ATTEMPTED, ERROR, TIMEOUT, NO_REFERENCE = Status.NOT_ATTEMPTED, Status.ERROR, Status.TIMEOUT, Status.NO_REFERENCE

#: the statuses of an :class:`Attempt` ("rejected": an answer that is not acceptable, with a sentence why)
OK, REJECTED = "ok", "rejected"
ATTEMPT_STATUSES = (OK, REJECTED, NOT_ATTEMPTED.value, ERROR.value, TIMEOUT.value)

#: what a hidden case says about any wrong answer: a fixed sentence, so that it tells nothing of the reference
HIDDEN_WRONG = "wrong answer on this case"


@dataclass(frozen=True)
class Exercise:
    """One graded exercise: the learner writes a function, we call it on cases.

    ``cases`` are the public inputs, as JSON-compatible dicts. ``arguments``
    turns a case into the keyword arguments of the learner's function (e.g.
    builds a model from layer sizes); ``observe(result, kwargs)`` turns the
    function's result into the value that is compared (e.g. a model into its
    per-layer weight standard deviations); ``probe(function, kwargs)``, when
    given, replaces the call and ``observe`` for exercises judged by behaviour
    (e.g. call twice: is the randomness fresh?). ``answer`` says what the
    function returns in the learner's words ("one number: the mean loss over the
    batch"); ``parts`` are keys of the observed dict that earn their share of a
    case separately; ``forbid`` lists library objects the exercise asks the
    learner not to use (:mod:`.forbid`). ``timeout`` is the time limit of one
    case, in seconds. ``compare`` is one comparator, or a dict ``{part:
    comparator}`` when ``parts`` are judged differently (a decision and its
    protocol). ``varies`` names the case keys (integer seeds) that take a value
    of the learner's own when graded under a learner id (:func:`vary`), so that
    two learners get different data and different hidden cases.
    """

    id: str
    title: str
    points: float
    cases: tuple[dict, ...]
    compare: Comparator = field(default_factory=close)
    hints: tuple[Hint, ...] = ()
    arguments: Callable[[dict], dict] | None = None
    observe: Callable[[Any, dict], Any] | None = None
    probe: Callable[[Callable, dict], Any] | None = None
    answer: str = ""
    parts: tuple[str, ...] = ()
    forbid: tuple[str, ...] = ()
    timeout: float = 10.0
    varies: tuple[str, ...] = ()

    def label(self, case: dict) -> str:
        """How a case is shown to the learner, e.g. ``fan_in=64`` (long values shortened item by item)."""
        return ", ".join(f"{key}={_shown_input(value)}" for key, value in self.in_order(case).items())

    def in_order(self, case: dict) -> dict:
        """The case with its keys in the order of the public cases (a case read back from an answer file
        has sorted keys): the same labels and sentences in a notebook and in the grader."""
        order = list(self.cases[0]) if self.cases else []
        first = [key for key in order if key in case]
        return {**{key: case[key] for key in first}, **{key: case[key] for key in sorted(case) if key not in first}}


def _shown_input(value: Any) -> str:
    text = repr(value)
    if len(text) <= 60:
        return text
    if isinstance(value, list):
        return f"[{len(value)} items]"
    if isinstance(value, dict):
        return "{" + ", ".join(map(repr, value)) + "}"
    return text[:57] + "..."


@dataclass
class Attempt:
    """What happened when the learner's function ran on one case (plain data)."""

    status: str  # one of ATTEMPT_STATUSES
    value: Any = None
    error: str = ""
    seconds: float = 0.0

    @classmethod
    def from_record(cls, record: dict) -> "Attempt":
        """An attempt from a record line, distrusting everything in it (the learner's kernel wrote it)."""
        status = record.get("status")
        if status not in ATTEMPT_STATUSES:
            return cls(ERROR.value, error="unreadable record")
        error = record.get("error", "")
        error = learner_text(error[:300]) if isinstance(error, str) else ""
        seconds = record.get("seconds", 0.0)
        seconds = float(seconds) if isinstance(seconds, (int, float)) and not isinstance(seconds, bool) else 0.0
        return cls(status, record.get("value"), error, seconds)


@dataclass
class CaseResult:
    label: str
    status: Status
    got: str = ""
    want: str = ""
    message: str = ""
    hidden: bool = False
    score: float = 0.0  # share of the case earned: 1 passed, 0 failed, between with ``parts``


@dataclass
class ExerciseResult:
    exercise: str
    title: str
    points: float
    max_points: float
    status: Status
    cases: list[CaseResult]
    message: str = ""
    public_points: float = 0.0  # how much of ``points`` came from public cases...
    hidden_points: float = 0.0  # ...and how much from hidden ones

    @property
    def hidden_run(self) -> bool:
        return any(case.hidden for case in self.cases)


class CaseTimeout(BaseException):
    """Raised inside a case that ran past its time limit (argument: whether it was the wall clock's).

    A ``BaseException`` so that a learner's ``except Exception`` cannot
    swallow it.
    """


def attempt(exercise: Exercise, function: Callable, case: dict) -> Attempt:
    """Run ``function`` on ``case`` and return the observed value as plain data.

    Raising ``NotImplementedError`` means "not attempted"; any other exception
    or a timeout is reported in a sentence (the line of the learner's code that
    failed). Before the call, the function's parameter names and the library
    calls the exercise forbids are checked. Random generators are seeded before
    each case so that the same function gives the same answer.
    """
    from course_utils.data import set_seed
    from course_utils.train import torch_threads  # cases are small: one thread is fastest, by far on shared cores

    if not callable(function):
        return Attempt(REJECTED, error=f"check(...) needs your function itself, got {describe(to_plain(function))}")
    kwargs = _fresh(exercise.in_order(case))
    if exercise.arguments is not None:
        with torch_threads(1):
            kwargs = exercise.arguments(kwargs)
    signature = signature_problem(function, kwargs)
    if signature:
        return Attempt(REJECTED, error=signature)
    used = forbidden_uses(function, exercise.forbid)
    if used:
        return Attempt(REJECTED, error="this exercise asks you to write it without "
                                       + ", ".join(f"`{name}`" for name in used[:3]))
    set_seed(0)  # its first call imports torch, seconds on a busy machine: not on the learner's time
    start = time.perf_counter()
    stage, result = "call", None
    try:
        with _time_limit(exercise.timeout), warnings.catch_warnings(), torch_threads(1):
            warnings.simplefilter("ignore")  # nbgrader scores any stderr output as 0
            set_seed(0)
            if exercise.probe is not None:
                observed = exercise.probe(function, kwargs)
            else:
                result = function(**kwargs)
                stage = "observe"
                observed = result if exercise.observe is None else exercise.observe(result, kwargs)
            value = canonical(observed)
    except NotImplementedError:
        return Attempt(NOT_ATTEMPTED.value, seconds=time.perf_counter() - start)
    except CaseTimeout as stop:
        waited = bool(stop.args and stop.args[0])
        error = (f"waited longer than {exercise.timeout * WAIT_FACTOR:g} s (an endless wait?)" if waited else
                 f"took longer than {exercise.timeout:g} s of computing (an endless loop?)")
        return Attempt(TIMEOUT.value, error=error, seconds=time.perf_counter() - start)
    except AnswerError as exc:
        return Attempt(REJECTED, error=learner_text(str(exc)), seconds=time.perf_counter() - start)
    except Exception as exc:  # the learner's code may raise anything
        seconds = time.perf_counter() - start
        ours = {getattr(f, "__code__", None) for f in (exercise.observe, exercise.probe)}
        if (stage == "observe" or exercise.probe is not None) and not _learner_frames(exc, ignore=ours):
            wanted = exercise.answer or "another kind of answer"
            got = f", got {describe(to_plain(result))}" if stage == "observe" else ""
            return Attempt(REJECTED, error=f"expected {wanted}{got}", seconds=seconds)
        return Attempt(ERROR.value, error=describe_exception(exc), seconds=seconds)
    return Attempt(OK, value=value, seconds=time.perf_counter() - start)


def signature_problem(function: Callable, kwargs: dict) -> str:
    """A sentence when ``function`` cannot be called with the template's parameter names, else ``""``.

    >>> signature_problem(lambda n: n, {"n_classes": 5})
    "keep the template's parameter names (`n_classes`): your function takes (`n`)"
    """
    try:
        parameters = inspect.signature(function).parameters
    except (TypeError, ValueError):
        return ""
    kinds = inspect.Parameter
    if any(p.kind == kinds.VAR_KEYWORD for p in parameters.values()):
        return ""
    accepted = {name for name, p in parameters.items() if p.kind in (kinds.POSITIONAL_OR_KEYWORD, kinds.KEYWORD_ONLY)}
    required = {name for name, p in parameters.items()
                if p.default is p.empty and p.kind not in (kinds.VAR_POSITIONAL, kinds.VAR_KEYWORD)}
    if set(kwargs) <= accepted and required <= set(kwargs):
        return ""
    wanted = ", ".join(f"`{name}`" for name in kwargs)
    has = ", ".join(f"`{name}`" for name in parameters)
    return f"keep the template's parameter names ({wanted}): your function takes ({has})"


def judge(exercise: Exercise, case: dict, attempt: Attempt, want: Any, *, hidden: bool = False,
          has_reference: bool = True, index: int = 0) -> CaseResult:
    """Validate and compare one attempt with the reference value ``want`` (both plain data).

    Hidden cases are labelled by number only, and what they say cannot depend on the hidden reference,
    by construction: a wrong answer gets one fixed sentence (:data:`HIDDEN_WRONG`) -- no hint runs, no
    comparator's wording, no part named, no kind, length or shape -- and how much of the case it earned
    shows only in the points.
    """
    label = f"hidden case {index + 1}" if hidden else exercise.label(case)
    if attempt.status != OK:
        status = FAILED if attempt.status == REJECTED else Status(attempt.status)
        return CaseResult(label, status, message=learner_text(attempt.error), hidden=hidden)
    try:
        got = from_plain(attempt.value)
    except UnreadableAnswer:  # a record the learner's kernel forged or mangled
        return CaseResult(label, FAILED, message="the recorded answer could not be read", hidden=hidden)
    shown_got = learner_text(short_repr(got))
    if not has_reference:
        return CaseResult(label, NO_REFERENCE, shown_got,
                          message="no reference answer for this case: run `course release`", hidden=hidden)
    wanted = from_plain(want)
    shown_want = "" if hidden else short_repr(wanted)
    kind_problem = problem(attempt.value, want, answer=exercise.answer)
    share, why, said = (0.0, "", []) if kind_problem else _compare(exercise, got, wanted, case)
    if share == 1.0:
        return CaseResult(label, PASSED, shown_got, hidden=hidden, score=1.0)
    if hidden:
        return CaseResult(label, FAILED, shown_got, "", HIDDEN_WRONG, True, share)
    # Another kind of answer (a list for a number, a dict for a pair): the sentence says it all, and a
    # hint, which judges values, could only guess. The same kind with another length or shape (every
    # duplicated row instead of the conflicting ones) may be a typical mistake that a hint recognises.
    same_kind = not kind_problem or kind(attempt.value) == kind(want)
    hint = first_match(exercise.hints, got, wanted, _fresh(case)) if same_kind else ""
    # a hint names the mistake; a part whose comparator is always said (the protocol) still says its own
    message = "; ".join([hint, *said]) if hint else (kind_problem[0] if kind_problem else why)
    return CaseResult(label, FAILED, shown_got, shown_want, learner_text(message), False, share)


def _compare(exercise: Exercise, got: Any, want: Any, case: dict) -> tuple[float, str, list[str]]:
    """The share of the case earned, why not all of it, and the failing parts' sentences that are said
    even beside a hint (comparators marked ``always_said``, e.g. the protocol of a decision)."""
    parts = exercise.parts if isinstance(want, dict) and isinstance(got, dict) else ()
    pairs = [(part, got[part], want[part]) for part in parts] if parts else [("", got, want)]
    earned, whys, said = 0, [], []
    for part, g, w in pairs:
        comparator = exercise.compare.get(part, close()) if isinstance(exercise.compare, dict) else exercise.compare
        try:
            verdict = call(comparator, g, w, case)
        except Exception:  # a comparator must not crash on an odd answer; if it does, no points
            verdict = None
        if verdict is not None and verdict.ok:
            earned += 1
            continue
        prefix = f"{part}: " if part else ""
        whys.append(prefix + (verdict.why if verdict is not None else "this answer could not be compared"))
        if parts and getattr(comparator, "always_said", False):
            said.append(whys[-1])
    return earned / len(pairs), "; ".join(whys), said


def score(exercise: Exercise, cases: list[CaseResult], public_weight: float | None = None) -> ExerciseResult:
    """Points from the cases' scores (partial credit per case, and per part within a case).

    With ``public_weight`` set and hidden cases present, public cases earn at most that share of the
    points and hidden cases the rest (a learner who hard-codes the public answers gets no more);
    without it, every case weighs the same.

    >>> ex = Exercise("demo", "Demo", 4, ())
    >>> cases = [CaseResult("a", PASSED, score=1.0), CaseResult("h", FAILED, hidden=True)]
    >>> score(ex, cases).points, score(ex, cases, public_weight=0.25).points
    (2.0, 1.0)
    """
    total = len(cases)
    if total == 0:
        return ExerciseResult(exercise.id, exercise.title, 0.0, float(exercise.points), ERROR, cases,
                              "this exercise was never checked")
    public = [case.score for case in cases if not case.hidden]
    hidden = [case.score for case in cases if case.hidden]
    if public_weight is None or not hidden or not public:
        weights = (len(public) / total, len(hidden) / total)
    else:
        weights = (float(public_weight), 1.0 - float(public_weight))
    mean = lambda xs: sum(xs) / len(xs) if xs else 0.0
    public_points = round(exercise.points * weights[0] * mean(public), 4)
    hidden_points = round(exercise.points * weights[1] * mean(hidden), 4)
    points = round(public_points + hidden_points, 4)
    if all(case.status == NOT_ATTEMPTED for case in cases):
        status = NOT_ATTEMPTED
    elif all(case.score >= 1.0 for case in cases):
        status = PASSED
    elif points > 0:
        status = PARTIAL
    else:
        status = FAILED
    return ExerciseResult(exercise.id, exercise.title, points, float(exercise.points), status, cases,
                          public_points=public_points, hidden_points=hidden_points)


LEARNER_ENV = "COURSE_LEARNER"
#: the values a varied case key takes: seeds in [0, VARIANT_SEEDS)
VARIANT_SEEDS = 1_000_000


def vary(exercise: Exercise, case: dict, learner: str | None) -> dict:
    """The case of ``learner``'s variant: each key in ``exercise.varies`` gets a value drawn from the
    learner id and the public value; without a learner id (or for an exercise that does not vary), the
    public case itself.

    The grader runs the reference solution on the same varied cases to get that variant's reference
    answers; two learners share a variant only by a hash collision (1 in a million per case).

    >>> ex = Exercise("demo.pick", "Pick", 1, cases=({"seed": 0, "n": 5},), varies=("seed",))
    >>> vary(ex, {"seed": 0, "n": 5}, None)
    {'seed': 0, 'n': 5}
    >>> vary(ex, {"seed": 0, "n": 5}, "ada")["n"], vary(ex, {"seed": 0, "n": 5}, "ada") == vary(ex, {"seed": 0, "n": 5}, "bob")
    (5, False)
    """
    if not learner or not exercise.varies:
        return dict(case)
    varied = dict(case)
    for key in exercise.varies:
        if key in varied:
            text = f"{exercise.id}\0{key}\0{varied[key]!r}\0{learner}".encode("utf-8", "surrogatepass")
            varied[key] = int.from_bytes(hashlib.sha256(text).digest()[:8], "big") % VARIANT_SEEDS
    return varied


def case_key(case: dict) -> str:
    """A canonical string for a case's inputs: the key of its reference answer.

    >>> case_key({"fan_out": 3, "fan_in": 2})
    '{"fan_in":2,"fan_out":3}'
    """
    return json.dumps(case, sort_keys=True, separators=(",", ":"))


def grade(exercise: Exercise, attempts: list[tuple[dict, bool, Attempt]], answers: dict[str, Any],
          public_weight: float | None = None) -> ExerciseResult:
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
    return score(exercise, judged, public_weight)


# -- learner-facing text --------------------------------------------------------------------------------

_ADDRESS = re.compile(r"\s*\bat 0x[0-9a-fA-F]+")
_WHAT = {
    "ZeroDivisionError": "division by zero",
    "KeyError": "no such key: {}",
    "IndexError": "an index out of range ({})",
    "RecursionError": "too many nested calls (a recursion that never stops?)",
    "MemoryError": "out of memory",
    "OverflowError": "a number too large ({})",
    "AssertionError": "an assert failed{}",
    "StopIteration": "an iterator ran out of values",
}


def describe_exception(exc: BaseException) -> str:
    """Where and why the learner's code failed, in words: never the exception's class name.

    >>> def f(x):
    ...     return x / 0
    >>> try:
    ...     f(1)
    ... except ZeroDivisionError as exc:
    ...     print(describe_exception(exc))
    your code stopped at line 2 of f: division by zero
    """
    frames = _learner_frames(exc)
    where = f" at line {frames[-1].lineno} of {frames[-1].name}" if frames else ""
    detail = str(exc).strip()
    name = type(exc).__name__
    if name in _WHAT:
        text = _WHAT[name].format(detail if name != "AssertionError" else (f": {detail}" if detail else ""))
        text = text.replace(" ()", "")
    else:
        text = detail or "an error without a message"
    text = learner_text(text)
    if len(text) > 300:
        text = text[:297] + "..."
    return f"your code stopped{where}: {text}"


def describe_cell_error(ename: str, evalue: str, traceback_lines: list[str] = ()) -> str:
    """What went wrong in a notebook cell, in words, from the error output Jupyter recorded.

    >>> describe_cell_error("SyntaxError", "invalid syntax (1892821119.py, line 2)", ["  Cell In[1], line 2"])
    'has a syntax error at line 2 (invalid syntax)'
    >>> describe_cell_error("ZeroDivisionError", "division by zero", ["Cell In[3], line 1", "----> 1 1/0"])
    'stopped at line 1: division by zero'
    """
    lines = [match.group(1) for line in traceback_lines for match in [_CELL_LINE.search(line)] if match]
    where = f"line {lines[-1]}" if lines else ""
    detail = _FILE_LINE.sub("", str(evalue)).strip()
    if ename in ("SyntaxError", "IndentationError", "TabError"):
        return f"has a syntax error{' at ' + where if where else ''} ({detail or 'invalid syntax'})"
    text = _WHAT[ename].format(detail).replace(" ()", "") if ename in _WHAT else (detail or "an error")
    if ename == "AssertionError":
        text = "an assert failed" + (f": {detail}" if detail else "")
    return learner_text(f"stopped{' at ' + where if where else ''}: {text}")


_CELL_LINE = re.compile(r"(?:Cell In\[\d*\], |File \S+, )line (\d+)")
_FILE_LINE = re.compile(r"\s*\([^()]*, line \d+\)$")


def learner_text(text: str) -> str:
    """Text for a learner: no memory addresses (``<object at 0x7f...>``), one line per sentence.

    >>> learner_text("got <generator object f at 0x7f3a2c1d> instead")
    'got <generator object f> instead'
    """
    return _ADDRESS.sub("", str(text))


_NOT_LEARNER = tuple({str(Path(__file__).resolve().parents[1]), *(sysconfig.get_paths()[key] for key in
                                                                    ("stdlib", "platstdlib", "purelib", "platlib"))})


def _learner_frames(exc: BaseException, ignore: set = frozenset()) -> list:
    """The traceback frames in the learner's code (not in this package, the standard library, installed
    packages, nor the code objects in ``ignore``)."""
    frames, tb = [], exc.__traceback__
    while tb is not None:
        code = tb.tb_frame.f_code
        if (code not in ignore and not code.co_filename.startswith(_NOT_LEARNER)
                and "site-packages" not in code.co_filename):
            frames.append(traceback.FrameSummary(code.co_filename, tb.tb_lineno, code.co_name, line=""))
        tb = tb.tb_next
    return frames


def _fresh(case: dict) -> dict:
    """A deep copy of a case, so that a function that mutates its inputs cannot spoil the next case."""
    return json.loads(json.dumps(case))


#: a case may also wait (sleep, a lock, input) this many times its time limit, on the clock on the wall
WAIT_FACTOR = 6


@contextmanager
def _time_limit(seconds: float):
    """Raise :class:`CaseTimeout` after ``seconds`` of computing time, or ``WAIT_FACTOR`` times that on
    the wall clock (POSIX main thread only).

    Computing time (the process's CPU time, ``ITIMER_PROF``) is what a learner's code costs whatever else
    the machine does: a correct answer does not time out because a class is graded beside it, and the
    same notebook gets the same result twice. The wall clock, with slack, stops code that waits instead.
    """
    usable = (hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
              and seconds and seconds > 0)
    if not usable:
        yield
        return

    def on_limit(signum, frame):
        raise CaseTimeout(signum == signal.SIGALRM)

    previous = {number: signal.signal(number, on_limit) for number in (signal.SIGPROF, signal.SIGALRM)}
    signal.setitimer(signal.ITIMER_PROF, seconds)
    signal.setitimer(signal.ITIMER_REAL, seconds * WAIT_FACTOR)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.setitimer(signal.ITIMER_REAL, 0)
        for number, handler in previous.items():
            signal.signal(number, handler)
