"""Grading labs: run a notebook in record mode, compare its records outside the kernel.

``lab`` grades one notebook (``course check``); the class-wide grader
(``course grade``) builds on it.
"""
