#!/usr/bin/env bash
# Prepares a throwaway venv with the reference packages the interop tests drive: numpy + safetensors (Python reads
# the feature cache), huggingface_hub (it fills a Hugging Face cache that clipcl must use offline), and torch +
# transformers + pillow (the README's PyTorch snippet classifies with an exported learner head), open_clip_torch with
# the torchvision of that torch (tools/extract_torch.py is checked against clipcl extract on both fixture layouts).
# Prints the interpreter path, or nothing when Python or PyPI is unavailable (the reason goes to stderr);
# the tests then skip with a message, or fail when CLIPCL_REQUIRE_INTEROP=1. Nothing else in clipcl uses Python.
set -u
venv=".build/python-interop"
check='import safetensors.numpy, numpy, huggingface_hub'
torch_check='import torch, transformers, PIL'
# PyPI's torchvision is linked against CUDA torch; next to the CPU torch it imports through tools/torchvision_compat.py.
open_clip_check='import sys; sys.path.insert(0, "tools"); import torchvision_compat; torchvision_compat.import_torchvision(); import open_clip'
if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c "$check; $torch_check; $open_clip_check" 2>/dev/null; then
  echo "$PWD/$venv/bin/python"; exit 0
fi
command -v python3 >/dev/null 2>&1 || { echo "python-interop-venv: no python3 on PATH" >&2; exit 0; }
[ -x "$venv/bin/python" ] || python3 -m venv "$venv" >/dev/null 2>&1 || { echo "python-interop-venv: python3 -m venv failed" >&2; exit 0; }
"$venv/bin/pip" install -q safetensors numpy huggingface_hub >/dev/null 2>&1 || { echo "python-interop-venv: pip install failed (no PyPI?)" >&2; exit 0; }
# torch: a CPU-only wheel where pip's find-links has one (these machines ship torch 2.13.0+cpu), else PyPI's
# default wheel, which brings gigabytes of CUDA libraries but imports on a CPU too.
if ! "$venv/bin/python" -c "import torch" 2>/dev/null; then
  "$venv/bin/pip" install -q 'torch==2.13.0+cpu' >/dev/null 2>&1 \
    || "$venv/bin/pip" install -q torch >/dev/null 2>&1 \
    || echo "python-interop-venv: pip install torch failed (the PyTorch snippet test cannot run)" >&2
fi
"$venv/bin/pip" install -q transformers pillow >/dev/null 2>&1 || echo "python-interop-venv: pip install transformers pillow failed" >&2
# open_clip_torch pulls torchvision; pinning the installed torch makes pip choose the torchvision built for it.
if installed=$("$venv/bin/python" -c 'import torch; print(torch.__version__)' 2>/dev/null); then
  "$venv/bin/pip" install -q open_clip_torch "torch==$installed" >/dev/null 2>&1 \
    || echo "python-interop-venv: pip install open_clip_torch failed (the open_clip case of the extract_torch test cannot run)" >&2
fi
"$venv/bin/python" -c "$check" 2>/dev/null && echo "$PWD/$venv/bin/python"
exit 0
