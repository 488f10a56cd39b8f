# Two commands on a fresh machine:  make lab   and   make test
# Both create .venv with the system Python if it is missing and install the course into it
# (editable, with the tested versions in constraints.txt). Nothing is reinstalled until
# pyproject.toml or constraints.txt change.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Extra pip options, e.g. PIP_OPTIONS="--index-url https://download.pytorch.org/whl/cpu --extra-index-url https://pypi.org/simple"
PIP_OPTIONS ?=

.PHONY: lab test release release-check run bench constraints clean

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --disable-pip-version-check -q $(PIP_OPTIONS) -c constraints.txt -e '.[dev]'
	@touch $(STAMP)

lab: $(STAMP)  ## open JupyterLab on notebooks/00_start_here.ipynb
	$(BIN)/course lab

test: $(STAMP)  ## the whole test suite
	$(BIN)/python -m pytest

release: $(STAMP)  ## regenerate exercises/ and the reference answers from solutions/
	$(BIN)/course release

release-check: $(STAMP)
	$(BIN)/course release --check

run: $(STAMP)  ## execute every lesson and solution headless, with a timing table
	$(BIN)/course run

bench: $(STAMP)  ## benchmarks (tables on the terminal)
	$(BIN)/python bench/notebooks.py

constraints: $(STAMP)
	@{ echo "# Tested versions: \`make lab\` and \`make test\` install exactly these (pip -c constraints.txt)."; \
	   echo "# Regenerate after changing dependencies: make constraints"; \
	   $(BIN)/python -m pip freeze --exclude-editable | grep -v '^training-deep-networks'; } > constraints.txt

clean:
	rm -rf $(VENV) .pytest_cache
