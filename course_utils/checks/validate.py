"""One validation step before any comparator: is the answer the right *kind* of thing?

The learner's answer (plain data, as recorded) is compared with the kind and
shape of the reference answer: one number, a list of 5 numbers, a dict with
given keys, a text label... A mismatch is one sentence in the learner's terms,
"expected one number (the mean over the batch), got a tensor of shape (8,)",
never a Python exception. Interchangeable forms pass: a 0-d or one-element
tensor for a number, a list or an array or a tensor for a list of numbers,
an int for a float.

For hidden cases the sentence never shows the reference's length or shape.

>>> problem([0.5] * 8, 0.25, answer="one number (the mean over the batch)")
('expected one number (the mean over the batch), got a list of 8 numbers', 'expected one number (the mean over the batch), got a list of 8 numbers')
>>> problem({"__array__": 0.5, "dtype": "float32", "shape": [], "type": "tensor"}, 0.25) is None
True
>>> problem({"precision": 1.0}, {"precision": 1.0, "recall": 0.5})[0]
"expected a dict with keys 'precision', 'recall': 'recall' is missing"
"""

from __future__ import annotations

from typing import Any

from .values import describe, expected, kind, shape_of


def problem(got: Any, want: Any, *, hidden: bool = False, answer: str = "") -> tuple[str, str] | None:
    """``(sentence, sentence safe for a hidden case)`` when ``got`` is not the kind of ``want``, else None.

    ``answer`` describes the whole expected answer in the exercise's words (e.g. "a pair (losses,
    accuracy)"); it replaces the generic description at the top level.
    """
    found = _problem(got, want, path="", answer=answer)
    if found is None:
        return None
    why = found
    safe = _problem(got, want, path="", answer=answer, hidden=True) or why
    return why, safe


def _problem(got: Any, want: Any, path: str, answer: str = "", hidden: bool = False) -> str | None:
    where = f"in {path}: " if path else ""
    wanted = answer or expected(want, hidden=hidden)
    got_kind, want_kind = kind(got), kind(want)
    if got_kind == "invalid":
        return f"{where}expected {wanted}, got {describe(got)}"
    if want_kind == "none":
        return None
    if got_kind == "none":
        return f"{where}got None: did the function forget to `return`?"
    if want_kind == "number":
        shape = shape_of(got)
        if got_kind == "number" or (shape is not None and len(shape) > 0 and all(n == 1 for n in shape)):
            return None
        return f"{where}expected {wanted}, got {describe(got)}"
    if want_kind in ("text", "bool"):
        return None if got_kind == want_kind else f"{where}expected {wanted}, got {describe(got)}"
    if want_kind == "sequence":
        return _sequence_problem(got, want, where, path, wanted, hidden)
    if want_kind == "mapping":
        if got_kind != "mapping":
            return f"{where}expected {wanted}, got {describe(got)}"
        keys = ", ".join(repr(key) for key in want)
        missing = [key for key in want if key not in got]
        if missing:
            names = ", ".join(repr(key) for key in missing)
            return f"{where}expected a dict with keys {keys}: {names} {'is' if len(missing) == 1 else 'are'} missing"
        extra = [key for key in got if key not in want]
        if extra:
            names = ", ".join(repr(key) for key in extra[:5])
            return f"{where}expected a dict with keys {keys}: {names} {'is' if len(extra) == 1 else 'are'} not one of them"
        for key in want:
            inner = _problem(got[key], want[key], f"{path}[{key!r}]" if path else repr(key), hidden=hidden)
            if inner:
                return inner
        return None
    return None


def _sequence_problem(got: Any, want: Any, where: str, path: str, wanted: str, hidden: bool) -> str | None:
    if kind(got) != "sequence":
        return f"{where}expected {wanted}, got {describe(got)}"
    want_shape, got_shape = shape_of(want), shape_of(got)
    if want_shape is not None and _numeric(want):
        if got_shape is None or not _numeric(got):
            return f"{where}expected {wanted}, got {describe(got)}"
        if got_shape != want_shape and not (0 in want_shape and 0 in got_shape):
            return f"{where}expected {wanted}, got {describe(got)}"
        return None
    items_got, items_want = _items(got), _items(want)
    if items_got is None or len(items_got) != len(items_want):
        return f"{where}expected {wanted}, got {describe(got)}"
    for i, (g, w) in enumerate(zip(items_got, items_want)):
        inner = _problem(g, w, f"{path}[{i}]" if path else f"item {i}", hidden=hidden)
        if inner:
            return inner
    return None


def _items(plain: Any) -> list | None:
    if isinstance(plain, list):
        return plain
    return None  # an array where a list of mixed items is wanted


def _numeric(plain: Any) -> bool:
    if isinstance(plain, dict):
        return True  # an encoded array: its dtype is numeric by construction
    if isinstance(plain, list):
        return all(_numeric(item) for item in plain)
    return kind(plain) == "number" or isinstance(plain, bool)
