# transfer_course: `make demo` runs the main job, `make test` runs the whole suite.
# Both create .venv and install the pinned, tested stack (constraints.txt) on first use; later runs reuse it.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Point the course at ../shared/data when it exists and nothing else was chosen.
SHARED_DATA := $(abspath $(wildcard ../shared/data))
export TRANSFER_COURSE_DATA ?= $(SHARED_DATA)
# Tests never download anything.
TEST_ENV := TRANSFER_COURSE_OFFLINE=1 TRANSFER_COURSE_QUICK=1 MPLBACKEND=Agg PYTHONHASHSEED=0

.PHONY: install demo test test-fast sync-check export readme bench gpu-check lint lesson-stats docs clean test-release

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	# torch first, pinned: an unpinned torch would pull the newest release over the network.
	$(BIN)/python -m pip install -q -c constraints.txt torch torchvision
	$(BIN)/python -m pip install -q -c constraints.txt -e ".[dev]"
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/transfer-course demo

export: $(STAMP)
	$(BIN)/nbdev-export

readme: $(STAMP)
	$(BIN)/python tools/make_readme.py

# Fails when nbdev's export would change transfer_course/ (library and notebooks out of sync).
sync-check: $(STAMP)
	@rm -rf .sync-check && cp -r transfer_course .sync-check
	@$(BIN)/nbdev-export
	@if ! diff -rq -x __pycache__ .sync-check transfer_course; then \
	  rm -rf .sync-check; echo "ERROR: transfer_course/ was out of sync with nbs/. nbdev-export has now updated it: review and commit."; exit 1; fi
	@rm -rf .sync-check
	@$(BIN)/python tools/make_readme.py --check

test: $(STAMP) sync-check lint lesson-stats outputs-check docs
	$(TEST_ENV) $(BIN)/python -m pytest tests nbs --nbval-lax -p no:cacheprovider -q -n 2 --dist loadfile \
	  --ignore=tests/test_exercise_release.py --durations=25

# Releases every exercise notebook, grades its perfect submission and runs every mutation in real kernels
# (4 min on an idle 2-core machine, 15+ when loaded; not part of `make test`, which keeps CI near 15 minutes).
test-release: $(STAMP)
	$(TEST_ENV) $(BIN)/python -m pytest tests/test_exercise_release.py -p no:cacheprovider -q

# Run the lessons and exercise notebooks, each in a fresh kernel, at full size on the CPU, and store their outputs
# (cleaned; stamped with a hash of their code and the run time; lessons get a runtime banner). Fails on any error.
# A subset: make outputs NOTEBOOKS="nbs/04_head.ipynb nbs/exercises/04_head.ipynb"
.PHONY: outputs outputs-check
outputs: $(STAMP)
	$(BIN)/python tools/outputs.py $(NOTEBOOKS)

# Fails when a lesson's or exercise notebook's code changed after its stored outputs were made: run `make outputs` and commit.
outputs-check: $(STAMP)
	$(BIN)/python tools/outputs.py --check $(NOTEBOOKS)

# The course website, offline (Sphinx + myst-nb from stored outputs; exercises as released by `assign`): build/docs/html.
# Fails on a Sphinx warning or an exercise notebook that does not release. `make test` builds it first: its browser
# test (tests/test_docs_site.py, headless Chromium) checks every page. Releases are cached in build/release.
docs: $(STAMP)
	$(TEST_ENV) $(BIN)/python tools/build_docs.py

bench: $(STAMP)
	$(BIN)/python bench/predict.py

# Pyflakes rules (ruff F): undefined names (e.g. imported only in a cell nbdev does not export) and unused imports.
lint: $(STAMP)
	$(BIN)/ruff check --select F transfer_course/

# Lessons 01-07 against the lesson targets (cell length, prose vs code, first result, exports tested, line length).
lesson-stats: $(STAMP)
	$(BIN)/python tools/lesson_stats.py

# The lessons' compute paths (predict, cached head, a fine-tune epoch, Grad-CAM, BatchNorm lab) on the device
# choose_device picks: seconds, images/s and accuracy per step. Full size on CUDA (goal: < 5 min), quick elsewhere.
gpu-check: $(STAMP)
	TRANSFER_COURSE_OFFLINE=1 MPLBACKEND=Agg $(BIN)/python tools/gpu_check.py

clean:
	rm -rf $(VENV) .sync-check build *.egg-info
