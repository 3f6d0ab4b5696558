# Two commands from nothing: each sets up .venv first when it is missing (scripts/setup.sh), then runs.
#   make course [PROFILE=cpu] [ONLY="00 01"] [PUBLISH=1]   run the notebooks
#   make test                                              run the tests
#   make rehearse                                          every notebook under the t4 and gpu tiers' code paths, on the CPU
#                                                          (make test runs the gpu tier's)
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

# All 13 rehearsals: `make test` runs each notebook's gpu-tier one; this adds the five t4-tier ones that differ
# (tests/test_rehearsal_runs.py says why CI can leave them out)
rehearse: .venv/.ready
	$(PY) -m pytest -n $(TEST_WORKERS) --dist worksteal -m "rehearsal or not rehearsal" tests/test_rehearsal_runs.py
