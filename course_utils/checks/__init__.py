"""Graded exercises: ``check(exercise_id, function)`` in a notebook.

Example, in a lab::

    from course_utils.checks import check
    check("init.he_std", he_std)

The pieces, one job each: ``compare`` (comparators), ``hints`` (rules that
name a typical mistake), ``engine`` (run and judge cases), ``answers``
(reference answers and grading records), ``render`` (HTML/text), ``api``
(``check`` itself), ``registry`` and one module per topic with its exercises.
"""

from .api import add_hidden_cases, check

__all__ = ["check", "add_hidden_cases"]
