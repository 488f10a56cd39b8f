"""A learner's answer as plain JSON data, and back: the one answer pipeline.

Whatever a learner's function returns goes through the same steps in the
notebook (instant ``check``) and in the grader (another process):

1. :func:`to_plain` turns it into JSON-compatible data once. Python and NumPy
   scalars of any width, 0-d and n-d arrays and tensors (on any device, with or
   without grad), lists, tuples, sets, ``np.str_``: all become plain numbers,
   strings, lists, dicts and arrays ``{"__array__": ..., "dtype", "shape",
   "type"}``. What is not an answer (complex numbers, generators, models,
   functions, other objects) becomes ``{"__invalid__": "a generator"}``: a
   sentence, never a ``repr`` (no memory address, the same text every run).
2. The plain value is written as JSON and read back (:func:`canonical`), in the
   kernel exactly as in a record file, so a check and a grade never disagree.
3. :func:`from_plain` decodes it, *bounded*: only plain numeric dtypes, a capped
   number of elements and nesting depth; anything else raises
   :class:`UnreadableAnswer`. Nothing a record names is ever built.

>>> import numpy as np
>>> to_plain(np.float64(0.5))
0.5
>>> to_plain(np.float32(0.85))
{'__array__': 0.8500000238418579, 'dtype': 'float32', 'shape': [], 'type': 'ndarray'}
>>> from_plain(to_plain(np.arange(3)))
array([0, 1, 2])
>>> describe(to_plain(x for x in range(3)))
'a generator (return a list, e.g. list(...))'
"""

from __future__ import annotations

import functools
import inspect
import json
import math
import re
import types
from typing import Any

import numpy as np

ARRAY = "__array__"
INVALID = "__invalid__"

#: dtypes an answer may have; everything else is converted (bfloat16 -> float32) or rejected.
NUMERIC_DTYPES = ("bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
                  "float16", "float32", "float64")
MAX_ELEMENTS = 2_000_000   # numbers in one answer (arrays and lists together)
MAX_DEPTH = 32             # nesting of lists and dicts
MAX_TEXT = 10_000          # characters of one string


class UnreadableAnswer(ValueError):
    """A plain value that is not something :func:`to_plain` writes (forged, mangled or too large)."""


class AnswerError(ValueError):
    """Raised by ``observe`` helpers with a sentence about the learner's answer (shown as is).

    >>> str(AnswerError("expected one number, got a list of 3 items"))
    'expected one number, got a list of 3 items'
    """


# -- encoding -----------------------------------------------------------------------------------------

def to_plain(value: Any) -> Any:
    """Return ``value`` as JSON-compatible data (see the module doc); never raises."""
    try:
        budget = [MAX_ELEMENTS]
        return _encode(value, 0, budget)
    except _TooLarge:
        return {INVALID: "an answer too large to check (more than 2 million numbers)"}
    except RecursionError:
        return {INVALID: "an answer nested too deeply to check"}


class _TooLarge(Exception):
    pass


def _encode(value: Any, depth: int, budget: list[int]) -> Any:
    if depth > MAX_DEPTH:
        return {INVALID: "an answer nested too deeply to check"}
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):  # np.str_ included: stored as a plain str
        return str(value)[:MAX_TEXT]
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (complex, np.complexfloating)):
        return {INVALID: "a complex number"}
    if isinstance(value, (np.float16, np.float32)):  # keep their width: it sets the tolerance
        return _array(np.asarray(value), "ndarray", budget)
    if isinstance(value, (float, np.floating)):
        return float(value)
    if isinstance(value, np.ndarray):
        return _array(value, "ndarray", budget)
    if _is_tensor(value):
        return _tensor(value, budget)
    if isinstance(value, (list, tuple)):
        _spend(budget, len(value))
        return [_encode(item, depth + 1, budget) for item in value]
    if isinstance(value, (set, frozenset)):
        items = [_encode(item, depth + 1, budget) for item in value]
        try:
            return sorted(items)
        except TypeError:
            return {INVALID: "a set of mixed values (return a list)"}
    if isinstance(value, range):
        _spend(budget, len(value))
        return list(value)
    if isinstance(value, dict):
        _spend(budget, len(value))
        return {_key(key): _encode(item, depth + 1, budget) for key, item in value.items()}
    if inspect.isgenerator(value) or type(value).__name__ in ("map", "filter", "zip", "enumerate", "reversed"):
        return {INVALID: "a generator (return a list, e.g. list(...))"}
    if hasattr(value, "__next__"):
        return {INVALID: "an iterator (return a list, e.g. list(...))"}
    if isinstance(value, (types.FunctionType, types.BuiltinFunctionType, types.MethodType, functools.partial)):
        return {INVALID: "a function (return the value it computes, not the function)"}
    if hasattr(value, "parameters") and hasattr(value, "forward"):
        return {INVALID: f"a model ({_type_name(value)})"}
    if hasattr(value, "to_numpy") or hasattr(value, "__array__"):  # pandas, xarray, ...
        try:
            array = value.to_numpy() if hasattr(value, "to_numpy") else np.asarray(value)
        except Exception:
            array = None
        if isinstance(array, np.ndarray):
            return _array(array, "ndarray", budget)
    return {INVALID: f"an object of type {_type_name(value)}"}


def _key(key: Any) -> str:
    if isinstance(key, (np.integer, np.floating, np.bool_)):
        key = key.item()
    return str(key)[:200]


def _spend(budget: list[int], n: int) -> None:
    budget[0] -= n
    if budget[0] < 0:
        raise _TooLarge()


def _array(array: np.ndarray, kind: str, budget: list[int]) -> Any:
    if array.dtype.kind == "c":
        return {INVALID: "complex numbers"}
    if array.dtype.kind in "US":  # an array of strings: a list of str
        _spend(budget, array.size)
        return [str(item)[:MAX_TEXT] for item in array.ravel().tolist()] if array.ndim == 1 else \
            {INVALID: "an array of strings with more than one axis (return a list)"}
    if array.dtype.kind == "O":
        _spend(budget, array.size)
        try:
            return _encode(array.tolist(), 1, budget)
        except _TooLarge:
            raise
        except Exception:
            return {INVALID: "an array of objects"}
    if str(array.dtype) not in NUMERIC_DTYPES:
        try:
            array = array.astype(np.float64)
        except (TypeError, ValueError):
            return {INVALID: f"an array of {array.dtype}"}
    _spend(budget, array.size)
    return {ARRAY: array.tolist(), "dtype": str(array.dtype), "shape": list(array.shape), "type": kind}


def _tensor(value: Any, budget: list[int]) -> Any:
    import torch

    tensor = value.detach()
    if tensor.is_complex():
        return {INVALID: "a complex tensor"}
    if tensor.layout != torch.strided:
        tensor = tensor.to_dense()
    if tensor.dtype in (torch.bfloat16,):
        tensor = tensor.float()
    array = tensor.cpu().resolve_conj().resolve_neg().numpy()
    return _array(array, "tensor", budget)


def _is_tensor(value: Any) -> bool:
    # Avoid importing torch just to ask the question.
    return type(value).__module__.startswith("torch") and hasattr(value, "detach") and hasattr(value, "dtype")


def _type_name(value: Any) -> str:
    name = type(value).__name__
    return re.sub(r"[^\w.]", "", name)[:40] or "object"


def canonical(value: Any) -> Any:
    """``to_plain`` then a JSON round trip: the value exactly as a record file would hold it.

    >>> canonical((1, np.str_("a")))
    [1, 'a']
    """
    return json.loads(json.dumps(to_plain(value), allow_nan=True))


# -- decoding -----------------------------------------------------------------------------------------

def from_plain(value: Any) -> Any:
    """Decode a plain value: arrays come back as NumPy arrays (float32 stays float32).

    Bounded: raises :class:`UnreadableAnswer` for anything :func:`to_plain` does not write, for a dtype
    that is not plain numeric, and past :data:`MAX_ELEMENTS` numbers or :data:`MAX_DEPTH` levels.

    >>> from_plain({"__array__": [[1]], "dtype": "(1000,1000)f8", "shape": [1, 1]})
    Traceback (most recent call last):
    ...
    course_utils.checks.values.UnreadableAnswer: an array of an unknown type
    """
    return _decode(value, 0, [MAX_ELEMENTS])


def _decode(value: Any, depth: int, budget: list[int]) -> Any:
    if depth > MAX_DEPTH:
        raise UnreadableAnswer("an answer nested too deeply")
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, str):
        if len(value) > MAX_TEXT:
            raise UnreadableAnswer("a text too long")
        return value
    if isinstance(value, list):
        _take(budget, len(value))
        return [_decode(item, depth + 1, budget) for item in value]
    if isinstance(value, dict):
        if ARRAY in value:
            return _decode_array(value, budget)
        if INVALID in value:
            return Invalid(str(value[INVALID])[:200])
        _take(budget, len(value))
        return {str(key): _decode(item, depth + 1, budget) for key, item in value.items()}
    raise UnreadableAnswer("a value of an unknown kind")


def _take(budget: list[int], n: int) -> None:
    budget[0] -= n
    if budget[0] < 0:
        raise UnreadableAnswer("an answer too large")


def _decode_array(value: dict, budget: list[int]) -> np.ndarray:
    dtype, shape, data = value.get("dtype"), value.get("shape"), value.get(ARRAY)
    if dtype not in NUMERIC_DTYPES:
        raise UnreadableAnswer("an array of an unknown type")
    if (not isinstance(shape, list) or len(shape) > MAX_DEPTH
            or not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in shape)):
        raise UnreadableAnswer("an array with a malformed shape")
    size = math.prod(shape)
    _take(budget, size)
    flat = _flatten(data, len(shape))
    if len(flat) != size:
        raise UnreadableAnswer("an array whose values do not fill its shape")
    if not all(isinstance(x, (int, float)) for x in flat):  # bool is an int
        raise UnreadableAnswer("an array with values that are not numbers")
    try:
        with np.errstate(all="ignore"):
            return np.array(flat, dtype=dtype).reshape(shape)
    except (ValueError, OverflowError, TypeError):
        raise UnreadableAnswer("an array with values out of range for its type") from None


def _flatten(data: Any, ndim: int) -> list:
    if ndim == 0:
        return [data]
    out: list = []
    level = [data]
    for _ in range(ndim):
        nxt: list = []
        for item in level:
            if not isinstance(item, list):
                raise UnreadableAnswer("an array whose values do not fill its shape")
            nxt.extend(item)
        level = nxt
    out.extend(level)
    return out


class Invalid:
    """Stands for something returned that is not an answer (a generator, a model, a complex number)."""

    def __init__(self, description: str):
        self.description = description

    def __repr__(self) -> str:
        return self.description

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Invalid) and self.description == other.description

    __hash__ = None


# -- describing, in the learner's terms ---------------------------------------------------------------

def kind(plain: Any) -> str:
    """The kind of a plain value: number, text, bool, none, sequence, mapping or invalid.

    >>> [kind(x) for x in (1, 2.5, "a", True, None, [1], {"a": 1}, {"__array__": 1.0, "dtype": "float32",
    ...                                                                "shape": [], "type": "tensor"})]
    ['number', 'number', 'text', 'bool', 'none', 'sequence', 'mapping', 'number']
    """
    if plain is None:
        return "none"
    if isinstance(plain, bool):
        return "bool"
    if isinstance(plain, (int, float)):
        return "number"
    if isinstance(plain, str):
        return "text"
    if isinstance(plain, list):
        return "sequence"
    if isinstance(plain, dict):
        if INVALID in plain:
            return "invalid"
        if ARRAY in plain:
            shape = plain.get("shape") or []
            if plain.get("dtype") == "bool" and not shape:
                return "bool"
            return "number" if not shape else "sequence"
        return "mapping"
    return "invalid"


def shape_of(plain: Any) -> tuple[int, ...] | None:
    """The shape of a numeric plain value (``()`` for a number or a boolean: a list of booleans is a boolean
    array), or None when it is not a regular array.

    >>> shape_of([[1, 2], [3, 4]]), shape_of(3.0), shape_of([1, "a"]), shape_of([True, False])
    ((2, 2), (), None, (2,))
    """
    if isinstance(plain, dict) and ARRAY in plain:
        shape = plain.get("shape")
        return tuple(shape) if isinstance(shape, list) else None
    if plain is None:
        return None
    if isinstance(plain, (int, float)):  # bool included
        return ()
    if isinstance(plain, list):
        inner = [shape_of(item) for item in plain]
        if not inner:
            return (0,)
        if any(s is None for s in inner) or len(set(inner)) != 1:
            return None
        return (len(plain),) + inner[0]
    return None


def describe(plain: Any) -> str:
    """What the learner returned, in a few words (for "expected ..., got ..." sentences).

    >>> describe({"__array__": [1.0] * 8, "dtype": "float32", "shape": [8], "type": "tensor"})
    'a tensor of shape (8,)'
    >>> describe({"b": 1, "a": [1, 2]})
    "a dict with keys 'b', 'a'"
    >>> describe([0.5, 0.25]), describe("relu"), describe(None)
    ('a list of 2 numbers', "the text 'relu'", 'None')
    """
    k = kind(plain)
    if k == "none":
        return "None"
    if k == "invalid":
        return str(plain.get(INVALID, "something that is not an answer")) if isinstance(plain, dict) else \
            "something that is not an answer"
    if k == "bool":
        return f"the boolean {bool(plain[ARRAY]) if isinstance(plain, dict) else plain}"
    if k == "text":
        text = plain if len(plain) <= 40 else plain[:37] + "..."
        return f"the text {text!r}"
    if isinstance(plain, dict) and ARRAY in plain:
        name = "tensor" if plain.get("type") == "tensor" else "array"
        shape = tuple(plain.get("shape") or ())
        if not shape:
            return f"a 0-d {name} ({show_number(plain[ARRAY], plain.get('dtype'))})"
        return f"a{'n' if name == 'array' else ''} {name} of shape {shape}"
    if k == "number":
        return f"the number {show_number(plain)}"
    if k == "sequence":
        kinds = {kind(item) for item in plain}
        noun = "numbers" if kinds == {"number"} else "texts" if kinds == {"text"} else "items"
        return f"a list of {len(plain)} {noun if len(plain) != 1 else noun[:-1]}"
    keys = list(plain)
    shown = ", ".join(repr(key) for key in keys[:6]) + (", ..." if len(keys) > 6 else "")
    return f"a dict with keys {shown}" if keys else "an empty dict"


def expected(plain_want: Any, *, hidden: bool = False) -> str:
    """The kind of answer a reference value is, in a few words (never its value).

    >>> expected(0.25), expected([1.0, 2.0, 3.0]), expected({"precision": 1.0, "recall": 0.5})
    ('one number', 'a list of 3 numbers', "a dict with keys 'precision', 'recall'")
    >>> expected([1.0, 2.0, 3.0], hidden=True)
    'a list of numbers'
    """
    k = kind(plain_want)
    if k == "number":
        return "one number"
    if k == "text":
        return "a text label"
    if k == "bool":
        return "True or False"
    if k == "none":
        return "None"
    if k == "sequence":
        shape = shape_of(plain_want)
        if shape is not None and len(shape) > 1:
            return "an array" if hidden else f"an array of shape {shape}"
        n = shape[0] if shape else len(plain_want)
        noun = "numbers" if shape is not None else "items"
        return f"a list of {noun}" if hidden else f"a list of {n} {noun if n != 1 else noun[:-1]}"
    if k == "mapping":
        return "a dict with keys " + ", ".join(repr(key) for key in plain_want)
    return "another kind of answer"


# -- showing numbers ----------------------------------------------------------------------------------

def show_number(x: Any, dtype: str | None = None, digits: int = 6) -> str:
    """A number with ``digits`` significant digits (float32 values in their shortest float32 form).

    >>> show_number(0.123456789), show_number(0.8500000238418579, "float32"), show_number(3)
    ('0.123457', '0.85', '3')
    """
    if isinstance(x, bool) or not isinstance(x, (int, float, np.integer, np.floating)):
        return repr(x)
    if isinstance(x, (int, np.integer)):
        return str(int(x))
    x = float(x)
    if math.isnan(x) or math.isinf(x):
        return str(x)
    if dtype in ("float32", "float16"):
        text = np.format_float_positional(np.dtype(dtype).type(x), unique=True, trim="-")
        if len(text) <= digits + 3:
            return text
    return f"{x:.{digits}g}"


def show_pair(got: float, want: float) -> tuple[str, str]:
    """Two different numbers printed with just enough digits to look different.

    >>> show_pair(0.8500001, 0.85)
    ('0.8500001', '0.85')
    >>> show_pair(1.5, 2.0)
    ('1.5', '2')
    """
    g, w = float(got), float(want)
    for digits in range(6, 18):
        a, b = f"{g:.{digits}g}", f"{w:.{digits}g}"
        if a != b or g == w:
            return a, b
    return repr(g), repr(w)


def short_repr(value: Any, width: int = 80) -> str:
    """A one-line description of a decoded answer for feedback tables; never cut in the middle of a value.

    >>> short_repr(np.zeros((100, 3)))
    'array of shape (100, 3), float64, mean 0, std 0'
    >>> short_repr(0.123456789), short_repr(np.float32(0.85)), short_repr(np.array(2.5))
    ('0.123457', '0.85', '2.5')
    >>> short_repr({"losses": [1.0, 0.5], "val_accuracy": 0.7})
    '{losses: [1, 0.5], val_accuracy: 0.7}'
    >>> short_repr({"losses": [1.05888, 0.745701, 0.702021, 0.573842, 0.51, 0.49], "val_accuracy": 0.283333})
    '{losses: [1.05888, ... (6 items)], val_accuracy: 0.283333}'
    """
    if isinstance(value, Invalid):
        return value.description
    if isinstance(value, (np.ndarray, np.generic)):
        array = np.asarray(value)
        if array.ndim == 0:
            return show_number(array.item(), str(array.dtype)) if array.dtype != bool else str(bool(array))
        if array.size > 6 or array.ndim > 1:
            summary = f"array of shape {array.shape}, {array.dtype}"
            if array.size and np.issubdtype(array.dtype, np.number):
                finite = array[np.isfinite(array)] if np.issubdtype(array.dtype, np.floating) else array
                if finite.size:
                    summary += f", mean {show_number(float(finite.mean()))}, std {show_number(float(finite.std()))}"
                if finite.size < array.size:
                    summary += f", {array.size - finite.size} non-finite"
            return summary
        return "[" + ", ".join(show_number(v, str(array.dtype)) for v in array.tolist()) + "]"
    if isinstance(value, float):
        return show_number(value)
    if isinstance(value, dict):
        parts, used = [], 2
        share = max(20, width // max(1, len(value)))  # every key gets its share, so that each one shows
        for key, item in value.items():
            part = f"{key}: {short_repr(item, width=max(12, share - len(str(key)) - 2))}"
            if used + len(part) > width and parts and len(value) > 8:  # a few keys always all show
                parts.append(f"... (+{len(value) - len(parts)} more)")
                break
            parts.append(part)
            used += len(part) + 2
        return "{" + ", ".join(parts) + "}"
    if isinstance(value, list):
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
            items = [show_number(v) for v in value]
        else:
            items = [short_repr(v, width=max(20, width // 2)) for v in value]
        shown, used = [], 2
        more = len(f", ... ({len(items)} items)")
        for i, item in enumerate(items):
            last = i == len(items) - 1
            if used + len(item) + (0 if last else more) > width and shown:
                shown.append(f"... ({len(items)} items)")
                break
            shown.append(item)
            used += len(item) + 2
        return "[" + ", ".join(shown) + "]"
    text = repr(value)
    return text if len(text) <= width else text[: width - 3] + "..."


# -- helpers for observe functions --------------------------------------------------------------------

def as_array(value: Any) -> np.ndarray:
    """A learner's array, list or tensor (detached, on the CPU) as a float64 NumPy array.

    Raises :class:`AnswerError` with a sentence for what cannot be one.

    >>> as_array([1, 2]).dtype
    dtype('float64')
    """
    if _is_tensor(value):
        value = value.detach().cpu()
        if value.is_complex():
            raise AnswerError("expected real numbers, got complex numbers")
        value = value.double().numpy()
    try:
        array = np.asarray(value)
    except (TypeError, ValueError):
        raise AnswerError(f"expected numbers, got {describe(to_plain(value))}") from None
    if array.dtype.kind == "c":
        raise AnswerError("expected real numbers, got complex numbers")
    try:
        return array.astype(np.float64)
    except (TypeError, ValueError):
        raise AnswerError(f"expected numbers, got {describe(to_plain(value))}") from None


def as_float(value: Any, what: str = "one number") -> float:
    """A learner's number (a float, a 0-d or one-element array or tensor) as a float.

    >>> as_float(np.float32(0.25))
    0.25
    >>> as_float([0.5, 0.25], "one number (the mean over the batch)")
    Traceback (most recent call last):
    ...
    course_utils.checks.values.AnswerError: expected one number (the mean over the batch), got a list of 2 numbers
    """
    if isinstance(value, bool):
        raise AnswerError(f"expected {what}, got {describe(value)}")
    try:
        array = as_array(value)
    except AnswerError:
        raise AnswerError(f"expected {what}, got {describe(to_plain(value))}") from None
    if array.size != 1:
        raise AnswerError(f"expected {what}, got {describe(to_plain(value))}")
    return float(array.reshape(()))
