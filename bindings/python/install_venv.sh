#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Make a virtual environment and pip-install this package into it:
#   bindings/python/install_venv.sh [PYTHON [VENV [BUILD_DIR]]]
# PYTHON   default /usr/bin/python3: Debian's interpreter, whose numpy, mpi4py,
#          torch and pytest (apt: python3-numpy python3-mpi4py python3-torch
#          python3-pytest) the venv sees (--system-site-packages).
# VENV     default .venv in the current directory; reused when it exists.
# BUILD_DIR  scikit-build-core's build directory, kept between installs so a
#          reinstall recompiles only what changed (default: a fresh one).
# pip builds in an isolated environment with scikit-build-core and pybind11
# from PyPI. Offline, with both installed in the venv:
#   SIGNVOTE_PIP_NO_BUILD_ISOLATION=1 bindings/python/install_venv.sh
set -euo pipefail
py="${1:-/usr/bin/python3}"
venv="${2:-.venv}"
build="${3:-}"
src="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if [ ! -x "$venv/bin/python" ]; then
  "$py" -m venv --system-site-packages "$venv"
fi
args=(--disable-pip-version-check --no-input -q)
if [ -n "$build" ]; then args+=(--config-settings=build-dir="$build"); fi
if [ "${SIGNVOTE_PIP_NO_BUILD_ISOLATION:-0}" = 1 ]; then args+=(--no-build-isolation); fi
"$venv/bin/python" -m pip install "${args[@]}" "$src"
"$venv/bin/python" -c 'import signvote; print("signvote", signvote.__version__, "library", signvote.version(), "in", signvote.__file__)'
