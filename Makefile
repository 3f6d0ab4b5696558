# Two commands from nothing: each sets up .venv first when it is missing (scripts/setup.sh), then runs.
#   make course [PROFILE=cpu] [ONLY="00 01"] [PUBLISH=1]   run the notebooks
#   make test                                              run the tests (the rehearsals below included)
#   make rehearse                                          every notebook under the t4 and gpu tiers' code paths, on the CPU
#   make setup                                             only the environment
PY := .venv/bin/python
# test workers (pytest-xdist): one per core, at most 4 (each loads its own models). worksteal: a worker that runs
# out of tests takes half of another's queue, so the long notebook runs (collected first, tests/conftest.py)
# are shared instead of queued behind each other on one worker.
TEST_WORKERS ?= $(shell n=$$(nproc); echo $$(( n < 4 ? n : 4 )))

.PHONY: setup course test rehearse

.venv/.ready: pyproject.toml scripts/setup.sh
	bash scripts/setup.sh

setup: .venv/.ready

course: .venv/.ready
	$(PY) -m helpers course $(if $(PROFILE),--profile $(PROFILE)) $(if $(ONLY),--only $(ONLY)) $(if $(PUBLISH),--publish)

test: .venv/.ready
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	$(PY) -m pytest -n $(TEST_WORKERS) --dist worksteal

# Only the rehearsals (make test runs them too): every notebook under the t4 and gpu tiers' code paths
rehearse: .venv/.ready
	$(PY) -m pytest -n $(TEST_WORKERS) --dist worksteal tests/test_rehearsal_runs.py
