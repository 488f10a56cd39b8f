"""docs/coverage.md maps every pitfall of the source texts to a lesson section and lab exercises.

These tests keep the map true while lessons and labs change: every lesson link names a heading that
exists in that notebook, every exercise id is in the registry, every lesson and every exercise appears,
the totals the page states are those of its tables, and every row marked *not covered* is listed at the
end.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from course_utils.checks.registry import EXERCISES

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "coverage.md"
HEADER = "| pitfall or practice | sources | lesson section | exercises |"
SOURCES = {"I", "P", "R", "X"}
NOT_COVERED = "*not covered*"
LINK = re.compile(r"\[([^\]]+)\]\(([^)\s]+)\)")
CODE = re.compile(r"`([^`]+)`")


def rows(text: str) -> list[dict]:
    """The rows of every coverage table, each a dict of its four cells and its topic.

    >>> rows("## 1 · A topic\\n\\n" + HEADER + "\\n|---|---|---|---|\\n| a pitfall | X | *not covered* | — |\\n")
    [{'topic': '1 · A topic', 'pitfall': 'a pitfall', 'sources': 'X', 'lesson': '*not covered*', 'exercises': '—'}]
    """
    found, topic, in_table = [], None, False
    for line in text.splitlines():
        if line.startswith("## "):
            topic = line[3:].strip()
        if line.strip() == HEADER:
            in_table = True
            continue
        if in_table and line.startswith("|"):
            if set(line.replace("|", "").strip()) <= {"-"}:
                continue  # the separator line
            cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
            assert len(cells) == 4, f"a row of {topic!r} has {len(cells)} cells, not 4: {line}"
            found.append(dict(zip(("topic", "pitfall", "sources", "lesson", "exercises"), [topic, *cells])))
        else:
            in_table = False
    return found


def headings(notebook: Path) -> set[str]:
    """The text of every `##` and `###` heading in the markdown cells of a notebook."""
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    return {line.lstrip("#").strip()
            for cell in cells if cell["cell_type"] == "markdown"
            for line in "".join(cell["source"]).splitlines() if re.match(r"#{2,3} ", line)}


def lesson_problems(table: list[dict]) -> list[str]:
    """What is wrong with the lesson cells: a link to a missing notebook or heading, or no link at all."""
    problems, cache = [], {}
    for row in table:
        links = LINK.findall(row["lesson"])
        if row["lesson"].startswith(NOT_COVERED):
            if links:
                problems.append(f"{row['pitfall']!r} is marked not covered but links {links}")
            continue
        if not links:
            problems.append(f"{row['pitfall']!r}: the lesson cell has no link and does not say {NOT_COVERED}")
        for title, target in links:
            notebook = (DOC.parent / target).resolve()
            if notebook.parent != ROOT / "notebooks" or not notebook.exists():
                problems.append(f"{row['pitfall']!r}: {target} is not a lesson notebook")
                continue
            if notebook not in cache:
                cache[notebook] = headings(notebook)
            if title not in cache[notebook]:
                problems.append(f"{row['pitfall']!r}: {notebook.name} has no heading {title!r}")
    return problems


def exercise_ids(row: dict) -> list[str]:
    return CODE.findall(row["exercises"])


def exercise_problems(table: list[dict]) -> list[str]:
    """What is wrong with the exercise cells: an id the registry does not know, or a cell with neither."""
    problems = []
    for row in table:
        ids = exercise_ids(row)
        if not ids and row["exercises"] != "—":
            problems.append(f"{row['pitfall']!r}: the exercise cell {row['exercises']!r} names no id and is not '—'")
        problems += [f"{row['pitfall']!r}: unknown exercise {name!r}" for name in ids if name not in EXERCISES]
    return problems


def totals(table: list[dict]) -> dict[str, int]:
    """The counts the page states, from the rows of the pitfalls of the sources."""
    from_sources = [row for row in table if SOURCES & set(re.findall(r"\b\w+\b", row["sources"]))]
    shown = [row for row in from_sources if not row["lesson"].startswith(NOT_COVERED)]
    return {"rows": len(table), "from sources": len(from_sources), "course": len(table) - len(from_sources),
            "shown": len(shown), "partly": sum("*partly*" in row["lesson"] for row in shown),
            "practised": sum(bool(exercise_ids(row)) for row in from_sources),
            "not covered": len(from_sources) - len(shown)}


def test_the_page_has_a_table_per_topic():
    table = rows(DOC.read_text(encoding="utf-8"))
    topics = [row["topic"] for row in table]
    assert len(set(topics)) >= 12, f"one table per topic, found {sorted(set(topics))}"
    for row in table:
        named = set(re.findall(r"\b\w+\b", row["sources"]))
        assert named and named <= SOURCES | {"course"}, f"{row['pitfall']!r}: sources {row['sources']!r}"
        assert row["pitfall"], f"an empty pitfall in {row['topic']!r}"


def test_every_lesson_link_names_a_heading_of_that_lesson():
    assert lesson_problems(rows(DOC.read_text(encoding="utf-8"))) == []


def test_every_exercise_id_is_in_the_registry():
    assert exercise_problems(rows(DOC.read_text(encoding="utf-8"))) == []


def test_every_lesson_and_every_exercise_appears():
    table = rows(DOC.read_text(encoding="utf-8"))
    linked = {(DOC.parent / target).resolve().name for row in table for _, target in LINK.findall(row["lesson"])}
    lessons = {path.name for path in (ROOT / "notebooks").glob("*.ipynb")}
    assert lessons - linked == set(), "lessons the coverage tables never link"
    named = {name for row in table for name in exercise_ids(row)}
    assert set(EXERCISES) - named == set(), "exercises the coverage tables never name"


def test_a_wrong_heading_or_id_is_caught():
    wrong = [{"topic": "t", "pitfall": "p", "sources": "X",
              "lesson": "**03** [7. A section that does not exist](../notebooks/03_initialization.ipynb)",
              "exercises": "`init.he_stdev`"},
             {"topic": "t", "pitfall": "q", "sources": "X", "lesson": "somewhere", "exercises": "exercise 2"}]
    assert len(lesson_problems(wrong)) == 2 and len(exercise_problems(wrong)) == 2


def test_the_stated_totals_are_those_of_the_tables():
    text = DOC.read_text(encoding="utf-8")
    count = totals(rows(text))
    sentence = " ".join(re.search(r"\*\*In numbers\*\*(.*?)\n\n", text, re.S).group(1).split())
    stated = re.search(r"(\d+) rows, of which (\d+) are pitfalls of the four sources and (\d+) are practices the "
                       r"course adds\. Of the \d+, (\d+) are shown in a lesson section \((\d+) of them only partly\) "
                       r"and (\d+) are practised by at least one exercise; (\d+) are not covered\.", sentence)
    assert stated, sentence
    keys = ("rows", "from sources", "course", "shown", "partly", "practised", "not covered")
    assert dict(zip(keys, map(int, stated.groups()))) == count


def test_the_gaps_list_every_row_not_covered():
    text = DOC.read_text(encoding="utf-8")
    gaps = text.split("\n## Not covered\n", 1)[1].split("\n## ", 1)[0]
    listed = re.findall(r"^\* \*\*(.+?)\*\*", gaps, re.M)
    missing = [row["pitfall"] for row in rows(text) if row["lesson"].startswith(NOT_COVERED)]
    assert sorted(listed) == sorted(missing)


def test_the_lab_table_matches_the_labs():
    text = DOC.read_text(encoding="utf-8")
    labs = re.findall(r"^\| `(\w+)\.\*` \| \[[^\]]+\]\(\.\./exercises/([\w.]+\.ipynb)\)", text, re.M)
    assert {prefix for prefix, _ in labs} == {name.split(".")[0] for name in EXERCISES}
    for prefix, notebook in labs:
        cells = json.loads((ROOT / "solutions" / notebook).read_text(encoding="utf-8"))["cells"]
        source = "\n".join("".join(cell["source"]) for cell in cells)
        for name in (name for name in EXERCISES if name.startswith(prefix + ".")):
            assert f'check("{name}"' in source, f"{name} is not checked in solutions/{notebook}"


def test_every_relative_link_exists_and_the_readme_links_the_page():
    text = DOC.read_text(encoding="utf-8")
    for _, target in LINK.findall(text):
        if not re.match(r"\w+://", target):
            assert (DOC.parent / target).exists(), f"docs/coverage.md links a missing file: {target}"
    assert "(docs/coverage.md)" in (ROOT / "README.md").read_text(encoding="utf-8")
