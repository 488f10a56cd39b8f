"""Helpers for the *Training Deep Networks* course.

The package reads in one direction::

    data -> train -> widgets -> checks -> grading -> cli

Importing ``course_utils`` is cheap: the submodules are imported when a lesson
asks for them (``from course_utils.data import load_digits``).
"""

__version__ = "0.1.0"
