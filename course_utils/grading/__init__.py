"""Grading labs: run a notebook in record mode, compare its records outside the kernel.

``lab`` grades one notebook (``course check``); ``grade`` grades a class
(``course grade``) with ``collect`` (find the submissions), ``assemble`` (the
learner's code with the instructor's tests), ``runner`` (run in record mode,
shared with ``course release``), ``channel`` (the records' pipe), ``sandbox``,
``kernel`` and ``limits`` (where and how a kernel runs), ``files`` (reading
submissions without trusting them) and ``report`` (gradebook and feedback).
"""
