#!/usr/bin/env bash
# Prepares a throwaway venv with the reference packages the interop tests drive: numpy + safetensors (Python reads
# the feature cache) and huggingface_hub (it fills a Hugging Face cache that clipcl must use offline).
# Prints the interpreter path, or nothing when Python or PyPI is unavailable (the reason goes to stderr);
# the tests then skip with a message, or fail when CLIPCL_REQUIRE_INTEROP=1. Nothing else in clipcl uses Python.
set -u
venv=".build/python-interop"
check='import safetensors.numpy, numpy, huggingface_hub'
if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c "$check" 2>/dev/null; then
  echo "$PWD/$venv/bin/python"; exit 0
fi
command -v python3 >/dev/null 2>&1 || { echo "python-interop-venv: no python3 on PATH" >&2; exit 0; }
python3 -m venv "$venv" >/dev/null 2>&1 || { echo "python-interop-venv: python3 -m venv failed" >&2; exit 0; }
"$venv/bin/pip" install -q safetensors numpy huggingface_hub >/dev/null 2>&1 || { echo "python-interop-venv: pip install failed (no PyPI?)" >&2; exit 0; }
"$venv/bin/python" -c "$check" 2>/dev/null && echo "$PWD/$venv/bin/python"
exit 0
