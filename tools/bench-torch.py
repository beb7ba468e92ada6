"""PyTorch side of `tools/bench-compare.sh`: the same workloads as `clipcl bench encoders`.

Random weights of the real architecture (open_clip, no download), fp32, `torch.set_num_threads(N)`,
one warm-up call, then as many calls as fit in SECONDS. Prints one JSON object.
Run it in a throwaway venv:  python3 -m venv /tmp/venv-bench && /tmp/venv-bench/bin/pip install torch open_clip_torch
Tests never need Python.
"""
import argparse, json, os, time

import torch


from torchvision_compat import import_torchvision  # noqa: E402

import_torchvision()
import open_clip  # noqa: E402


def rate(fn, count, seconds):
    fn()
    n, start = 0, time.perf_counter()
    while True:
        fn()
        n += count
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return n / elapsed


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--arch", default="ViT-B-16")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--seconds", type=float, default=10)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    model = open_clip.create_model(a.arch + "-quickgelu", pretrained=None).eval()
    pixels = torch.randn(a.batch, 3, 224, 224)
    tokens = open_clip.get_tokenizer(a.arch)([f"a photo of a class {i} thing." for i in range(100)])
    with torch.inference_mode():
        img = rate(lambda: model.encode_image(pixels), a.batch, a.seconds)
        txt = rate(lambda: model.encode_text(tokens), 100, min(a.seconds, 5))
    print(json.dumps({"runtime": f"torch {torch.__version__}", "arch": a.arch, "threads": a.threads, "batch": a.batch,
                      "image_images_per_s": round(img, 2), "text_prompts_per_s": round(txt, 1),
                      "load_average": [round(x, 2) for x in os.getloadavg()]}))


if __name__ == "__main__":
    main()
