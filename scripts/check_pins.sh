#!/usr/bin/env bash
# Checks that the pinned packages resolve for every Python version the course supports (3.11-3.13) whose
# interpreter this machine has: `uv pip install --dry-run` (or pip's) of the project with its dev extras,
# nothing installed.
# Prints one line per version; exits non-zero if the pins do not resolve for one of them.
set -uo pipefail
cd "$(dirname "$0")/.."
status=0
checked=0
# .venv's own version was resolved for real by scripts/setup.sh; check the others
installed=$(.venv/bin/python -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null || true)
for version in 3.11 3.12 3.13; do
  if [ "$version" = "$installed" ]; then
    echo "Python $version: installed in .venv by scripts/setup.sh"
    checked=$((checked + 1))
    continue
  fi
  python=""
  for candidate in $(ls -d "${PYENV_ROOT:-$HOME/.pyenv}/versions/$version".*/bin/python 2>/dev/null | sort -V | tail -n 1) \
    "python$version"; do
    # a pyenv shim exists for every version but runs only the active ones: ask the interpreter itself
    if "$candidate" -c "import sys; assert sys.version.startswith('$version.')" >/dev/null 2>&1; then
      python=$(command -v "$candidate"); break
    fi
  done
  if [ -z "$python" ]; then
    echo "Python $version: no interpreter here, not checked"
    continue
  fi
  log=$(mktemp)
  # uv (installed in .venv by scripts/setup.sh) resolves for another interpreter in seconds; pip as the fallback
  if [ -n "${PIP_FIND_LINKS:-}" ] && [ -z "${UV_FIND_LINKS:-}" ]; then export UV_FIND_LINKS="$PIP_FIND_LINKS"; fi
  if [ -x .venv/bin/uv ]; then
    resolve=(.venv/bin/uv pip install --dry-run --quiet --python "$python" -e ".[dev]")
  else
    resolve=("$python" -m pip install --dry-run --ignore-installed --quiet -e ".[dev]")
  fi
  if "${resolve[@]}" >"$log" 2>&1; then
    echo "Python $version ($python): pins resolve"
  else
    echo "Python $version ($python): pins do NOT resolve:"
    grep -v "^WARNING: Location" "$log" | tail -n 5
    status=1
  fi
  rm -f "$log"
  checked=$((checked + 1))
done
[ "$checked" -gt 0 ] || { echo "no Python 3.11-3.13 interpreter found"; exit 1; }
exit $status
