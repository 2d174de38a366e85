# bdnex-core: plain targets for a fresh machine (Python >= 3.11 on PATH as python3).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CT_VENV ?= .venv-ct
# bdnex-comictagger belongs in ComicTagger's own environment (it depends on ComicTagger)
PLUGINS := $(filter-out plugins/comictagger/pyproject.toml,$(wildcard plugins/*/pyproject.toml))

.PHONY: install venv comictagger test test-fast test-alone lint wheels container demo bench screenshots clean
# the Python packages mypy checks (the calibre plugin's calibre_plugin/ runs inside calibre: excluded in pyproject)
TYPED := bdnex_core plugins/komga/bdnex_komga plugins/calibre/bdnex_calibre plugins/kavita/bdnex_kavita

$(BIN)/python:
	@echo "creating the virtualenv $(VENV)..."
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

venv: $(BIN)/python

## install: the core, its test tools and the plugins under plugins/ (editable; bdnex-comictagger: see comictagger)
install: venv
	$(BIN)/pip install --quiet -e ".[test,postgresql,notify]"
	@for plugin in $(dir $(PLUGINS)); do echo "installing $$plugin"; $(BIN)/pip install --quiet -e "$$plugin" || exit 1; done

## comictagger: ComicTagger 1.6.0b9 in its own environment, with bdnex-core and the bdnex-comictagger talker
comictagger: $(CT_VENV)/bin/comictagger
$(CT_VENV)/bin/comictagger:
	$(PYTHON) -m venv $(CT_VENV)
	$(CT_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(CT_VENV)/bin/pip install --quiet "comictagger==1.6.0b9" -e . -e plugins/comictagger

# pytest's exit code 5 = nothing collected: not a failure of the code under test, but say so (exit 0)
# (said here, in the recipe: make turns every failing status into its own 2). PYTEST_ARGS: e.g. -k NAME
NOTHING_COLLECTED_IS_OK = status=$$?; if [ $$status -eq 5 ]; then echo "pytest collected no tests"; exit 0; fi; exit $$status

# -n 2 --dist loadfile: each module on one worker (its module fixtures built once); --no-loadscope-reorder
# keeps the order bdnex_testing's plugin gives the modules (those with slow tests first)
## test: the whole suite, slow tests included (about 10 minutes on 2 cores at most)
test: install comictagger
	BDNEX_COMICTAGGER=$(abspath $(CT_VENV))/bin/comictagger $(BIN)/python -m pytest -n 2 --dist loadfile --no-loadscope-reorder -q $(PYTEST_ARGS); $(NOTHING_COLLECTED_IS_OK)

## test-fast: skip the tests marked slow
test-fast: install
	$(BIN)/python -m pytest -n 2 --dist loadfile --no-loadscope-reorder -q -m "not slow" $(PYTEST_ARGS); $(NOTHING_COLLECTED_IS_OK)

## test-alone: the fast suite as in a clone with nothing beside it (../shared hidden, no PostgreSQL server;
## what needs them skips). BDNEX_ALONE_SUBSET=1 (CI) runs only the tests that reach ../shared or
## PostgreSQL: the others do the same with or without them
test-alone: install
	env -u BDNEX_REQUIRE_SHARED -u BDNEX_REQUIRE_POSTGRES -u BDNEX_TEST_POSTGRES_URL BDNEX_SHARED_DIR=$(abspath .)/.no-shared-here \
	  $(BIN)/python -m pytest -n 2 --dist loadfile --no-loadscope-reorder -q -m "not slow" $(PYTEST_ARGS); $(NOTHING_COLLECTED_IS_OK)

## lint: ruff (lint and format check) and mypy, versions pinned in the [lint] extra
lint: venv
	$(BIN)/pip install --quiet -e ".[lint]"
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy $(TYPED)

## wheels: build the core's and the plugins' wheels, install them into a fresh venv (no test tools), try them
wheels: venv
	PYTHON=$(PYTHON) BUILD_PYTHON=$(BIN)/python .ci/wheels

## container: the image (Dockerfile) built from Debian's packages and tried with podman, as CI does (root)
container:
	.ci/container

## demo: tag a generated sample library against a local fake Bédéthèque (the core and plugins, no test tools)
# (pip shows its progress: the first install downloads and builds for a minute or two)
demo: venv
	@echo "installing bdnex-core and its plugins into $(VENV) (a minute or two the first time)..."
	$(BIN)/pip install --progress-bar on -e . $(addprefix -e ,$(dir $(PLUGINS)))
	$(BIN)/bdnex-core demo

## bench: every benchmark script (prints ratios against a baseline measured in the same run)
bench: install
	@for script in benchmarks/bench_*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

## screenshots: the README's pictures of the review (1280×800, 390×844) taken again by the browser tests
screenshots: install
	BDNEX_REQUIRE_BROWSER=1 BDNEX_UPDATE_DOCS_SCREENSHOT=1 $(BIN)/python -m pytest -n 0 -q \
	  tests/test_web_browser.py -k "side_by_side or on_a_phone"

clean:
	rm -rf $(VENV) $(CT_VENV) build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache
