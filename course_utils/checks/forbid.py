"""Exercises that must be written from scratch: find the library calls they forbid.

An exercise may declare ``forbid=("torch.nn.functional.cross_entropy", ...)``.
Before the learner's function runs, its source -- and the source of the
functions and classes of the notebook it uses -- is read with :mod:`ast`; every
name and attribute chain is resolved against the function's globals, and one
that *is* a forbidden object (however it was imported or renamed) is reported.
A forbidden name written ``torch.Tensor.logsumexp`` also matches the method
call ``x.logsumexp(...)`` on any object.

>>> import torch.nn.functional as F
>>> def cheat(logits, targets):
...     return F.cross_entropy(logits, targets)
>>> forbidden_uses(cheat, ("torch.nn.functional.cross_entropy",))
['F.cross_entropy']
>>> def honest(logits, targets):
...     return (logits.logsumexp(1) - logits.gather(1, targets[:, None])[:, 0]).mean()
>>> forbidden_uses(honest, ("torch.nn.functional.cross_entropy", "torch.Tensor.logsumexp"))
['.logsumexp']
"""

from __future__ import annotations

import ast
import builtins
import importlib
import inspect
import textwrap
import types
from typing import Any, Callable

MAX_FUNCTIONS = 20  # learner functions and classes followed from the checked one


def forbidden_uses(function: Callable, names: tuple[str, ...]) -> list[str]:
    """How the learner's code spells each forbidden object it uses (empty: none, or no source to read)."""
    if not names:
        return []
    targets = _resolve_targets(names)
    methods = {name.rsplit(".", 1)[1] for name in names if name.startswith("torch.Tensor.")}
    found: list[str] = []
    seen: set[int] = set()
    queue: list[Any] = [function]
    while queue and len(seen) < MAX_FUNCTIONS:
        item = queue.pop(0)
        if id(item) in seen:
            continue
        seen.add(id(item))
        tree = _tree(item)
        if tree is None:
            continue
        scope = _scope(item)
        for node in ast.walk(tree):
            if not isinstance(node, (ast.Name, ast.Attribute)):
                continue
            obj = _lookup(node, scope)
            if obj is not _MISSING and any(obj is target for target in targets):
                found.append(ast.unparse(node))  # the learner's own spelling, e.g. F.log_softmax
            elif isinstance(node, ast.Attribute) and node.attr in methods:
                found.append(f".{node.attr}")
            elif obj is not _MISSING and _learner_code(obj, function):
                queue.append(obj)
    return list(dict.fromkeys(found))


_MISSING = object()


def _resolve_targets(names: tuple[str, ...]) -> list[Any]:
    targets = []
    for name in names:
        parts = name.split(".")
        for cut in range(len(parts), 0, -1):
            try:
                obj = importlib.import_module(".".join(parts[:cut]))
            except ImportError:
                continue
            try:
                for attr in parts[cut:]:
                    obj = getattr(obj, attr)
            except AttributeError:
                break
            targets.append(obj)
            break
    return targets


def _tree(item: Any) -> ast.AST | None:
    try:
        source = inspect.getsource(item)
    except (OSError, TypeError):
        return None
    try:
        return ast.parse(textwrap.dedent(source))
    except SyntaxError:
        return None


def _scope(item: Any) -> dict[str, Any]:
    function = item
    if isinstance(item, type):
        function = next((v for v in vars(item).values() if isinstance(v, types.FunctionType)), None)
    if not isinstance(function, types.FunctionType):
        return {}
    scope = dict(vars(builtins))
    scope.update(function.__globals__)
    try:
        closure = inspect.getclosurevars(function)
        scope.update(closure.nonlocals)
    except (TypeError, ValueError):
        pass
    return scope


def _lookup(node: ast.AST, scope: dict[str, Any]) -> Any:
    """The object an attribute chain such as ``torch.nn.functional.cross_entropy`` names, without calling."""
    chain = []
    while isinstance(node, ast.Attribute):
        chain.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name) or node.id not in scope:
        return _MISSING
    obj = scope[node.id]
    for attr in reversed(chain):
        if not isinstance(obj, (types.ModuleType, type)):
            return _MISSING  # never touch attributes of learner objects (properties run code)
        obj = getattr(obj, attr, _MISSING)
        if obj is _MISSING:
            return _MISSING
    return obj


def _learner_code(obj: Any, function: Callable) -> bool:
    """A function or class written in the same place as the checked function (the notebook)."""
    module = getattr(function, "__module__", None)
    if not isinstance(obj, (types.FunctionType, type)) or getattr(obj, "__module__", None) != module:
        return False
    return not isinstance(obj, type) or not issubclass(obj, BaseException)
