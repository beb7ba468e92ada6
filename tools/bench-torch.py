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


def prompt_step_seconds(model, tokenizer, seconds, truncate):
    """One CoOp prompt-tuning step as clipcl bench encoders times it: 16 random context vectors shared
    by the 100 CIFAR-100 classes ("X"*16 + name + "."), the frozen text tower, cosine logits against
    128 image embeddings, cross-entropy, backward to the context, Adam. `truncate` runs only up to
    the longest prompt's EOT (clipcl's shortcut); otherwise all 77 positions, as CoOp does."""
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    with open(os.path.join(root, "Sources/Datasets/Resources/class_names/cifar100.txt")) as f:
        names = [line.strip() for line in f if line.strip()]
    for p in model.parameters():
        p.requires_grad_(False)
    ids = tokenizer([" ".join(["X"] * 16) + " " + n + "." for n in names])
    eot = ids.argmax(dim=-1)
    length = int(eot.max()) + 1 if truncate else ids.shape[1]
    with torch.no_grad():
        emb = model.token_embedding(ids)[:, :length]
    ctx = torch.nn.Parameter(torch.randn(16, emb.shape[-1]) * 0.02)
    opt = torch.optim.Adam([ctx], lr=1e-3)
    images = torch.nn.functional.normalize(torch.randn(128, model.text_projection.shape[1]), dim=-1)
    labels = torch.arange(128) % len(names)
    mask = model.attn_mask[:length, :length]

    def step():
        x = torch.cat([emb[:, :1], ctx.unsqueeze(0).expand(len(names), -1, -1), emb[:, 17:]], dim=1)
        x = x + model.positional_embedding[:length]
        x = model.transformer(x, attn_mask=mask)
        x = model.ln_final(x)
        text = x[torch.arange(len(names)), eot] @ model.text_projection
        logits = 100 * images @ torch.nn.functional.normalize(text, dim=-1).t()
        loss = torch.nn.functional.cross_entropy(logits, labels)
        opt.zero_grad()
        loss.backward()
        opt.step()

    return 1 / rate(step, 1, seconds)


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
    tokenizer = open_clip.get_tokenizer(a.arch)
    step77 = prompt_step_seconds(model, tokenizer, min(a.seconds, 5), truncate=False)
    step_cut = prompt_step_seconds(model, tokenizer, min(a.seconds, 5), truncate=True)
    print(json.dumps({"runtime": f"torch {torch.__version__}", "arch": a.arch, "threads": a.threads, "batch": a.batch,
                      "image_images_per_s": round(img, 2), "text_prompts_per_s": round(txt, 1),
                      "prompt_step_ms_77_tokens": round(step77 * 1000, 1), "prompt_step_ms_truncated": round(step_cut * 1000, 1),
                      "load_average": [round(x, 2) for x in os.getloadavg()]}))


if __name__ == "__main__":
    main()
