#!/usr/bin/env python3
"""Reference fixtures for clipcl's CLIP towers, checkpoint loaders, tokenizer and image preprocessing.

WHAT IT MAKES (default mode; everything under Tests/Fixtures/clip/, 8.3 MB = 7.9 MiB, committed)
    images/                      deterministic synthetic images + downscaled scikit-image sample photos
                                 (PNG and JPEG; RGB, grayscale "L", RGBA with partial transparency; several sizes)
    images/decoded.safetensors   the decoded pixels of every image as Pillow sees them: U8 [H, W, C] named by file
                                 (C = 1 for L, 3 for RGB, 4 for RGBA) -- lets tests separate JPEG decoding from
                                 preprocessing
    hf-tiny/                     Hugging Face transformers folder (random weights, stored as F16):
                                 config.json, model.safetensors (+ injected I64 *.position_ids buffers, which a loader
                                 must skip), preprocessor_config.json, vocab.json, merges.txt, tokenizer_config.json,
                                 special_tokens_map.json
    hf-tiny-expected.safetensors expected tokenizer ids, pixel values, embeddings, logits, hidden states (HF)
    openclip-tiny/               open_clip hub-style folder (random weights, BF16 with F32 LayerNorms/logit_scale):
                                 open_clip_model.safetensors, open_clip_config.json ({"model_cfg", "preprocess_cfg"})
    openclip-tiny-expected.safetensors   the same set of expectations computed with open_clip (OpenAI conventions)
    manifest.json                texts, image files (in tensor order), configs, dtypes, tensor lists, versions, notes

    Expectations are computed by reloading the SAVED files with the reference library in float32, so they match what a
    loader sees after converting F16/BF16 weights to F32.

OTHER MODE
    --full-b16 OUTDIR   a full-size random-weight ViT-B/16 HF folder (config as openai/clip-vit-base-patch16;
                        ~600 MB F32) plus OUTDIR/expected.safetensors for 2 images and 3 texts. Not committed.

HOW TO RUN (from the repository root; tests never need Python -- the generated files are committed)
    python3 -m venv /tmp/venv-ref
    /tmp/venv-ref/bin/pip install /opt/wheels/torch-2.13.0+cpu-*.whl     # CPU torch (PyPI's default pulls CUDA)
    echo "torch==2.13.0+cpu" > /tmp/c.txt
    /tmp/venv-ref/bin/pip install -c /tmp/c.txt numpy torchvision transformers open_clip_torch safetensors \\
        pillow scikit-image
    /tmp/venv-ref/bin/python tools/make_clip_fixtures.py                 # -> Tests/Fixtures/clip/
    /tmp/venv-ref/bin/python tools/make_clip_fixtures.py --full-b16 /tmp/clip-b16-full

    Versions used for the committed files are in Tests/Fixtures/clip/manifest.json ("versions").
    The PyPI torchvision wheel is linked against CUDA torch; with a CPU torch its C++ ops fail to load and
    `import torchvision` dies in _meta_registrations ("operator torchvision::nms does not exist");
    tools/torchvision_compat.py defines the two op schemas it needs; nothing here uses those ops.
"""

import argparse
import gzip
import json
import math
import os
import platform
import shutil
import sys
import time

import numpy as np
import torch

torch.set_grad_enabled(False)


from torchvision_compat import import_torchvision  # noqa: E402

TORCHVISION_MODE = import_torchvision()

import PIL  # noqa: E402
from PIL import Image  # noqa: E402
import safetensors  # noqa: E402
from safetensors.torch import save_file, load_file  # noqa: E402
import torchvision  # noqa: E402
import transformers  # noqa: E402
from transformers import CLIPConfig, CLIPModel, CLIPTokenizer, CLIPImageProcessor  # noqa: E402
from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil  # noqa: E402
import open_clip  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, ".."))
BPE_PATH = os.path.normpath(os.path.join(REPO, "..", "shared", "data", "bpe_simple_vocab_16e6.txt.gz"))
if not os.path.exists(BPE_PATH):  # fall back to the copy shipped in open_clip's wheel (byte-identical)
    BPE_PATH = os.path.join(os.path.dirname(open_clip.__file__), "bpe_simple_vocab_16e6.txt.gz")

OPENAI_MEAN = [0.48145466, 0.4578275, 0.40821073]
OPENAI_STD = [0.26862954, 0.26130258, 0.27577711]
SEED = 1234

TEXTS = [
    "a photo of a cat.",
    "a diagram",
    "a dog",
    "Hello, World! It's 3:45 pm on 2024-01-02 -- 100% sure?",
    # > 77 tokens: truncated to SOT + 75 tokens + EOT
    "a very long caption that keeps going: " + " ".join(
        f"the {w} number {i} sits next to a red car," for i, w in enumerate(
            ["first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth"])),
    "",
    "Tom &amp; Jerry",  # OpenAI/open_clip cleaning unescapes to "&"; HF keeps "&amp;" literally -> different ids
    "naïve café résumé",
]


def versions():
    import skimage
    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torchvision": torchvision.__version__ + " [" + TORCHVISION_MODE + "]",
        "transformers": transformers.__version__,
        "open_clip_torch": open_clip.__version__,
        "tokenizers": __import__("tokenizers").__version__,
        "safetensors": safetensors.__version__,
        "numpy": np.__version__,
        "pillow": PIL.__version__,
        "scikit-image": skimage.__version__,
        "ftfy": __import__("ftfy").__version__,
    }


def save_st(tensors, path, source):
    """Deterministic safetensors write: exactly one metadata key (the Rust writer's HashMap order is random)."""
    save_file({k: v.detach().clone().contiguous() for k, v in tensors.items()}, path, metadata={"format": "pt"} if source is None
              else {"source": source})
    os.chmod(path, 0o644)


def st_summary(path):
    """name -> [dtype, shape] straight from the file header."""
    import struct
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        hdr = json.loads(f.read(n))
    return {k: [v["dtype"], v["shape"]] for k, v in sorted(hdr.items()) if k != "__metadata__"}


# ================================================================================================================
# Tokenizer files (HF format) from the OpenAI merges file, by the id rules of docs/clip.md section 3.2
# ================================================================================================================

def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs]))


def write_tokenizer_files(folder):
    lines = gzip.open(BPE_PATH).read().decode("utf-8").split("\n")
    merges = [tuple(m.split()) for m in lines[1:49152 - 256 - 2 + 1]]
    vocab = list(bytes_to_unicode().values())
    vocab = vocab + [v + "</w>" for v in vocab]
    vocab += ["".join(m) for m in merges]
    vocab += ["<|startoftext|>", "<|endoftext|>"]
    assert len(vocab) == 49408 and len(merges) == 48894
    enc = {v: i for i, v in enumerate(vocab)}
    with open(os.path.join(folder, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump(enc, f, ensure_ascii=False, separators=(",", ":"))  # compact, id order, like the hub file
    with open(os.path.join(folder, "merges.txt"), "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n")
        f.writelines(f"{a} {b}\n" for a, b in merges)
    special = lambda s: {"content": s, "lstrip": False, "normalized": True, "rstrip": False, "single_word": False}
    with open(os.path.join(folder, "special_tokens_map.json"), "w") as f:
        json.dump({"bos_token": special("<|startoftext|>"), "eos_token": special("<|endoftext|>"),
                   "pad_token": "<|endoftext|>", "unk_token": special("<|endoftext|>")}, f, indent=2)
        f.write("\n")
    with open(os.path.join(folder, "tokenizer_config.json"), "w") as f:
        json.dump({"add_prefix_space": False, "bos_token": "<|startoftext|>", "do_lower_case": True,
                   "eos_token": "<|endoftext|>", "errors": "replace", "model_max_length": 77,
                   "pad_token": "<|endoftext|>", "tokenizer_class": "CLIPTokenizer",
                   "unk_token": "<|endoftext|>"}, f, indent=2)
        f.write("\n")


def check_tokenizer(tok):
    """HF-mode tokenizer vs the shared OpenAI test vectors, on the cases where both cleanings agree."""
    p = os.path.normpath(os.path.join(REPO, "..", "shared", "data", "tokenizer_vectors.json"))
    if not os.path.exists(p):
        return "skipped (no tokenizer_vectors.json)"
    vec = json.load(open(p))
    n = 0
    for v in vec:
        if not v.get("minimal_pipeline_matches"):
            continue
        ids = tok(v["text"], truncation=True, max_length=77)["input_ids"]
        want = v["ids"] if len(v["ids"]) <= 77 else v["ids"][:76] + [49407]
        assert ids == want, (v["text"], ids, want)
        n += 1
    return f"{n} of {len(vec)} shared vectors (those with minimal_pipeline_matches) reproduced exactly"


# ================================================================================================================
# Images
# ================================================================================================================

def make_images(folder):
    """Returns a list of dicts (file, width, height, mode, format, source, note) in tensor order."""
    import skimage
    os.makedirs(folder, exist_ok=True)
    data_dir = os.path.join(os.path.dirname(skimage.__file__), "data")
    rng = np.random.default_rng(SEED)
    out = []

    def add(img, name, source, note="", **save_kw):
        path = os.path.join(folder, name)
        img.save(path, **save_kw)
        os.chmod(path, 0o644)
        re = Image.open(path)
        out.append({"file": name, "width": re.width, "height": re.height, "mode": re.mode, "format": re.format,
                    "source": source, "note": note})

    def photo(fname, max_side):
        im = Image.open(os.path.join(data_dir, fname))
        im.load()
        w, h = im.size
        s = max_side / max(w, h)
        return im.resize((max(1, round(w * s)), max(1, round(h * s))), Image.Resampling.LANCZOS)

    src = "scikit-image {} skimage/data/{} (public domain / CC0 sample data), downscaled with Pillow LANCZOS"
    add(photo("astronaut.png", 96).convert("RGB"), "photo_astronaut_96x96.png", src.format(skimage.__version__,
        "astronaut.png"))
    add(photo("chelsea.png", 96).convert("RGB"), "photo_chelsea_96x64.jpg",
        src.format(skimage.__version__, "chelsea.png"), "JPEG quality 90, 4:2:0 subsampling: decoded pixels depend "
        "on the JPEG decoder (see decoded.safetensors for Pillow's)", quality=90, subsampling=2)
    add(photo("coffee.png", 96).convert("RGB"), "photo_coffee_96x64.png", src.format(skimage.__version__,
        "coffee.png"))
    add(photo("camera.png", 64).convert("L"), "photo_camera_gray_64x64.png",
        src.format(skimage.__version__, "camera.png"), "grayscale (mode L)")

    # synthetic, deterministic
    yy, xx = np.mgrid[0:40, 0:50]
    g = np.stack([xx * 255 / 49, yy * 255 / 39, (xx + yy) * 255 / 88], -1)
    g = g + 20 * np.sin(xx / 3.0)[..., None] * np.cos(yy / 4.0)[..., None]
    add(Image.fromarray(np.clip(g, 0, 255).round().astype(np.uint8), "RGB"), "synth_gradient_50x40.png",
        "synthetic", "landscape 50x40 gradient + waves")

    add(Image.fromarray(rng.integers(0, 256, size=(64, 31, 3), dtype=np.uint8), "RGB"), "synth_noise_31x64.png",
        "synthetic", "tall, odd width, uniform noise; width 31 < 32 so the short side is UPscaled; for a 48-px "
                     "model the crop offset is 25.5 (OpenAI rounds half-to-even -> 26, HF floors -> 25)")

    yy, xx = np.mgrid[0:72, 0:96]
    p = np.stack([((xx // 8 + yy // 8) % 2) * 200 + 30, (np.sin(xx / 5.0) * 0.5 + 0.5) * 255,
                  (yy * 255 / 71)], -1)
    add(Image.fromarray(np.clip(p, 0, 255).round().astype(np.uint8), "RGB"), "synth_pattern_96x72.jpg",
        "synthetic", "JPEG quality 85, 4:2:0 subsampling", quality=85, subsampling=2)

    yy, xx = np.mgrid[0:45, 0:60]
    rgba = np.zeros((45, 60, 4), np.uint8)
    rgba[..., 0] = (xx * 4) % 256
    rgba[..., 1] = 90
    rgba[..., 2] = (yy * 5) % 256
    alpha = np.zeros((45, 60), np.uint8)  # fully transparent background, but with non-zero stored RGB
    alpha[((xx - 20) ** 2 + (yy - 22) ** 2) < 14 ** 2] = 255  # opaque disc
    alpha[5:40, 38:55] = 128  # half-transparent rectangle
    alpha[10:15, 0:60] = 64
    rgba[..., 3] = alpha
    add(Image.fromarray(rgba, "RGBA"), "synth_rgba_60x45.png", "synthetic",
        "RGBA, partially transparent (alpha 0/64/128/255) with non-zero RGB under alpha 0: OpenAI/open_clip "
        "resize premultiplied then drop alpha; HF composites onto white before resizing")

    yy, xx = np.mgrid[0:64, 0:78]
    c = np.stack([(xx * 3) % 256, (yy * 4) % 256, ((xx ^ yy) * 2) % 256], -1)
    add(Image.fromarray(c.astype(np.uint8), "RGB"), "synth_crop_78x64.png", "synthetic",
        "for a 32-px model: resized to 39x32, crop offset 3.5 (OpenAI half-to-even -> 4, HF floor -> 3)")

    yy, xx = np.mgrid[0:32, 0:32]
    ch = np.stack([((xx // 4 + yy // 4) % 2) * 255, xx * 8, yy * 8], -1)
    add(Image.fromarray(np.clip(ch, 0, 255).astype(np.uint8), "RGB"), "synth_checker_32x32.png", "synthetic",
        "already 32x32: no resize and no crop for the 32-px model")

    dec = {}
    for e in out:
        a = np.asarray(Image.open(os.path.join(folder, e["file"])))
        if a.ndim == 2:
            a = a[..., None]
        dec[e["file"]] = torch.from_numpy(a.copy())
    save_st(dec, os.path.join(folder, "decoded.safetensors"),
            f"Pillow {PIL.__version__} decode of each file, U8 [H,W,C]")
    return out


def load_images(folder, entries):
    ims = []
    for e in entries:
        im = Image.open(os.path.join(folder, e["file"]))
        im.load()
        ims.append(im)
    return ims


# ================================================================================================================
# Helpers for weights
# ================================================================================================================

def perturb_(model, gen, ln_names=("layer_norm", "layrnorm", "layernorm", "ln_")):
    """Default inits leave LayerNorm weight=1, bias=0 and most biases 0: a loader that swaps or drops them would
    still pass. Give every LayerNorm and bias tensor distinct random values."""
    for name, p in model.named_parameters():
        is_ln = any(s in name for s in ln_names)
        if is_ln and name.endswith(".weight"):
            p.copy_(1.0 + 0.2 * torch.randn(p.shape, generator=gen))
        elif name.endswith(".bias") or name.endswith("_bias"):
            p.copy_(0.1 * torch.randn(p.shape, generator=gen))


def l2n(x):
    return x / x.norm(dim=-1, keepdim=True)


# ================================================================================================================
# (a) HF transformers tiny model
# ================================================================================================================

HF_TINY = dict(
    projection_dim=32,
    logit_scale_init_value=2.6592,
    text_config=dict(vocab_size=49408, hidden_size=32, intermediate_size=128, num_hidden_layers=2,
                     num_attention_heads=2, max_position_embeddings=77, hidden_act="quick_gelu", layer_norm_eps=1e-5),
    vision_config=dict(hidden_size=64, intermediate_size=256, num_hidden_layers=2, num_attention_heads=4,
                       image_size=32, patch_size=8, num_channels=3, hidden_act="quick_gelu", layer_norm_eps=1e-5),
)

HF_B16 = dict(
    projection_dim=512,
    logit_scale_init_value=2.6592,
    text_config=dict(vocab_size=49408, hidden_size=512, intermediate_size=2048, num_hidden_layers=12,
                     num_attention_heads=8, max_position_embeddings=77, hidden_act="quick_gelu", layer_norm_eps=1e-5),
    vision_config=dict(hidden_size=768, intermediate_size=3072, num_hidden_layers=12, num_attention_heads=12,
                       image_size=224, patch_size=16, num_channels=3, hidden_act="quick_gelu", layer_norm_eps=1e-5),
)


def build_hf_folder(folder, cfg_dict, dtype, seed, perturb=True, inject_position_ids=True):
    os.makedirs(folder, exist_ok=True)
    torch.manual_seed(seed)
    cfg = CLIPConfig(**cfg_dict)
    model = CLIPModel(cfg).eval()
    if perturb:
        perturb_(model, torch.Generator().manual_seed(seed + 1))
    model.to(dtype).save_pretrained(folder, safe_serialization=True)
    st = os.path.join(folder, "model.safetensors")
    if inject_position_ids:
        # Older hub files (e.g. openai/clip-vit-base-patch32) carry these I64 buffers; current transformers no
        # longer saves them. Inject them so the loader's "skip unknown keys / parse I64" path is exercised.
        sd = load_file(st)
        nt = cfg.text_config.max_position_embeddings
        nv = (cfg.vision_config.image_size // cfg.vision_config.patch_size) ** 2 + 1
        sd["text_model.embeddings.position_ids"] = torch.arange(nt, dtype=torch.int64)[None]
        sd["vision_model.embeddings.position_ids"] = torch.arange(nv, dtype=torch.int64)[None]
        save_st(sd, st, None)  # metadata {"format": "pt"} as transformers writes it
    os.chmod(st, 0o644)
    os.chmod(os.path.join(folder, "config.json"), 0o644)
    size = cfg.vision_config.image_size
    CLIPImageProcessor(size={"shortest_edge": size}, crop_size={"height": size, "width": size},
                       image_mean=OPENAI_MEAN, image_std=OPENAI_STD, resample=3, do_convert_rgb=True,
                       ).save_pretrained(folder)
    write_tokenizer_files(folder)


class Hooks:
    """Collects module outputs (first element of tuples)."""

    def __init__(self, modules):
        self.out = [None] * len(modules)
        self.handles = [m.register_forward_hook(self._make(i)) for i, m in enumerate(modules)]

    def _make(self, i):
        def hook(_m, _inp, output):
            self.out[i] = (output[0] if isinstance(output, tuple) else output).detach().clone()
        return hook

    def remove(self):
        for h in self.handles:
            h.remove()


def hf_expectations(folder, images, texts, hidden=True):
    model = CLIPModel.from_pretrained(folder, dtype=torch.float32, attn_implementation="eager").eval()
    assert model.config._attn_implementation == "eager"
    tok = CLIPTokenizer.from_pretrained(folder)
    proc = CLIPImageProcessor.from_pretrained(folder)
    proc_pil = CLIPImageProcessorPil.from_pretrained(folder)
    assert tok.model_max_length == 77

    enc = tok(texts, padding="max_length", max_length=77, truncation=True, return_tensors="pt")
    ids, am = enc["input_ids"].to(torch.int64), enc["attention_mask"].to(torch.int64)
    pv = proc(images=images, return_tensors="pt")["pixel_values"].float()
    pv_pil = proc_pil(images=images, return_tensors="pt")["pixel_values"].float()

    vm, tm = model.vision_model, model.text_model
    vh = Hooks([vm.embeddings, vm.pre_layrnorm] + list(vm.encoder.layers) + [vm.post_layernorm])
    th = Hooks([tm.embeddings] + list(tm.encoder.layers) + [tm.final_layer_norm])
    out = model(input_ids=ids, attention_mask=am, pixel_values=pv, return_dict=True)
    vh.remove()
    th.remove()

    img_raw = model.get_image_features(pixel_values=pv)
    txt_raw = model.get_text_features(input_ids=ids, attention_mask=am)
    img_raw = img_raw.pooler_output if hasattr(img_raw, "pooler_output") else img_raw
    txt_raw = txt_raw.pooler_output if hasattr(txt_raw, "pooler_output") else txt_raw
    # consistency: HF's own normalised outputs = ours
    assert torch.allclose(l2n(img_raw), out.image_embeds, atol=1e-6)
    assert torch.allclose(l2n(txt_raw), out.text_embeds, atol=1e-6)
    # without attention_mask (causal mask alone) the pooled text features are the same
    txt_nomask = model.get_text_features(input_ids=ids)
    txt_nomask = txt_nomask.pooler_output if hasattr(txt_nomask, "pooler_output") else txt_nomask
    checks = {"text_features_without_attention_mask_max_abs_diff": float((txt_nomask - txt_raw).abs().max())}

    eot = (ids == 49407).int().argmax(dim=-1).to(torch.int64)
    res = {
        "input_ids": ids, "attention_mask": am, "text_eot_index": eot,
        "pixel_values": pv, "pixel_values_pil_backend": pv_pil,
        "image_features_raw": img_raw, "text_features_raw": txt_raw,
        "image_embeds": out.image_embeds, "text_embeds": out.text_embeds,
        "logits_per_image": out.logits_per_image, "logit_scale": model.logit_scale.detach().clone().reshape(()),
    }
    if hidden:
        L = len(vm.encoder.layers)
        res["vision_embeddings"] = vh.out[0][0]                      # [tokens, width]: CLS + patches, + pos emb
        for i in range(L + 1):
            res[f"vision_hidden_{i}"] = vh.out[1 + i][0]             # 0: after pre_layrnorm; i: after layer i
        res["vision_hidden_last"] = vh.out[L + 1][0]
        res["vision_pooled"] = vh.out[L + 2][0]                      # post_layernorm(CLS)
        Lt = len(tm.encoder.layers)
        for i in range(Lt + 1):
            res[f"text_hidden_{i}"] = th.out[i][0]                   # 0: token + position embeddings
        res["text_hidden_last"] = th.out[Lt][0]
        res["text_final_ln"] = th.out[Lt + 1][0]                     # final_layer_norm, all positions
        res["text_pooled"] = th.out[Lt + 1][0][eot[0]]
        assert torch.allclose(res["text_pooled"] @ model.text_projection.weight.T, txt_raw[0], atol=1e-5)
        assert torch.allclose(res["vision_pooled"] @ model.visual_projection.weight.T, img_raw[0], atol=1e-5)

    # eager vs SDPA (report only)
    m2 = CLIPModel.from_pretrained(folder, dtype=torch.float32, attn_implementation="sdpa").eval()
    o2 = m2(input_ids=ids, attention_mask=am, pixel_values=pv, return_dict=True)
    checks["sdpa_vs_eager_logits_max_abs_diff"] = float((o2.logits_per_image - out.logits_per_image).abs().max())
    checks["pixel_values_torchvision_vs_pil_backend_max_abs_diff"] = float((pv - pv_pil).abs().max())
    return {k: v.detach().contiguous() for k, v in res.items()}, checks


# ================================================================================================================
# (b) open_clip tiny model
# ================================================================================================================

OC_TINY_MODEL_CFG = {
    "embed_dim": 24,
    "quick_gelu": False,  # exact (erf) GELU -- the other activation variant (hf-tiny uses quick_gelu)
    "vision_cfg": {"image_size": 48, "patch_size": 16, "width": 48, "head_width": 16, "layers": 2, "mlp_ratio": 4.0},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 24, "heads": 2, "layers": 2, "mlp_ratio": 4.0},
}
OC_PREPROCESS_CFG = {"mean": OPENAI_MEAN, "std": OPENAI_STD, "interpolation": "bicubic", "resize_mode": "shortest"}
F32_KEEP = ("ln_", "logit_scale")  # tensors kept in F32 in the BF16 file (mirrors OpenAI's mixed-precision files)


def build_openclip_folder(folder, seed):
    os.makedirs(folder, exist_ok=True)
    torch.manual_seed(seed)
    cfg = json.loads(json.dumps(OC_TINY_MODEL_CFG))
    model = open_clip.model.CLIP(embed_dim=cfg["embed_dim"], vision_cfg=cfg["vision_cfg"], text_cfg=cfg["text_cfg"],
                                 quick_gelu=cfg["quick_gelu"]).eval()
    perturb_(model, torch.Generator().manual_seed(seed + 1))
    model.logit_scale.fill_(math.log(100.0))
    sd = model.state_dict()
    assert "attn_mask" not in sd  # non-persistent buffer
    out = {}
    for k, v in sd.items():
        keep = any(k.startswith(p) or (".%s" % p) in k for p in F32_KEEP)
        out[k] = v.float() if keep else v.to(torch.bfloat16)
    save_st(out, os.path.join(folder, "open_clip_model.safetensors"), None)
    with open(os.path.join(folder, "open_clip_config.json"), "w") as f:
        json.dump({"model_cfg": cfg, "preprocess_cfg": OC_PREPROCESS_CFG}, f, indent=2)
        f.write("\n")


def openclip_expectations(folder, images, texts):
    model, _, preprocess = open_clip.create_model_and_transforms(f"local-dir:{folder}", precision="fp32")
    model.eval()
    assert not model.training
    try:
        tokenizer = open_clip.get_tokenizer(f"local-dir:{folder}")
    except Exception:  # noqa: BLE001 -- optional cross-check only
        tokenizer = None
    ids = open_clip.tokenize(texts, context_length=77).to(torch.int64)
    if tokenizer is not None:
        assert torch.equal(tokenizer(texts).to(torch.int64), ids)
    pv = torch.stack([preprocess(im) for im in images]).float()

    v, t = model.visual, model
    vh = Hooks([v.ln_pre] + list(v.transformer.resblocks) + [v.ln_post])
    emb_in = {}
    h_pre = v.ln_pre.register_forward_hook(lambda m, i, o: emb_in.__setitem__("x", i[0].detach().clone()))
    img_raw = model.encode_image(pv)
    h_pre.remove()
    vh.remove()
    th = Hooks(list(t.transformer.resblocks) + [t.ln_final])
    tin = {}
    h_t = t.transformer.register_forward_hook(lambda m, i, o: tin.__setitem__("x", i[0].detach().clone()))
    txt_raw = model.encode_text(ids)
    h_t.remove()
    th.remove()
    img, txt = l2n(img_raw), l2n(txt_raw)
    scale = model.logit_scale.exp()
    logits = scale * img @ txt.T
    ref_logits, _ = model.get_logits(pv, ids)
    assert torch.allclose(ref_logits, logits, atol=1e-4)
    eot = ids.argmax(dim=-1).to(torch.int64)
    L = len(v.transformer.resblocks)
    res = {
        "input_ids": ids, "text_eot_index": eot, "pixel_values": pv,
        "image_features_raw": img_raw, "text_features_raw": txt_raw, "image_embeds": img, "text_embeds": txt,
        "logits_per_image": logits, "logit_scale": model.logit_scale.detach().clone().reshape(()),
        "vision_embeddings": emb_in["x"][0],
        "vision_hidden_0": vh.out[0][0],
    }
    for i in range(L):
        res[f"vision_hidden_{i + 1}"] = vh.out[1 + i][0]
    res["vision_hidden_last"] = vh.out[L][0]
    pooled_all = vh.out[L + 1]
    res["vision_pooled"] = pooled_all[0] if pooled_all.dim() == 2 else pooled_all[0, 0]
    Lt = len(t.transformer.resblocks)
    res["text_hidden_0"] = tin["x"][0]
    for i in range(Lt):
        res[f"text_hidden_{i + 1}"] = th.out[i][0]
    res["text_hidden_last"] = th.out[Lt - 1][0]
    res["text_final_ln"] = th.out[Lt][0]
    res["text_pooled"] = th.out[Lt][0][eot[0]]
    assert torch.allclose(res["text_pooled"] @ model.text_projection, txt_raw[0], atol=1e-5)
    assert torch.allclose(res["vision_pooled"] @ model.visual.proj, img_raw[0], atol=1e-5)
    act = type(model.transformer.resblocks[0].mlp.gelu).__name__
    return {k: x.detach().contiguous() for k, x in res.items()}, {"activation_module": act}


# ================================================================================================================
# modes
# ================================================================================================================

def describe_tensors(path):
    return {k: f"{d} {s}" for k, (d, s) in st_summary(path).items()}


def make_tiny(out_dir):
    t0 = time.time()
    os.makedirs(out_dir, exist_ok=True)
    img_dir = os.path.join(out_dir, "images")
    entries = make_images(img_dir)
    images = load_images(img_dir, entries)

    # (a) HF
    hf_dir = os.path.join(out_dir, "hf-tiny")
    if os.path.isdir(hf_dir):
        shutil.rmtree(hf_dir)
    build_hf_folder(hf_dir, HF_TINY, torch.float16, SEED)
    tok_check = check_tokenizer(CLIPTokenizer.from_pretrained(hf_dir))
    hf_res, hf_checks = hf_expectations(hf_dir, images, TEXTS)
    hf_exp = os.path.join(out_dir, "hf-tiny-expected.safetensors")
    save_st(hf_res, hf_exp, f"tools/make_clip_fixtures.py: transformers {transformers.__version__} CLIPModel (eager) "
                           f"on hf-tiny/, torch {torch.__version__}")

    # (b) open_clip
    oc_dir = os.path.join(out_dir, "openclip-tiny")
    if os.path.isdir(oc_dir):
        shutil.rmtree(oc_dir)
    build_openclip_folder(oc_dir, SEED + 100)
    oc_res, oc_checks = openclip_expectations(oc_dir, images, TEXTS)
    oc_exp = os.path.join(out_dir, "openclip-tiny-expected.safetensors")
    save_st(oc_res, oc_exp, f"tools/make_clip_fixtures.py: open_clip_torch {open_clip.__version__} on "
                           f"openclip-tiny/, torch {torch.__version__}")

    hf_w = st_summary(os.path.join(hf_dir, "model.safetensors"))
    oc_w = st_summary(os.path.join(oc_dir, "open_clip_model.safetensors"))
    manifest = {
        "generator": "tools/make_clip_fixtures.py",
        "versions": versions(),
        "texts": TEXTS,
        "images": entries,
        "image_order_note": "row i of pixel_values / image_* / logits_per_image is images[i]; rows of input_ids / "
                            "text_* and columns of logits_per_image follow texts",
        "models": {
            "hf-tiny": {
                "folder": "hf-tiny", "expected": "hf-tiny-expected.safetensors", "layout": "huggingface",
                "config": HF_TINY, "activation": "quick_gelu", "weights_dtype": "F16 (all float tensors)",
                "extra_keys": ["text_model.embeddings.position_ids I64 [1,77]",
                               "vision_model.embeddings.position_ids I64 [1,17]"],
                "head_dim": {"vision": 16, "text": 16},
                "logit_scale_stored": float(hf_res["logit_scale"]),
                "tokenizer": "HF CLIPTokenizer (cleaning: NFC + whitespace collapse + lowercase; pads with 49407; "
                             "attention_mask stored)",
                "preprocessing": "CLIPImageProcessor (transformers default = torchvision backend): convert_rgb "
                                 "composites alpha on WHITE, resize shortest edge 32 bicubic antialiased, center crop "
                                 "with FLOOR offsets; pixel_values_pil_backend = CLIPImageProcessorPil (Pillow resize, "
                                 "floor crop)",
                "attention": "eager (sdpa checked: see checks)",
                "tokenizer_check": tok_check,
                "checks": hf_checks,
                "weight_tensors": len(hf_w),
            },
            "openclip-tiny": {
                "folder": "openclip-tiny", "expected": "openclip-tiny-expected.safetensors",
                "layout": "openai/open_clip",
                "open_clip_config": {"model_cfg": OC_TINY_MODEL_CFG, "preprocess_cfg": OC_PREPROCESS_CFG},
                "activation": "gelu (exact, erf): quick_gelu=false",
                "weights_dtype": "BF16, except F32 for LayerNorm params (ln_*) and logit_scale",
                "head_dim": {"vision": 16, "text": 12},
                "heads": {"vision": 3, "text": 2},
                "heads_note": "NOT derivable from the weights and not width/64: take vision heads = width/head_width "
                              "and text heads from open_clip_config.json",
                "logit_scale_stored": float(oc_res["logit_scale"]),
                "tokenizer": "open_clip.tokenize (OpenAI mode: ftfy + html.unescape x2 + whitespace + lowercase; "
                             "pads with 0; truncates to SOT + 75 + EOT)",
                "preprocessing": "open_clip image_transform (eval): Resize(shortest 48, PIL bicubic) -> CenterCrop(48,"
                                 " round-half-even offsets) -> convert('RGB') AFTER resize (alpha dropped, no "
                                 "compositing) -> ToTensor -> Normalize(OpenAI mean/std)",
                "checks": oc_checks,
                "weight_tensors": len(oc_w),
            },
        },
        "expected_tensors": {
            "hf-tiny-expected.safetensors": describe_tensors(hf_exp),
            "openclip-tiny-expected.safetensors": describe_tensors(oc_exp),
            "images/decoded.safetensors": describe_tensors(os.path.join(img_dir, "decoded.safetensors")),
        },
        "tensor_notes": {
            "input_ids": "I64 [T,77]",
            "attention_mask": "I64 [T,77] (HF only)",
            "text_eot_index": "I64 [T]: first position of 49407",
            "pixel_values": "F32 [N,3,S,S] from the model's own preprocessing",
            "image_features_raw / text_features_raw": "projections before L2 normalisation",
            "image_embeds / text_embeds": "L2-normalised",
            "logits_per_image": "[N,T] = exp(logit_scale) * image_embeds @ text_embeds^T",
            "logit_scale": "0-rank, the stored LOG value after dtype rounding",
            "vision_*": "image 0 only, no batch dim: vision_embeddings = CLS/patch embeddings + position embeddings "
                        "(before ln_pre); vision_hidden_0 = after ln_pre/pre_layrnorm; vision_hidden_i = after "
                        "block i; vision_hidden_last = last block; vision_pooled = ln_post(CLS)",
            "text_*": "text 0 only: text_hidden_0 = token + position embeddings; text_hidden_i = after block i; "
                      "text_final_ln = ln_final on all 77 positions; text_pooled = text_final_ln[eot]",
        },
        "tolerances_hint": "expectations are fp32 CPU results; expect ~1e-5 relative agreement for embeddings. "
                           "open_clip pixel_values are reproduced EXACTLY by the OpenAI/Pillow pipeline "
                           "(docs/clip.md 4.1-4.2, checked here for every image); HF pixel_values_pil_backend equal "
                           "that pipeline except for HF's floor crop and white alpha compositing; HF pixel_values "
                           "(torchvision backend) differ from pixel_values_pil_backend by <= 1 LSB = 0.0150 "
                           "normalised on these images (2 LSB seen when upscaling 96 -> 224)",
    }
    with open(os.path.join(out_dir, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1, ensure_ascii=False)
        f.write("\n")
    print(f"done in {time.time() - t0:.1f} s", file=sys.stderr)


def make_full_b16(out_dir):
    t0 = time.time()
    os.makedirs(out_dir, exist_ok=True)
    hf_dir = os.path.join(out_dir, "clip-vit-base-patch16-random")
    build_hf_folder(hf_dir, HF_B16, torch.float32, SEED, perturb=True, inject_position_ids=False)
    t_build = time.time() - t0
    fixtures = os.path.join(REPO, "Tests", "Fixtures", "clip", "images")
    files = ["photo_astronaut_96x96.png", "photo_chelsea_96x64.jpg"]
    if not all(os.path.exists(os.path.join(fixtures, f)) for f in files):
        make_images(os.path.join(out_dir, "images"))
        fixtures = os.path.join(out_dir, "images")
    images = load_images(fixtures, [{"file": f} for f in files])
    texts = ["a photo of a cat.", "a diagram", "a photo of an astronaut"]
    res, checks = hf_expectations(hf_dir, images, texts, hidden=True)
    keep = {k: v for k, v in res.items() if not k.startswith(("vision_hidden_", "text_hidden_"))
            or k in ("vision_hidden_0", "vision_hidden_last", "text_hidden_0", "text_hidden_last")}
    exp = os.path.join(out_dir, "expected.safetensors")
    save_st(keep, exp, f"tools/make_clip_fixtures.py --full-b16: transformers {transformers.__version__}, "
                      f"torch {torch.__version__}")
    elapsed = time.time() - t0
    sizes = {}
    for root, _, fs in os.walk(out_dir):
        for f in fs:
            p = os.path.join(root, f)
            sizes[os.path.relpath(p, out_dir)] = os.path.getsize(p)
    with open(os.path.join(out_dir, "manifest.json"), "w") as f:
        json.dump({"generator": "tools/make_clip_fixtures.py --full-b16", "versions": versions(),
                   "config": HF_B16, "weights_dtype": "F32", "texts": texts, "images": files,
                   "images_folder": fixtures, "expected_tensors": describe_tensors(exp), "checks": checks,
                   "seconds_build_and_save": round(t_build, 1), "seconds_total": round(elapsed, 1),
                   "file_sizes": sizes}, f, indent=1)
        f.write("\n")
    print(f"full B/16: build+save {t_build:.1f} s, total {elapsed:.1f} s", file=sys.stderr)
    for k, v in sorted(sizes.items()):
        print(f"  {v:>12,d}  {k}", file=sys.stderr)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(REPO, "Tests", "Fixtures", "clip"))
    ap.add_argument("--full-b16", metavar="OUTDIR", help="write a full-size random ViT-B/16 HF folder instead")
    args = ap.parse_args()
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    if args.full_b16:
        make_full_b16(args.full_b16)
    else:
        make_tiny(args.out)


if __name__ == "__main__":
    main()
