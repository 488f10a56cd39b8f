"""Plain fixed-width tables for the terminal (``course run``, ``course check``, ``course grade``'s summary).

>>> print(format_table(["a", "bb"], [["1", "2"]]))
a  bb
-  --
1  2
"""

from __future__ import annotations


def format_table(headers: list[str], rows: list[list[str]]) -> str:
    """``headers`` and ``rows`` as left-aligned columns, two spaces apart."""
    widths = [max(len(str(x)) for x in column) for column in zip(headers, *rows)]
    line = lambda cells: "  ".join(str(c).ljust(w) for c, w in zip(cells, widths)).rstrip()
    return "\n".join([line(headers), line(["-" * w for w in widths]), *map(line, rows)])
