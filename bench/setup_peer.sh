#!/usr/bin/env bash
# Creates bench/.venv, a benchmark-only environment with the peer library small-text.
#
#     bash bench/setup_peer.sh
#
# The venv sees the system's site-packages (cartal, torch, numpy, pyarrow, scikit-learn),
# so only small-text and what it lacks are installed into it; the project's own
# dependencies never include small-text. Then:
#     bench/.venv/bin/python bench/peer_small_text.py --project PROJECT
set -euo pipefail
cd "$(dirname "$0")/.."
SMALL_TEXT_VERSION=1.4.1
if [ ! -x bench/.venv/bin/python ]; then
    python -m venv --system-site-packages bench/.venv
fi
bench/.venv/bin/python -m pip install --quiet --disable-pip-version-check "small-text==${SMALL_TEXT_VERSION}"
bench/.venv/bin/python -c "import small_text; print('small-text', small_text.__version__, 'in bench/.venv')"
