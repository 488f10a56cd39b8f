"""Fixtures of the browser suite: one JupyterLab server and one headless Chromium per test module
(stopped as soon as the module's tests are done, so that the rest of the suite runs without them).

Without Chromium (or the ``playwright`` package) the browser tests are skipped with a message that
says how to install it, except when the environment variable ``CI`` is set: then they fail, so that
CI never drops them silently.
"""

from __future__ import annotations

import os

import pytest

from .lab import Browser, JupyterLab, missing_requirement


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def pytest_configure(config):
    config.addinivalue_line("markers", "browser: runs the lessons in JupyterLab in a headless Chromium")


@pytest.fixture(scope="session")
def browser_requirements() -> None:
    missing = missing_requirement()
    if missing is None:
        return
    if in_ci():
        pytest.fail(f"the browser tests cannot run in CI: {missing}", pytrace=False)
    pytest.skip(f"browser tests skipped: {missing}")


@pytest.fixture(scope="module")
def jupyterlab(browser_requirements):
    with JupyterLab() as lab:
        yield lab


@pytest.fixture(scope="module")
def browser(browser_requirements):
    with Browser() as chromium:
        yield chromium
