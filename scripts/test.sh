#!/usr/bin/env bash
# The project's one test command (README, .ci/run): installs what the tests
# need on a fresh Debian 12 machine, then runs the whole suite against a real
# local stack that the tests start and stop themselves.
#
#   bash scripts/test.sh [pytest args...]
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install.sh

# Static checks first (configured in pyproject.toml): they fail in seconds.
python3 -m ruff check .
python3 -m mypy

# Unit and integration tests in one run; the integration tests start the real stack themselves.
# Two pytest processes (pytest-xdist), each with stacks of its own: the stacks leave much of the two cores idle
# while they wait on each other. A file's tests stay in one process and in their order (--dist loadfile): a
# module's stack and its scenario belong to one process. Extra arguments come after, so `-n 0` runs one process.
python3 -m pytest -p no:cacheprovider -n 2 --dist loadfile "$@"
