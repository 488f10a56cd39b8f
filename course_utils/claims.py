"""Claims: a sentence of a lesson, asserted by the cell that computed its numbers.

A lesson that writes "class weights raise recall" must still be right when the
notebook is run again (another library version, another machine). So the cell
that measured it states the sentence once more, with the condition that makes
it true::

    claim("class weights raise recall over plain training",
          weighted.difference.low > 0, difference=weighted)

When the condition fails the cell raises :class:`ClaimFailed` (the notebook,
and the test that runs it, fail), naming the sentence and the figures. When it
holds, a quiet ✓ line is printed, so a reader sees what was checked.

The first argument must be a string literal: ``tests/test_claims.py`` reads
every ``claim("...")`` of every lesson from the source and checks that a run
executed each one (none skipped). With ``COURSE_CLAIMS`` naming a file, each
claim appends one JSON line to it.

>>> claim("two is more than one", 2 > 1, two=2)
✓ two is more than one (two=2)
>>> claim("one is more than two", 1 > 2, one=1)
Traceback (most recent call last):
...
course_utils.claims.ClaimFailed: the lesson says "one is more than two", but this run shows one=1
"""

from __future__ import annotations

import json
import os
from typing import Any

CLAIMS_ENV = "COURSE_CLAIMS"


class ClaimFailed(AssertionError):
    """A sentence of a lesson that this run of the notebook no longer supports."""


def claim(statement: str, holds: Any, **figures: Any) -> None:
    """Assert the sentence ``statement``: ``holds`` must be true; ``figures`` are the numbers behind it."""
    ok = bool(holds)
    shown = ", ".join(f"{name}={_show(value)}" for name, value in figures.items())
    path = os.environ.get(CLAIMS_ENV)
    if path:
        with open(path, "a", encoding="utf-8") as stream:
            stream.write(json.dumps({"statement": statement, "holds": ok, "figures": shown}) + "\n")
    if not ok:
        raise ClaimFailed(f'the lesson says "{statement}", but this run shows {shown or "otherwise"}')
    print(f"✓ {statement}" + (f" ({shown})" if shown else ""))


def _show(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    text = format(value) if hasattr(value, "__format__") else repr(value)
    return text if len(text) <= 120 else text[:117] + "..."
