"""Browser tests: the lessons in JupyterLab, driven in a headless Chromium."""
