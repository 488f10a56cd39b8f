"""Comparators: is the learner's answer the expected one?

A comparator is a function ``(got, want) -> Verdict``. Both values have been
through :func:`course_utils.checks.values.from_plain`, so they are numbers,
strings, lists, dicts or NumPy arrays. The verdict says *why* it failed in
words a learner understands ("shape (3,) but expected (3, 1)").

>>> close(rtol=1e-3)(1.0005, 1.0)
Verdict(ok=True, why='')
>>> close()([1.0, 2.0], [1.0, 2.5]).why
'values differ: largest difference 0.5 at index 1'
>>> exact()("relu", "tanh").why
"'relu' but expected 'tanh'"
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import numpy as np


class Verdict(NamedTuple):
    ok: bool
    why: str = ""


Comparator = Callable[[Any, Any], Verdict]


def close(rtol: float = 1e-6, atol: float = 1e-9) -> Comparator:
    """Numbers, arrays and nested lists/dicts equal within ``rtol``/``atol``.

    Strings, booleans and ``None`` inside the structure must match exactly.
    """

    def compare(got: Any, want: Any) -> Verdict:
        why = _difference(got, want, rtol, atol, path="")
        return Verdict(not why, why)

    compare.description = f"close (rtol {rtol:g}, atol {atol:g})"
    return compare


def exact() -> Comparator:
    """Equal, with no tolerance (labels, integers, booleans, exact lists)."""

    def compare(got: Any, want: Any) -> Verdict:
        why = _difference(got, want, 0.0, 0.0, path="")
        return Verdict(not why, why)

    compare.description = "exactly equal"
    return compare


def label(*, ignore_case: bool = True) -> Comparator:
    """A text label such as ``"vanishing"``; surrounding spaces never matter."""

    def compare(got: Any, want: Any) -> Verdict:
        if not isinstance(got, str):
            return Verdict(False, f"expected a string such as {want!r}, got {type(got).__name__}")
        a, b = got.strip(), want.strip()
        if ignore_case:
            a, b = a.lower(), b.lower()
        return Verdict(a == b, "" if a == b else f"{got!r} but expected {want!r}")

    compare.description = "same label"
    return compare


def is_number(value: Any) -> bool:
    """True for ints and floats (not bools) and for one-element numeric arrays."""
    if isinstance(value, bool):
        return False
    if isinstance(value, (int, float, np.integer, np.floating)):
        return True
    return isinstance(value, np.ndarray) and value.size == 1 and np.issubdtype(value.dtype, np.number)


def _difference(got: Any, want: Any, rtol: float, atol: float, path: str) -> str:
    where = f" at {path}" if path else ""
    if got is None and want is not None:
        return f"got None{where}: did the function forget to `return`?"
    if isinstance(want, dict):
        if not isinstance(got, dict):
            return f"expected a dict{where}, got {_kind(got)}"
        missing = sorted(set(want) - set(got))
        extra = sorted(set(got) - set(want))
        if missing:
            return f"missing key(s) {', '.join(map(repr, missing))}{where}"
        if extra:
            return f"unexpected key(s) {', '.join(map(repr, extra))}{where}"
        for key in want:
            why = _difference(got[key], want[key], rtol, atol, f"{path}[{key!r}]")
            if why:
                return why
        return ""
    if _numeric_like(want):
        return _numeric_difference(got, want, rtol, atol, where)
    if isinstance(want, list):
        if not isinstance(got, (list, np.ndarray)):
            return f"expected a list of {len(want)}{where}, got {_kind(got)}"
        got = list(got)
        if len(got) != len(want):
            return f"length {len(got)} but expected {len(want)}{where}"
        for i, (g, w) in enumerate(zip(got, want)):
            why = _difference(g, w, rtol, atol, f"{path}[{i}]")
            if why:
                return why
        return ""
    if got != want or type(got) is not type(want):
        if isinstance(want, (str, bool)) or want is None:
            return f"{got!r} but expected {want!r}{where}"
        return f"{_kind(got)} but expected {_kind(want)}{where}"
    return ""


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


def _numeric_difference(got: Any, want: Any, rtol: float, atol: float, where: str) -> str:
    want_arr = np.asarray(want)
    if not _numeric_like(got):
        wanted = "a number" if want_arr.ndim == 0 else f"an array of shape {want_arr.shape}"
        return f"expected {wanted}{where}, got {_kind(got)}"
    got_arr = np.asarray(got)
    if want_arr.ndim == 0 and got_arr.size == 1:
        got_arr = got_arr.reshape(())
    if got_arr.shape != want_arr.shape:
        return f"shape {got_arr.shape} but expected {want_arr.shape}{where}"
    got_f = got_arr.astype(float)
    want_f = want_arr.astype(float)
    bad = np.isnan(got_f) & ~np.isnan(want_f)
    if bad.any():
        return f"contains NaN{where}"
    if rtol == 0 and atol == 0:
        equal = (got_f == want_f) | (np.isnan(got_f) & np.isnan(want_f))
    else:
        equal = np.isclose(got_f, want_f, rtol=rtol, atol=atol, equal_nan=True)
    if equal.all():
        return ""
    if want_arr.ndim == 0:
        return f"{float(got_f):.6g} but expected {float(want_f):.6g}{where}"
    diff = np.where(equal, 0.0, np.abs(np.nan_to_num(got_f - want_f, nan=np.inf)))
    index = np.unravel_index(int(np.argmax(diff)), diff.shape)
    shown = index[0] if len(index) == 1 else tuple(int(i) for i in index)
    return f"values differ: largest difference {diff[index]:.3g} at index {shown}{where}"


def _kind(value: Any) -> str:
    if value is None:
        return "None"
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape}"
    if isinstance(value, list):
        return f"a list of {len(value)}"
    if isinstance(value, str):
        return f"the string {value!r}"
    if is_number(value):
        return f"the number {value!r}"
    return f"a {type(value).__name__} ({value!r})"
