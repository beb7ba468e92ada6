#!/usr/bin/env python3
"""Fixtures for clipcl's PyTorch checkpoint reader and its Hugging Face hub imitation, written by the reference
libraries (torch, transformers, open_clip, timm) -- never by clipcl.

WHAT IT MAKES (committed; about 4 MB)
  Tests/Fixtures/torch/
    state_dict.pt           torch.save of an nn.Module state_dict (OrderedDict with _metadata) plus extra tensors:
                            F32/F16/BF16/F64/I64, a 0-dim scalar, a strided slice and a transpose that share a storage
                            with another tensor (saved without .contiguous()), an nn.Parameter
    expected.safetensors    every floating tensor of state_dict.pt, made contiguous F32 by torch
    training_checkpoint.pt  open_clip's training checkpoint layout: {"epoch", "name", "state_dict": {"module.*"},
                            "optimizer": AdamW state (floats, bools, tuples)}
    plain_dict.bin          a plain dict of tensors (what transformers >= 4.30 writes), saved to an ASCII-named stream
                            ("archive/" prefix)
    legacy.pt               torch.save(..., _use_new_zipfile_serialization=False): the pre-1.6 format (refused)
    torchscript.pt          torch.jit.save of a scripted module (refused)
  Tests/Fixtures/fuzz/torch/   hostile inputs (one-line refusals expected; also fuzz seeds):
    global-os-system.pt, global-builtins-eval.pt, reduce-storage-class.pt, deep-nesting.pt, deep-ordereddicts.pt,
    entry-outside-file.pt,
    storage-offset-past-end.pt, empty-view-offset-past-end.pt, storage-smaller-than-view.pt, missing-storage-record.pt,
    truncated.pt
  Tests/Fixtures/hub/
    manifest.json           the real repos' file lists this imitation serves (with where each was checked), texts,
                            and for every file either a fixture path or "placeholder" (bytes never read by clipcl)
    openai-clip-vit-base-patch32/   transformers CLIPModel (tiny, random), weights only as pytorch_model.bin (torch.save
                                    of the state dict, as the real repo has); config.json, preprocessor_config.json
    timm-vit_base_patch16_clip_224.openai/  open_clip tiny QuickGELU model: open_clip_config.json,
                                    open_clip_model.safetensors, open_clip_pytorch_model.bin (same weights, torch.save);
                                    timm's own config.json + model.safetensors from timm.models.save_for_hf (a tiny
                                    timm ViT image tower: the files clipcl must not take for CLIP)
    laion-CLIP-ViT-B-32-laion2B-s34B-b79K/  transformers CLIPModel (tiny) config.json + model.safetensors; the open_clip
                                    files of this repo are served from the timm folder's (decoys: never loaded)
    expected.safetensors    per repo: input_ids, pixel_values, image_features, text_features computed by the reference
                            library loading the folder (transformers CLIPModel.from_pretrained, open_clip local-dir:)

HOW TO RUN (from the repository root)
    python3 -m venv /tmp/venv-ref
    /tmp/venv-ref/bin/pip install /opt/wheels/torch-2.13.0+cpu-*.whl
    echo "torch==2.13.0+cpu" > /tmp/c.txt
    /tmp/venv-ref/bin/pip install -c /tmp/c.txt numpy torchvision transformers open_clip_torch timm safetensors
    /tmp/venv-ref/bin/python tools/make_hub_fixtures.py [torch] [hostile] [hub]     # default: all three
"""

import collections
import hashlib
import io
import json
import os
import shutil
import struct
import sys
import zipfile

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torchvision_compat import import_torchvision  # noqa: E402

import_torchvision()

import open_clip  # noqa: E402
import timm  # noqa: E402
import transformers  # noqa: E402
from safetensors.torch import save_file  # noqa: E402
from transformers import CLIPConfig, CLIPModel  # noqa: E402

torch.set_grad_enabled(False)
REPO = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
FIX = os.path.join(REPO, "Tests", "Fixtures")
TEXTS = ["a photo of a cat.", "a diagram", "two dogs playing in the snow"]


def perturb(model, seed):
    """Random init leaves LayerNorms at 1/0; nudge every parameter so each weight matters."""
    g = torch.Generator().manual_seed(seed)
    for p in model.parameters():
        p.add_(torch.randn(p.shape, generator=g) * 0.05)


# ---------------------------------------------------------------------------------------------------------------
# Reader fixtures
# ---------------------------------------------------------------------------------------------------------------

def torch_fixtures(out):
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(5, 4), torch.nn.LayerNorm(4))
    sd = net.state_dict()  # OrderedDict with _metadata
    base = torch.arange(48, dtype=torch.float32).reshape(6, 8) / 7
    sd["shared.base"] = base
    sd["shared.slice"] = base[1:5, 2:7]          # offset + strides into base's storage
    sd["shared.transposed"] = base.t()            # non-contiguous, same storage
    sd["half"] = torch.randn(3, 2).half()
    sd["bfloat"] = torch.randn(2, 3).bfloat16()
    sd["double"] = torch.randn(4).double()
    sd["long"] = torch.arange(5)
    sd["scalar"] = torch.tensor(4.6052)
    sd["parameter"] = torch.nn.Parameter(torch.randn(2, 2))
    torch.save(sd, os.path.join(out, "state_dict.pt"))
    expected = {k: v.detach().contiguous().float() for k, v in sd.items() if v.is_floating_point()}
    save_file(expected, os.path.join(out, "expected.safetensors"))

    opt = torch.optim.AdamW(net.parameters(), lr=5e-4, betas=(0.9, 0.98))
    with torch.enable_grad():
        net(torch.randn(2, 5)).sum().backward()
    opt.step()
    torch.save({"epoch": 3, "name": "tiny-run",
                "state_dict": collections.OrderedDict(("module." + k, v) for k, v in net.state_dict().items()),
                "optimizer": opt.state_dict()}, os.path.join(out, "training_checkpoint.pt"))

    buffer = io.BytesIO()
    torch.save({k: v for k, v in net.state_dict().items()}, buffer)
    with open(os.path.join(out, "plain_dict.bin"), "wb") as f:
        f.write(buffer.getvalue())

    torch.save(net.state_dict(), os.path.join(out, "legacy.pt"), _use_new_zipfile_serialization=False)
    torch.jit.save(torch.jit.script(net), os.path.join(out, "torchscript.pt"))


def zip_checkpoint(path, pickle_bytes, records, prefix="archive"):
    """A torch.save-shaped zip (stored members) with our own data.pkl and records."""
    def member(z, name, data):  # fixed timestamps: the same bytes on every run
        z.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), data)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as z:
        member(z, f"{prefix}/data.pkl", pickle_bytes)
        member(z, f"{prefix}/byteorder", "little")
        for name, data in records.items():
            member(z, f"{prefix}/data/{name}", data)
        member(z, f"{prefix}/version", "3\n")


def tensor_pickle(storage_numel, offset, size, stride, key="0"):
    """Protocol-2 pickle of {'w': _rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict())}."""
    def ints(values):
        return b"(" + b"".join(b"J" + struct.pack("<i", v) for v in values) + b"t"
    return (b"\x80\x02}X\x01\x00\x00\x00w"
            b"ctorch._utils\n_rebuild_tensor_v2\n("
            b"(X\x07\x00\x00\x00storagectorch\nFloatStorage\nX" + struct.pack("<I", len(key)) + key.encode()
            + b"X\x03\x00\x00\x00cpuJ" + struct.pack("<i", storage_numel) + b"tQ"
            + b"J" + struct.pack("<i", offset) + ints(size) + ints(stride)
            + b"\x89ccollections\nOrderedDict\n)RtRs.")


def hostile_fixtures(out, good):
    os.makedirs(out, exist_ok=True)
    # GLOBAL os.system / builtins.eval, then REDUCE: what a malicious pickle does first.
    zip_checkpoint(os.path.join(out, "global-os-system.pt"),
                   b"\x80\x02cos\nsystem\nX\x0b\x00\x00\x00echo pwned!\x85R.", {})
    zip_checkpoint(os.path.join(out, "global-builtins-eval.pt"),
                   b"\x80\x02cbuiltins\neval\nX\x0e\x00\x00\x00__import__('os')\x85R.", {})
    # An allowed global (a storage class) called with REDUCE: allowed to be named, never to be called.
    zip_checkpoint(os.path.join(out, "reduce-storage-class.pt"), b"\x80\x02ctorch\nFloatStorage\nK\x03\x85R.", {})
    # 100,000 nested lists: the unpickler must refuse it without recursing.
    zip_checkpoint(os.path.join(out, "deep-nesting.pt"), b"\x80\x02" + b"]" * 100_000 + b"a" * 99_999 + b".", {})
    # 50,000 nested OrderedDict() results (REDUCE, then SETITEM): refused as too deep, and released without recursing
    # (found on review: REDUCE results were not in the unpickler's teardown list; the release overflowed the stack).
    n = 50_000
    zip_checkpoint(os.path.join(out, "deep-ordereddicts.pt"),
                   b"\x80\x02ccollections\nOrderedDict\nq\x00)R" + b"X\x01\x00\x00\x00kh\x00)R" * n + b"s" * n + b".", {})
    four = struct.pack("<4f", 1, 2, 3, 4)
    # A view of 3x3 elements from a 4-element storage, and an offset past the end.
    zip_checkpoint(os.path.join(out, "storage-smaller-than-view.pt"), tensor_pickle(4, 0, [3, 3], [3, 1]), {"0": four})
    zip_checkpoint(os.path.join(out, "storage-offset-past-end.pt"), tensor_pickle(4, 9, [1], [1]), {"0": four})
    # An empty view whose offset lies past the storage (read in place, it would index outside the record).
    zip_checkpoint(os.path.join(out, "empty-view-offset-past-end.pt"), tensor_pickle(4, 1000, [0], [1]), {"0": four})
    # The persistent id names storage 7, which has no record.
    zip_checkpoint(os.path.join(out, "missing-storage-record.pt"), tensor_pickle(4, 0, [4], [1], key="7"), {"0": four})
    # A central directory entry whose local header offset points past the end of the file.
    data = bytearray(open(good, "rb").read())
    cd = data.rfind(b"PK\x01\x02")
    data[cd + 42:cd + 46] = struct.pack("<I", len(data) + 1000)
    open(os.path.join(out, "entry-outside-file.pt"), "wb").write(bytes(data))
    # Half a file (an interrupted download): no end-of-central-directory record.
    whole = open(good, "rb").read()
    open(os.path.join(out, "truncated.pt"), "wb").write(whole[: len(whole) // 2])


# ---------------------------------------------------------------------------------------------------------------
# Hub repos
# ---------------------------------------------------------------------------------------------------------------

HF_TINY = dict(
    text_config=dict(hidden_size=8, intermediate_size=16, num_attention_heads=2, num_hidden_layers=1,
                     max_position_embeddings=77, vocab_size=49408, hidden_act="quick_gelu"),
    vision_config=dict(hidden_size=16, intermediate_size=32, num_attention_heads=2, num_hidden_layers=1,
                       image_size=32, patch_size=8, hidden_act="quick_gelu"),
    projection_dim=32,
)

HF_PREPROCESSOR = {"crop_size": 32, "do_center_crop": True, "do_normalize": True, "do_resize": True,
                   "feature_extractor_type": "CLIPFeatureExtractor", "image_mean": [0.48145466, 0.4578275, 0.40821073],
                   "image_std": [0.26862954, 0.26130258, 0.27577711], "resample": 3, "size": 32}

OC_TINY = {"embed_dim": 32, "quick_gelu": True,
           "vision_cfg": {"image_size": 32, "layers": 1, "width": 16, "head_width": 8, "patch_size": 8},
           "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 8, "heads": 2, "layers": 1}}


def hf_model(seed):
    torch.manual_seed(seed)
    model = CLIPModel(CLIPConfig(**HF_TINY)).eval()
    perturb(model, seed + 1)
    return model


def hf_expectations(folder, pixels, ids):
    model = CLIPModel.from_pretrained(folder, attn_implementation="eager", dtype=torch.float32).eval()  # F32 compute, as clipcl
    return {"image_features": _features(model.get_image_features(pixel_values=pixels)),
            "text_features": _features(model.get_text_features(input_ids=ids))}


def _features(x):
    """transformers 5 returns a model output whose pooler_output holds the projected features."""
    return x.pooler_output if hasattr(x, "pooler_output") else x


def openclip_expectations(folder, pixels, ids):
    model, _, _ = open_clip.create_model_and_transforms(f"local-dir:{folder}", precision="fp32")
    model.eval()
    return {"image_features": model.encode_image(pixels), "text_features": model.encode_text(ids)}


def git_blob_sha1(data):
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def hub_fixtures(out):
    if os.path.isdir(out):
        shutil.rmtree(out)
    os.makedirs(out)
    torch.manual_seed(7)
    pixels = torch.randn(2, 3, 32, 32)
    ids = open_clip.tokenize(TEXTS, context_length=77).to(torch.int64)  # OpenAI's tokenizer; HF's gives the same ids
    expected = {"pixel_values": pixels}

    # openai/clip-vit-base-patch32: weights only as pytorch_model.bin.
    patch32 = os.path.join(out, "openai-clip-vit-base-patch32")
    model = hf_model(11)
    model.config.save_pretrained(patch32)
    torch.save(model.state_dict(), os.path.join(patch32, "pytorch_model.bin"))
    json.dump(HF_PREPROCESSOR, open(os.path.join(patch32, "preprocessor_config.json"), "w"), indent=2)
    for k, v in hf_expectations(patch32, pixels, ids).items():
        expected[f"openai/clip-vit-base-patch32.{k}"] = v

    # timm/vit_base_patch16_clip_224.openai: open_clip files + timm's own config.json and model.safetensors.
    timm_dir = os.path.join(out, "timm-vit_base_patch16_clip_224.openai")
    torch.manual_seed(21)
    oc = open_clip.model.CLIP(embed_dim=OC_TINY["embed_dim"], vision_cfg=OC_TINY["vision_cfg"],
                              text_cfg=OC_TINY["text_cfg"], quick_gelu=True).eval()
    perturb(oc, 22)
    oc.logit_scale.fill_(4.6052)
    os.makedirs(timm_dir)
    tensors = {k: v.to(torch.bfloat16) if v.dim() >= 2 else v for k, v in oc.state_dict().items()}
    save_file(tensors, os.path.join(timm_dir, "open_clip_model.safetensors"))
    torch.save(tensors, os.path.join(timm_dir, "open_clip_pytorch_model.bin"))
    with open(os.path.join(timm_dir, "open_clip_config.json"), "w") as f:
        json.dump({"model_cfg": OC_TINY, "preprocess_cfg": {"mean": HF_PREPROCESSOR["image_mean"],
                                                            "std": HF_PREPROCESSOR["image_std"]}}, f, indent=2)
    tiny_timm = timm.create_model("vit_base_patch16_clip_224", pretrained=False, img_size=32, patch_size=8, embed_dim=16,
                                  depth=1, num_heads=2, num_classes=8)
    timm_save = os.path.join(out, "_timm")
    timm.models.save_for_hf(tiny_timm, timm_save, safe_serialization=True)
    for name in ("config.json", "model.safetensors"):
        shutil.move(os.path.join(timm_save, name), os.path.join(timm_dir, name))
    shutil.rmtree(timm_save)
    for k, v in openclip_expectations(timm_dir, pixels, ids).items():
        expected[f"timm/vit_base_patch16_clip_224.openai.{k}"] = v

    # laion/CLIP-ViT-B-32-laion2B-s34B-b79K: HF config.json + model.safetensors (the HF path wins).
    laion = os.path.join(out, "laion-CLIP-ViT-B-32-laion2B-s34B-b79K")
    model = hf_model(31)
    model.config.save_pretrained(laion)
    save_file({k: v.half().contiguous() for k, v in model.state_dict().items()}, os.path.join(laion, "model.safetensors"),
              metadata={"format": "pt"})
    json.dump(HF_PREPROCESSOR, open(os.path.join(laion, "preprocessor_config.json"), "w"), indent=2)
    for k, v in hf_expectations(laion, pixels, ids).items():
        expected[f"laion/CLIP-ViT-B-32-laion2B-s34B-b79K.{k}"] = v

    expected["input_ids"] = ids
    save_file({k: v.detach().contiguous() for k, v in expected.items()}, os.path.join(out, "expected.safetensors"))

    def files(folder, listing):
        rows = []
        for path, lfs in listing:
            local = os.path.join(folder, path) if folder else None
            source = None
            if local and os.path.exists(local):
                source = os.path.relpath(local, FIX)
            elif path in ("vocab.json", "merges.txt", "special_tokens_map.json", "tokenizer_config.json"):
                source = os.path.join("clip", "hf-tiny", path)
            elif path.startswith("open_clip") and "laion" in (folder or ""):
                source = os.path.relpath(os.path.join(timm_dir, path), FIX)
            rows.append({"path": path, "lfs": lfs, "source": source or "placeholder"})
        return rows

    manifest = {
        "generator": "tools/make_hub_fixtures.py",
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__,
                     "open_clip": open_clip.__version__, "timm": timm.__version__},
        "texts": TEXTS,
        "repos": {
            "openai/clip-vit-base-patch32": {
                "checked": "main has pytorch_model.bin and no model.safetensors / index (404s in a transformers download log, "
                           "2026-05-01); safetensors only on refs/pr/66 (SFconvertbot). tf_model.h5 / flax_model.msgpack "
                           "per third-party listings (unconfirmed).",
                "files": files(patch32, [(".gitattributes", False), ("README.md", False), ("config.json", False),
                                         ("flax_model.msgpack", True), ("merges.txt", False),
                                         ("preprocessor_config.json", False), ("pytorch_model.bin", True),
                                         ("special_tokens_map.json", False), ("tf_model.h5", True),
                                         ("tokenizer.json", False), ("tokenizer_config.json", False),
                                         ("vocab.json", False)]),
            },
            "timm/vit_base_patch16_clip_224.openai": {
                "checked": "open_clip pretrained.py (hf_hub='timm/vit_base_patch16_clip_224.openai/', quick_gelu=True); "
                           "cache paths with open_clip_model.safetensors and open_clip_pytorch_model.bin at 977e3dd0; "
                           "timm requests model.safetensors (timm layout) from it.",
                "files": files(timm_dir, [(".gitattributes", False), ("README.md", False), ("config.json", False),
                                          ("model.safetensors", True), ("open_clip_config.json", False),
                                          ("open_clip_model.safetensors", True),
                                          ("open_clip_pytorch_model.bin", True)]),
            },
            "laion/CLIP-ViT-B-32-laion2B-s34B-b79K": {
                "checked": "open_clip_model.safetensors 605143316 bytes at 1a25a446 (cache audit); open_clip_pytorch_model.bin, "
                           "open_clip_config.json, HF config.json + model.safetensors, preprocessor and tokenizer files "
                           "(open_clip issue #217).",
                "files": files(laion, [(".gitattributes", False), ("README.md", False), ("config.json", False),
                                       ("merges.txt", False), ("model.safetensors", True),
                                       ("open_clip_config.json", False), ("open_clip_model.safetensors", True),
                                       ("open_clip_pytorch_model.bin", True), ("preprocessor_config.json", False),
                                       ("special_tokens_map.json", False), ("tokenizer.json", False),
                                       ("tokenizer_config.json", False), ("vocab.json", False)]),
            },
        },
    }
    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")


def main():
    # Parts to write (default all): torch, hostile, hub. The hostile inputs reuse torch/state_dict.pt.
    parts = [a for a in sys.argv[1:] if not a.startswith("-")] or ["torch", "hostile", "hub"]
    if "torch" in parts:
        torch_fixtures(os.path.join(FIX, "torch"))
    if "hostile" in parts:
        hostile_fixtures(os.path.join(FIX, "fuzz", "torch"), os.path.join(FIX, "torch", "state_dict.pt"))
    if "hub" in parts:
        hub_fixtures(os.path.join(FIX, "hub"))
    print("wrote", ", ".join(parts))


if __name__ == "__main__":
    main()
