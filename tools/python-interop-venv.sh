#!/usr/bin/env bash
# Prepares a throwaway venv with numpy + safetensors for the one test that reads the feature
# cache from Python (the interop check). Prints the interpreter path, or nothing when Python or
# PyPI is unavailable; the test then skips with a message. Nothing else in clipcl uses Python.
set -u
venv=".build/python-interop"
if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c "import safetensors.numpy, numpy" 2>/dev/null; then
  echo "$PWD/$venv/bin/python"; exit 0
fi
command -v python3 >/dev/null 2>&1 || exit 0
python3 -m venv "$venv" >/dev/null 2>&1 || exit 0
"$venv/bin/pip" install -q safetensors numpy >/dev/null 2>&1 || exit 0
"$venv/bin/python" -c "import safetensors.numpy, numpy" 2>/dev/null && echo "$PWD/$venv/bin/python"
exit 0
