"""Answers as plain JSON values, and back.

A learner's answer (a float, a NumPy array, a tensor, a list of them...) is
turned into plain JSON so that it can be written to a record file in the
learner's kernel and compared by the grader in another process.

>>> import numpy as np
>>> to_plain(np.float32(0.5))
0.5
>>> to_plain(np.arange(3))
{'__array__': [0, 1, 2], 'dtype': 'int64', 'shape': [3], 'type': 'ndarray'}
>>> from_plain(to_plain(np.arange(3)))
array([0, 1, 2])
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

ARRAY = "__array__"
OBJECT = "__object__"


def to_plain(value: Any) -> Any:
    """Return ``value`` as JSON-compatible Python data.

    Arrays and tensors become ``{"__array__": nested list, "dtype", "shape",
    "type"}``; tuples become lists; objects that have no plain form become
    ``{"__object__": repr, "type": type name}`` so that the grader can still
    say what was returned.
    """
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value)
    if isinstance(value, np.ndarray):
        return _array(value, "ndarray")
    if _is_tensor(value):
        array = value.detach().cpu().numpy()
        return _array(array, "tensor")
    if isinstance(value, (list, tuple)):
        return [to_plain(item) for item in value]
    if isinstance(value, dict):
        return {str(key): to_plain(item) for key, item in value.items()}
    text = repr(value)
    if len(text) > 200:
        text = text[:197] + "..."
    return {OBJECT: text, "type": type(value).__name__}


def from_plain(value: Any) -> Any:
    """Inverse of :func:`to_plain`: arrays come back as NumPy arrays."""
    if isinstance(value, list):
        return [from_plain(item) for item in value]
    if isinstance(value, dict):
        if ARRAY in value:
            return np.array(value[ARRAY], dtype=value["dtype"]).reshape(value["shape"])
        if OBJECT in value:
            return Opaque(value[OBJECT], value["type"])
        return {key: from_plain(item) for key, item in value.items()}
    return value


class Opaque:
    """Stands for an answer that had no plain form (a model, a function...)."""

    def __init__(self, text: str, type_name: str):
        self.text = text
        self.type_name = type_name

    def __repr__(self) -> str:
        return self.text

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Opaque) and (self.text, self.type_name) == (other.text, other.type_name)


def short_repr(value: Any, width: int = 60) -> str:
    """A one-line description of a (decoded) answer for feedback tables.

    >>> short_repr(np.zeros((100, 3)))
    'array of shape (100, 3), float64, mean 0, std 0'
    >>> short_repr(0.123456789)
    '0.123457'
    """
    if isinstance(value, np.ndarray):
        if value.size > 6 or value.ndim > 1:
            summary = f"array of shape {value.shape}, {value.dtype}"
            if value.size and np.issubdtype(value.dtype, np.number):
                finite = value[np.isfinite(value)] if np.issubdtype(value.dtype, np.floating) else value
                if finite.size:
                    summary += f", mean {_num(float(finite.mean()))}, std {_num(float(finite.std()))}"
                if finite.size < value.size:
                    summary += f", {value.size - finite.size} non-finite"
            return summary
        return "[" + ", ".join(_num(v) for v in value.tolist()) + "]"
    if isinstance(value, float):
        return _num(value)
    if isinstance(value, list) and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
        text = "[" + ", ".join(_num(v) for v in value) + "]"
    else:
        text = repr(value)
    return text if len(text) <= width else text[: width - 3] + "..."


def _num(x: Any) -> str:
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return repr(x)
    if isinstance(x, int):
        return str(x)
    if math.isnan(x) or math.isinf(x):
        return str(x)
    return f"{x:.6g}"


def _array(array: np.ndarray, kind: str) -> dict:
    return {
        ARRAY: array.tolist(),
        "dtype": str(array.dtype),
        "shape": list(array.shape),
        "type": kind,
    }


def _is_tensor(value: Any) -> bool:
    # Avoid importing torch just to ask the question.
    return type(value).__module__.startswith("torch") and hasattr(value, "detach")


def as_array(value: Any) -> np.ndarray:
    """A learner's array, list or tensor (detached, on the CPU) as a float64 NumPy array.

    >>> as_array([1, 2]).dtype
    dtype('float64')
    """
    if _is_tensor(value):
        value = value.detach().cpu().numpy()
    return np.asarray(value, dtype=np.float64)


def as_float(value: Any) -> float:
    """A learner's number (a float, a 0-d array or a 0-d tensor) as a float.

    >>> as_float(np.float32(0.25))
    0.25
    """
    return float(as_array(value))
