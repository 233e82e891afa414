#!/usr/bin/env bash
# Label Studio 1.23 (with its SDK) in a virtualenv of its own, for the tests marked label_studio.
# Never in the project's interpreter: it pins Django, pandas, numpy, pyarrow... of its own.
# Idempotent: a venv that already holds label-studio 1.23.x is used as it is.
# The last line of stdout is the path of its label-studio executable, so CI can do
#   export CARTAL_LABEL_STUDIO=$(.ci/label-studio.sh | tail -1)
# CARTAL_LS_VENV: where the venv goes (default ~/.cache/cartal-ls-venv);
# CARTAL_LS_PYTHON: the interpreter that creates it (default python3, 3.10 to 3.13).
set -euo pipefail
venv="${CARTAL_LS_VENV:-$HOME/.cache/cartal-ls-venv}"
python="${CARTAL_LS_PYTHON:-python3}"
exe="$venv/bin/label-studio"

installed() {
    [ -x "$exe" ] && "$venv/bin/python" - <<'PY' 2>/dev/null
import importlib.metadata as m, sys
sys.exit(not m.version("label-studio").startswith("1.23."))
PY
}

if installed; then
    echo "label-studio $("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("label-studio"))') already in $venv" >&2
else
    echo "installing label-studio 1.23 into $venv (a few minutes, about 1 GB)" >&2
    "$python" -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check 'label-studio==1.23.*' >&2
    installed || { echo "label-studio 1.23 is still not importable from $venv" >&2; exit 1; }
fi
echo "$exe"
