"""Comparators: is the learner's answer the expected one?

A comparator is a function ``(got, want) -> Verdict``. Both values have been
decoded by :func:`course_utils.checks.values.from_plain` (numbers, strings,
lists, dicts, NumPy arrays), and the structure of ``got`` has already been
validated against ``want`` (:mod:`.validate`), so a comparator judges values.
The verdict says *why* it failed in words a learner understands (``why``), and
in words that never contain a reference value (``safe``), for hidden cases.

Tolerances are set by the quantity, not by float64 luck: an answer computed in
float32 (its dtype says so) is compared at float32 precision whatever the
exercise's ``rtol``; a fraction k/n is compared with ``fraction(n)``.

>>> close(rtol=1e-3)(1.0005, 1.0)
Verdict(ok=True, why='', safe='')
>>> close()([1.0, 2.0], [1.0, 2.5]).why
'values differ: largest difference 0.5 at index 1 (2 instead of 2.5)'
>>> close()(np.float32(0.85), 0.85).ok
True
>>> close(rtol=1e-9)(0.8500001, 0.85).why
'0.8500001 but expected 0.85'
>>> exact()("relu", "tanh").why
"'relu' but expected 'tanh'"
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import numpy as np

from .values import Invalid, show_number, show_pair

#: relative precision of an answer computed in float32 / float16 (its dtype says so)
LOW_PRECISION_RTOL = {"float32": 2e-5, "float16": 2e-3}


class Verdict(NamedTuple):
    ok: bool
    why: str = ""    # for the learner, may show the expected value (public cases)
    safe: str = ""   # the same without any expected value (hidden cases); "" = a generic sentence


Comparator = Callable[..., Verdict]


def close(rtol: float = 1e-6, atol: float = 1e-9) -> Comparator:
    """Numbers, arrays and nested lists/dicts equal within ``rtol``/``atol``.

    Strings, booleans and ``None`` inside the structure must match exactly. Answers whose dtype is
    float32 or float16 are compared at that precision (``LOW_PRECISION_RTOL``) at least.
    """

    def compare(got: Any, want: Any) -> Verdict:
        return _verdict(_differences(got, want, rtol, atol, path=""))

    compare.description = f"close (rtol {rtol:g}, atol {atol:g})"
    return compare


def exact() -> Comparator:
    """Equal, with no tolerance (labels, integers, booleans, exact lists)."""

    def compare(got: Any, want: Any) -> Verdict:
        return _verdict(_differences(got, want, 0.0, 0.0, path="", exact=True))

    compare.description = "exactly equal"
    return compare


def fraction(n: int | Callable[[dict], int], atol_share: float = 0.25) -> Comparator:
    """A fraction k/n (an accuracy on n samples): equal within ``atol_share / n``, below 1/(2n).

    ``n`` is a number or a function of the case. Float noise passes; one sample more or less does not.

    >>> fraction(200)(0.735 + 1e-9, 0.735).ok, fraction(200)(0.74, 0.735).ok
    (True, False)
    """

    def compare(got: Any, want: Any, case: dict | None = None) -> Verdict:
        count = n(case or {}) if callable(n) else n
        return _verdict(_differences(got, want, 0.0, atol_share / max(1, int(count)), path=""))

    compare.uses_case = True
    compare.description = "the same fraction k/n"
    return compare


def label(*, ignore_case: bool = True, choices: tuple[str, ...] = ()) -> Comparator:
    """A text label such as ``"vanishing"``; surrounding spaces (and case) never matter.

    With ``choices`` (the labels the exercise text offers), an answer that is none of them says so.

    >>> label(choices=("good", "high bias"))("bias", "good").why
    "'bias' is not one of 'good', 'high bias'"
    """

    def norm(text: str) -> str:
        text = " ".join(text.strip().split())
        return text.lower() if ignore_case else text

    def compare(got: Any, want: Any) -> Verdict:
        if not isinstance(got, str):
            return Verdict(False, "expected a text label", "expected a text label")
        if choices and norm(got) not in {norm(c) for c in choices}:
            offered = ", ".join(repr(c) for c in choices)
            why = f"{got.strip()!r} is not one of {offered}"
            return Verdict(False, why, why)
        ok = norm(got) == norm(want)
        return Verdict(ok, "" if ok else f"{got.strip()!r} but expected {want!r}", "" if ok else "wrong label")

    compare.description = "same label"
    compare.choices = choices
    compare.categorical = True  # a wrong label on a hidden case gets no hint: hints would name the answer
    return compare


def call(comparator: Comparator, got: Any, want: Any, case: dict) -> Verdict:
    """Run a comparator, giving it the case when it asks for it (``uses_case``)."""
    if getattr(comparator, "uses_case", False):
        return comparator(got, want, case)
    return comparator(got, want)


def is_number(value: Any) -> bool:
    """True for ints and floats (not bools) and for one-element numeric arrays."""
    if isinstance(value, (bool, np.bool_)):
        return False
    if isinstance(value, (int, float, np.integer, np.floating)):
        return True
    return isinstance(value, np.ndarray) and value.size == 1 and np.issubdtype(value.dtype, np.number)


# -- the walk -----------------------------------------------------------------------------------------

def _verdict(differences: list[tuple[str, str]]) -> Verdict:
    if not differences:
        return Verdict(True)
    shown = differences[:3]
    more = f" (+{len(differences) - 3} more)" if len(differences) > 3 else ""
    return Verdict(False, "; ".join(why for why, _ in shown) + more,
                   "; ".join(dict.fromkeys(safe for _, safe in shown)) + more)


def _differences(got: Any, want: Any, rtol: float, atol: float, path: str,
                 exact: bool = False) -> list[tuple[str, str]]:
    """Every difference found as ``(why, safe)``: all the keys of a dict, the first item of a list."""
    where = f" at {path}" if path else ""
    if isinstance(got, Invalid):
        return [(f"expected an answer{where}, got {got.description}",) * 2]
    if got is None and want is not None:
        return [(f"got None{where}: did the function forget to `return`?",) * 2]
    if isinstance(want, dict):
        if not isinstance(got, dict):
            return [(f"expected a dict{where}",) * 2]
        missing = [key for key in want if key not in got]
        if missing:
            return [(f"missing key(s) {', '.join(map(repr, missing))}{where}",) * 2]
        found = []
        for key in want:
            found += _differences(got[key], want[key], rtol, atol, f"{path}[{key!r}]" if path else repr(key), exact)
        extra = [key for key in got if key not in want]
        if extra and not found:
            found.append((f"unexpected key(s) {', '.join(map(repr, extra))}{where}",) * 2)
        return found
    if _numeric_like(want):
        return _numeric_differences(got, want, rtol, atol, where, exact)
    if isinstance(want, list):
        if not isinstance(got, (list, np.ndarray)):
            return [(f"expected a list{where}",) * 2]
        got = list(got)
        if len(got) != len(want):
            return [(f"{len(got)} items but expected {len(want)}{where}", f"the number of items differs{where}")]
        for i, (g, w) in enumerate(zip(got, want)):
            found = _differences(g, w, rtol, atol, f"{path}[{i}]", exact)
            if found:
                return found
        return []
    if isinstance(want, str) and isinstance(got, str):
        return [] if got == want else [(f"{got!r} but expected {want!r}{where}", f"wrong text{where}")]
    if isinstance(want, (bool, np.bool_)) or want is None:
        same = (bool(got) == bool(want)) if isinstance(got, (bool, np.bool_)) else got is want
        return [] if same else [(f"{got!r} but expected {want!r}{where}", f"wrong value{where}")]
    if got != want:
        return [(f"a different value{where}",) * 2]
    return []


def _numeric_like(value: Any) -> bool:
    if is_number(value):
        return True
    if isinstance(value, np.ndarray):
        return np.issubdtype(value.dtype, np.number) or value.dtype == bool
    if isinstance(value, list) and value:
        try:
            array = np.asarray(value)
        except ValueError:
            return False
        return array.dtype != object and (np.issubdtype(array.dtype, np.number) or array.dtype == bool)
    return False


def _precision(value: Any) -> str:
    return str(value.dtype) if isinstance(value, (np.ndarray, np.generic)) else "float64"


def _numeric_differences(got: Any, want: Any, rtol: float, atol: float, where: str,
                         exact: bool) -> list[tuple[str, str]]:
    want_arr = np.asarray(want)
    if not _numeric_like(got):
        wanted = "a number" if want_arr.ndim == 0 else "numbers"
        return [(f"expected {wanted}{where}",) * 2]
    got_arr = np.asarray(got)
    if want_arr.ndim == 0 and got_arr.size == 1:
        got_arr = got_arr.reshape(())
    if got_arr.shape != want_arr.shape:
        return [(f"shape {got_arr.shape} but expected {want_arr.shape}{where}", f"the shape differs{where}")]
    got_f = got_arr.astype(np.float64)
    want_f = want_arr.astype(np.float64)
    bad = np.isnan(got_f) & ~np.isnan(want_f)
    if bad.any():
        return [(f"contains NaN (not a number){where}",) * 2]
    if not exact:
        low = max(LOW_PRECISION_RTOL.get(_precision(got_arr), 0.0), LOW_PRECISION_RTOL.get(_precision(want_arr), 0.0))
        if low > rtol:
            scale = float(np.max(np.abs(want_f[np.isfinite(want_f)]), initial=0.0))
            rtol, atol = low, max(atol, low * scale * 0.1)
    if exact or (rtol == 0 and atol == 0):
        equal = (got_f == want_f) | (np.isnan(got_f) & np.isnan(want_f))
    else:
        equal = np.isclose(got_f, want_f, rtol=rtol, atol=atol, equal_nan=True)
    if equal.all():
        return []
    if want_arr.ndim == 0:
        g, w = show_pair(float(got_f), float(want_f))
        if _precision(got_arr) in LOW_PRECISION_RTOL:
            g = show_number(float(got_f), _precision(got_arr), digits=9)
        return [(f"{g} but expected {w}{where}", f"wrong value{where}")]
    diff = np.where(equal, 0.0, np.abs(np.nan_to_num(got_f - want_f, nan=np.inf)))
    index = np.unravel_index(int(np.argmax(diff)), diff.shape)
    shown = index[0] if len(index) == 1 else tuple(int(i) for i in index)
    g, w = show_pair(float(got_f[index]), float(want_f[index]))
    wrong = int((~equal).sum())
    many = f" ({wrong} of {equal.size} values differ)" if wrong > 1 else ""
    return [(f"values differ: largest difference {diff[index]:.3g} at index {shown} ({g} instead of {w}){where}",
             f"{'some values' if wrong > 1 else 'one value'} differ{'s' if wrong == 1 else ''}{where}{many}")]
