"""Interactive explorers, one module per lesson, all built on :class:`Explorer`.

Example, in a lesson::

    from course_utils.widgets import activation_explorer
    activation_explorer()
"""

from .base import Explorer, render_png
from .initialization import activation_explorer

__all__ = ["Explorer", "render_png", "activation_explorer"]
