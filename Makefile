# bdnex-core: plain targets for a fresh machine (Python >= 3.11 on PATH as python3).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CT_VENV ?= .venv-ct
# bdnex-comictagger belongs in ComicTagger's own environment (it depends on ComicTagger)
PLUGINS := $(filter-out plugins/comictagger/pyproject.toml,$(wildcard plugins/*/pyproject.toml))

.PHONY: install venv comictagger test test-fast demo bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

venv: $(BIN)/python

## install: the core, its test tools and the plugins under plugins/ (editable; bdnex-comictagger: see comictagger)
install: venv
	$(BIN)/pip install --quiet -e ".[test,postgresql]"
	@for plugin in $(dir $(PLUGINS)); do echo "installing $$plugin"; $(BIN)/pip install --quiet -e "$$plugin" || exit 1; done

## comictagger: ComicTagger 1.6.0b9 in its own environment, with bdnex-core and the bdnex-comictagger talker
comictagger: $(CT_VENV)/bin/comictagger
$(CT_VENV)/bin/comictagger:
	$(PYTHON) -m venv $(CT_VENV)
	$(CT_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(CT_VENV)/bin/pip install --quiet "comictagger==1.6.0b9" -e . -e plugins/comictagger

## test: the whole suite, slow tests included (about 10 minutes on 2 cores at most)
test: install comictagger
	BDNEX_COMICTAGGER=$(abspath $(CT_VENV))/bin/comictagger $(BIN)/python -m pytest -n 2 --dist loadfile -q

## test-fast: skip the tests marked slow
test-fast: install
	$(BIN)/python -m pytest -n 2 --dist loadfile -q -m "not slow"

## demo: tag a generated sample library against a local fake Bédéthèque
demo: install
	$(BIN)/bdnex-core demo

## bench: every benchmark script (prints ratios against a baseline measured in the same run)
bench: install
	@for script in benchmarks/bench_*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

clean:
	rm -rf $(VENV) $(CT_VENV) build dist *.egg-info .pytest_cache
