"""A best-effort guard for nbgrader test cells that run in the learner's kernel.

An nbgrader test cell is judged *in* the learner's kernel: it earns its points
when it runs without an error (or prints a number for partial credit). Code
the learner ran before it can try to make a failing test look clean. Before
each test cell the grader runs :func:`before` (in a cell of its own, whose
outputs are dropped), which undoes and reports what it can see:

* a custom exception handler (``set_custom_exc``), ``sys.excepthook``,
  ``sys.displayhook``, ``sys.stdout`` / ``sys.stderr`` replaced;
* IPython's AST and input transformers (which could strip ``assert``
  statements), event callbacks defined in the notebook, its display
  formatter's printers;
* methods of the shell, its display hook, its display publisher and its
  compiler replaced on the object or its class (``showtraceback``,
  ``run_code``...);
* the ``builtins`` module changed; functions of ``math``, ``operator``,
  ``numpy``, ``numpy.testing`` and ``unittest.TestCase`` replaced;
* an exception class such as ``AssertionError`` redefined in the notebook.

The test cell then runs in the learner's namespace with those redefinitions
taken out, and :func:`after` puts them back. It runs in the namespace itself,
not a copy: a test may rebind or delete a learner's global to see how the
learner's functions behave without it (nbgrader's own example does ``del
squares`` to check that ``sum_of_squares`` calls it), and the learner's
functions only see their own module's globals. Each guard prints one line,
``<token> <JSON list of findings>``, that the grader reads; a missing line
means the guard did not run (the kernel was subverted).

What no in-kernel guard can do: stop a learner's function from returning an
object whose ``__eq__`` always says ``True``, or code that patches the kernel
deeper than the places above (the README says so). Labs checked with
``check`` compare answers outside the kernel and do not depend on this.

>>> exception_names()[:2]
['ArithmeticError', 'AssertionError']
"""

from __future__ import annotations

import base64
import builtins
import importlib
import json
import os
import sys

WATCHED_MODULES = ("math", "operator", "numpy", "numpy.testing")
SHELL_METHODS = ("run_cell", "run_cell_async", "_run_cell", "run_ast_nodes", "run_code", "showtraceback",
                 "_showtraceback", "showsyntaxerror", "transform_cell", "transform_ast", "set_custom_exc",
                 "get_exception_only", "should_run_async")
SYS_HOOKS = ("excepthook", "displayhook", "stdout", "stderr")

_print = builtins.print
_dumps = json.dumps
_saved: dict = {}


def exception_names() -> list[str]:
    """The names of the built-in exception classes, sorted."""
    return sorted(name for name, value in vars(builtins).items()
                  if isinstance(value, type) and issubclass(value, BaseException))


def _shell():
    from IPython import get_ipython

    return get_ipython()


def _objects(shell) -> dict[str, object]:
    """The IPython objects whose methods decide what a cell's outputs are."""
    return {"IPython's shell": shell, "IPython's display hook": shell.displayhook,
            "IPython's display publisher": shell.display_pub, "IPython's compiler": shell.compile,
            "IPython's plain-text formatter": shell.display_formatter.formatters["text/plain"]}


def _class_methods(obj) -> dict:
    return {(cls, name): value for cls in type(obj).__mro__ if cls.__module__ != "builtins"
            for name, value in vars(cls).items() if callable(value) or isinstance(value, (classmethod, staticmethod))}


def install(token: str, files: dict[str, str] | None = None) -> None:
    """Before the learner's first cell: write the assignment's files (base64) into the working folder
    and take the snapshot that :func:`before` restores."""
    for name, data in (files or {}).items():
        parts = name.split("/")
        if name.startswith("/") or ".." in parts or not all(parts):
            continue
        if len(parts) > 1:
            os.makedirs(os.path.join(*parts[:-1]), exist_ok=True)
        with open(name, "wb") as handle:
            handle.write(base64.b64decode(data))
    shell = _shell()
    modules = {}
    for name in WATCHED_MODULES:
        try:
            modules[name] = (importlib.import_module(name), dict(vars(importlib.import_module(name))))
        except ImportError:
            continue
    import unittest

    objects = _objects(shell)
    text = objects["IPython's plain-text formatter"]
    _saved.update(
        builtins=dict(vars(builtins)), sys={name: getattr(sys, name) for name in SYS_HOOKS}, modules=modules,
        testcase=dict(vars(unittest.TestCase)), objects=objects,
        attributes={label: {name: value for name, value in vars(obj).items() if callable(value)}
                    for label, obj in objects.items()},
        methods={label: _class_methods(obj) for label, obj in objects.items()},
        lists={"AST transformers": list(shell.ast_transformers),
               "input transformers": list(shell.input_transformers_post),
               "input cleanup transformers": list(shell.input_transformers_cleanup)},
        printers=(dict(text.type_printers), dict(text.deferred_printers), dict(text.singleton_printers)),
        shell_objects={name: getattr(shell, name) for name in ("displayhook", "display_pub", "display_trap",
                                                               "compile", "display_formatter", "events")})
    _print(f"{token} []")


def _same(a, b) -> bool:
    """The same object, or the same method of the same object (ipykernel binds some anew per request)."""
    if a is b:
        return True
    return (getattr(a, "__func__", a) is getattr(b, "__func__", b) is not a
            and getattr(a, "__self__", None) is getattr(b, "__self__", None))


def _restore_dict(target: dict, saved: dict, label: str, findings: list[str], added: bool = True) -> None:
    """Put back what ``saved`` held; with ``added``, remove what was added since."""
    for name, value in saved.items():
        if not _same(target.get(name, _saved), value):
            findings.append(f"{label}.{name}")
            target[name] = value
    for name in [name for name in target if added and name not in saved]:
        findings.append(f"{label}.{name}")
        del target[name]


def _restore_kernel(shell, findings: list[str]) -> None:
    for name, value in _saved["shell_objects"].items():
        if getattr(shell, name) is not value:
            findings.append(f"IPython's {name}")
            setattr(shell, name, value)
    for name, value in _saved["sys"].items():
        if not _same(getattr(sys, name), value):
            findings.append(f"sys.{name}")
            setattr(sys, name, value)
    if shell.custom_exceptions:
        findings.append("a custom exception handler (set_custom_exc)")
        shell.set_custom_exc((), None)
    for label, obj in _saved["objects"].items():
        for name in [n for n, v in vars(obj).items() if callable(v) and n != "CustomTB"
                     and not _same(_saved["attributes"][label].get(n), v)]:
            findings.append(f"{label} {name}")
            if name in _saved["attributes"][label]:
                setattr(obj, name, _saved["attributes"][label][name])
            else:
                delattr(obj, name)
        for (cls, name), value in _saved["methods"][label].items():
            if vars(cls).get(name) is not value:
                findings.append(f"{label} {cls.__name__}.{name}")
                setattr(cls, name, value)
    for label, items in _saved["lists"].items():
        current = {"AST transformers": shell.ast_transformers, "input transformers": shell.input_transformers_post,
                   "input cleanup transformers": shell.input_transformers_cleanup}[label]
        if current != items:
            findings.append(f"IPython's {label}")
            current[:] = items
    for event, callbacks in shell.events.callbacks.items():   # libraries add some (matplotlib, autoreload)
        mine = [callback for callback in callbacks if getattr(callback, "__module__", None) == "__main__"]
        if mine:
            findings.append(f"IPython's {event} callbacks")
            callbacks[:] = [callback for callback in callbacks if callback not in mine]
    text = _saved["objects"]["IPython's plain-text formatter"]
    for current, saved, what in zip((text.type_printers, text.deferred_printers, text.singleton_printers),
                                    _saved["printers"], ("type", "deferred", "singleton")):
        if current != saved:
            findings.append(f"IPython's plain-text {what} printers")
            current.clear()
            current.update(saved)


def before(token: str) -> None:
    """Before a test cell: restore and report what the learner changed (see the module doc)."""
    shell = _shell()
    findings: list[str] = []
    if not _saved:
        findings.append("the grader's snapshot (the setup cell did not run)")
    else:
        _restore_dict(vars(builtins), _saved["builtins"], "builtins", findings)
        _restore_kernel(shell, findings)
        for name, (module, saved) in _saved["modules"].items():
            _restore_dict(vars(module), {k: v for k, v in saved.items() if callable(v)}, name, findings,
                          added=False)
        import unittest

        for name, value in _saved["testcase"].items():
            if vars(unittest.TestCase).get(name) is not value:
                findings.append(f"unittest.TestCase.{name}")
                setattr(unittest.TestCase, name, value)
    namespace = shell.user_ns
    shadowed = {name: namespace.pop(name) for name in exception_names()
                if name in namespace and namespace[name] is not getattr(builtins, name)}
    findings += [f"{name} (redefined in the notebook)" for name in shadowed]
    if namespace.get("__builtins__", builtins) is not builtins:
        findings.append("__builtins__ (replaced in the notebook)")
        namespace["__builtins__"] = builtins
    _saved["shadowed"] = shadowed
    _print(f"{token} {_dumps(sorted(set(findings)))}")


def after(token: str) -> None:
    """After a test cell: the learner's redefinitions taken out by :func:`before` go back (unless the test
    rebound the name itself)."""
    namespace = _shell().user_ns
    for name, value in _saved.pop("shadowed", {}).items():
        namespace.setdefault(name, value)
    _print(f"{token} []")
