# Two commands on a fresh machine:  make lab   and   make test
# Both create .venv with the system Python if it is missing and install the course into it
# (editable, with the tested versions in constraints.txt): `make lab` what a learner needs (the
# package's core and JupyterLab), `make test` everything (instructor and developer tools too).
# Nothing is reinstalled until pyproject.toml or constraints.txt change; `make test` after
# `make lab` adds what is missing.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Stamps: what `make lab` installed (core + lab extras), what `make site` installed (core + site), what
# `make test` installed (everything)
LEARNER := $(VENV)/.installed-lab
SITE := $(VENV)/.installed-site
EVERYTHING := $(VENV)/.installed-dev
# Extra pip options, e.g. PIP_OPTIONS="--index-url https://download.pytorch.org/whl/cpu --extra-index-url https://pypi.org/simple"
PIP_OPTIONS ?=
# Test processes (pytest-xdist): one per core. Tests that share a cache run in one process (xdist_group).
TEST_WORKERS ?= auto

.PHONY: lab test site release release-check run bench constraints clean

define install  # $(call install,EXTRAS)
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --disable-pip-version-check -q $(PIP_OPTIONS) -c constraints.txt -e '.[$(1)]'
endef

$(LEARNER): pyproject.toml constraints.txt
	$(call install,lab)
	@touch $@

$(SITE): pyproject.toml constraints.txt
	$(call install,site)
	@touch $@

$(EVERYTHING): pyproject.toml constraints.txt
	$(call install,dev)
	@touch $@ $(LEARNER) $(SITE)

lab: $(LEARNER)  ## open JupyterLab on notebooks/00_start_here.ipynb
	$(BIN)/course lab

test: $(EVERYTHING)  ## the whole test suite
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadgroup

site: $(SITE)  ## the course as a static site, offline: build/site/index.html (executes lessons the tests did not keep)
	$(BIN)/python scripts/build_site.py

release: $(EVERYTHING)  ## regenerate exercises/ and the reference answers from solutions/
	$(BIN)/course release

release-check: $(EVERYTHING)
	$(BIN)/course release --check

run: $(LEARNER)  ## execute every lesson and solution headless, with a timing table
	$(BIN)/course run

bench: $(EVERYTHING)  ## benchmarks (tables on the terminal)
	$(BIN)/python bench/notebooks.py

constraints: $(EVERYTHING)  ## re-pin the tested versions (see the head of constraints.txt)
	$(BIN)/python scripts/constraints.py > constraints.txt.new && mv constraints.txt.new constraints.txt

clean:
	rm -rf $(VENV) .pytest_cache
