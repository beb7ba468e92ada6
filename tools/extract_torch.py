#!/usr/bin/env python3
"""Encode a clipcl extraction plan's images with PyTorch (transformers or open_clip) on any device torch finds.

Optional: clipcl never needs this script or Python. It is for users whose GPU nodes outgrow CPUs.

    clipcl extract --model M --dataset D --split train --plan PLAN        # anywhere clipcl runs (no images encoded)
    python tools/extract_torch.py --plan PLAN --out PART0 --shard 0/2      # on GPU nodes, one process per part
    python tools/extract_torch.py --plan PLAN --out PART1 --shard 1/2
    clipcl extract --merge --out CACHE PART0 PART1                        # one cache, as `clipcl extract` writes it

The plan (README "Encoding on GPUs with PyTorch") holds the cache's meta.json and text features as clipcl writes
them and the split's samples in dataset order (file paths, or the pixels of CIFAR/MNIST), so this script needs
none of clipcl's readers, tokenizer or text tower. It writes clipcl's cache format directly: shards of `chunk_size`
images encoded in batches of `batch_size` that start at the chunk start, with the `sha256` checksum, `meta.json`
derived from the shards, the writer's flock on `.lock`, atomic writes, and resuming (a rerun encodes only the
missing shards). Preprocessing follows the plan's `preprocessing` exactly as clipcl does (Pillow bicubic in the
recorded pass order, centre-crop rounding, alpha handling, float32 normalisation), so features match clipcl's
fp32 extraction within 1e-5 on a CPU (tests: ExtractTorchTests). `compute_dtype` "bf16" runs under
torch.autocast; "f32" disables TF32.

Requires: torch, numpy, safetensors, pillow, and transformers (HF checkpoints) or open_clip_torch (open_clip ones);
huggingface_hub for hub ids.
"""
import argparse
import concurrent.futures
import fcntl
import hashlib
import json
import math
import os
import sys
import time

import numpy as np

PLAN_FORMAT = "clipcl-extract-plan"
CACHE_FORMAT = "clipcl-features"
JPEG_MAGIC = b"\xff\xd8\xff"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


class Failure(Exception):
    """A one-line error for the user (printed as `extract_torch: ...`, exit status 1)."""


class Undecodable(Exception):
    """An image that clipcl would skip (or refuse under --strict)."""


# ---------------------------------------------------------------------------------------------------------------
# Files: atomic writes, the writer's lock, JSON as clipcl reads it


def write_atomically(path, data):
    """Writes `data` to a temporary file next to `path`, fsyncs and renames it over `path`."""
    folder = os.path.dirname(os.path.abspath(path))
    temp = os.path.join(folder, f".{os.path.basename(path)}.tmp-{os.getpid()}-{int.from_bytes(os.urandom(8), 'little')}")
    try:
        with open(temp, "xb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.rename(temp, path)
    except BaseException:
        if os.path.exists(temp):
            os.unlink(temp)
        raise
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class CacheLock:
    """clipcl's writer lock: an exclusive, non-blocking flock on DIR/.lock holding the pid, emptied on release."""

    def __init__(self, folder):
        self.fd = os.open(os.path.join(folder, ".lock"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(self.fd, 32, 0).decode(errors="replace").strip() or "unknown"
            os.close(self.fd)
            raise Failure(f"{folder}: locked by another writer (pid {holder}); two writers must not share a cache")
        os.ftruncate(self.fd, 0)
        os.pwrite(self.fd, f"{os.getpid()}\n".encode(), 0)
        for name in os.listdir(folder):  # what a killed writer left
            if (name.startswith(".") and ".tmp" in name) or name.endswith(".tmp"):
                os.unlink(os.path.join(folder, name))

    def release(self):
        os.ftruncate(self.fd, 0)
        fcntl.flock(self.fd, fcntl.LOCK_UN)
        os.close(self.fd)


def json_array(strings):
    return json.dumps(list(strings), ensure_ascii=False, separators=(",", ":"))


def meta_bytes(meta):
    """meta.json as clipcl writes it (Swift's JSONEncoder, pretty-printed, sorted keys): `"key" : value`, two-space
    indentation, empty arrays as `[`, a blank line, `]`; optional keys of a split absent rather than null."""

    def dump(v, indent):
        inner = indent + "  "
        if isinstance(v, dict):
            items = [f"{inner}{json.dumps(k, ensure_ascii=False)} : {dump(v[k], inner)}" for k in sorted(v)]
            return "{\n" + ",\n".join(items) + f"\n{indent}}}"
        if isinstance(v, list):
            return "[\n" + ",\n".join(inner + dump(x, inner) for x in v) + f"\n{indent}]"
        return json.dumps(v, ensure_ascii=False)

    return (dump(meta, "") + "\n").encode()


def shard_name(split, chunk):
    return f"{split}-{chunk:05d}.safetensors"


def parse_shard(text):
    try:
        i, n = (int(x) for x in text.split("/"))
    except ValueError:
        raise Failure(f"--shard must be i/n with 0 <= i < n, e.g. 0/4, got '{text}'")
    if not (n >= 1 and 0 <= i < n):
        raise Failure(f"--shard must be i/n with 0 <= i < n, e.g. 0/4, got '{text}'")
    return i, n


# ---------------------------------------------------------------------------------------------------------------
# The plan


class Plan:
    def __init__(self, folder, split):
        from safetensors import safe_open

        self.folder = folder
        meta_path = os.path.join(folder, "meta.json")
        if not os.path.isfile(meta_path):
            raise Failure(f"{folder}: no meta.json (not a plan: make one with clipcl extract ... --plan {folder})")
        with open(meta_path, encoding="utf-8") as f:
            self.meta = json.load(f)
        if self.meta.get("format") != CACHE_FORMAT or self.meta.get("version") != 1:
            raise Failure(f"{meta_path}: not a clipcl-features version 1 meta.json")
        if split is None:
            splits = sorted(s for s in ("train", "test") if os.path.isfile(os.path.join(folder, f"plan-{s}.safetensors")))
            if len(splits) != 1:
                raise Failure(f"{folder}: " + ("holds no plan-<split>.safetensors" if not splits else
                                              "holds plans for train and test; choose one with --split"))
            split = splits[0]
        self.split = split
        self.path = os.path.join(folder, f"plan-{split}.safetensors")
        if not os.path.isfile(self.path):
            raise Failure(f"{self.path}: not found (plan the split with clipcl extract --split {split} --plan {folder})")
        self.info = self.meta.get("splits", {}).get(split)
        if self.info is None:
            raise Failure(f"{meta_path}: has no split '{split}'")
        with safe_open(self.path, framework="numpy") as f:
            md = f.metadata() or {}
            if md.get("format") != PLAN_FORMAT or md.get("version") != "1":
                raise Failure(f"{self.path}: not a clipcl extraction plan version 1")
            self.labels = f.get_tensor("labels")
            self.pixels = f.get_tensor("pixels") if "pixels" in f.keys() else None
        self.ids = json.loads(md["ids"])
        self.files = json.loads(md["files"]) if "files" in md else None
        self.model_id = md["model_id"]
        self.layout = md["layout"]
        self.weight_files = json.loads(md["weight_files"])
        n = self.info["dataset_samples"]
        if not (len(self.ids) == len(self.labels) == n) or (self.files is None) == (self.pixels is None):
            raise Failure(f"{self.path}: ids, labels and images do not match the {n} images of meta.json")
        with open(os.path.join(folder, "text.safetensors"), "rb") as f:
            self.text_bytes = f.read()

    def image(self, i):
        """Sample i as a PIL image of mode L, RGB or RGBA (what clipcl's decoder gives)."""
        from PIL import Image

        if self.pixels is not None:
            a = self.pixels[i]
            return Image.fromarray(a[:, :, 0] if a.shape[2] == 1 else a, "L" if a.shape[2] == 1 else "RGB")
        return decode(self.files[i])


def identity(meta):
    """What must agree between a plan and an output folder (clipcl's identityDifference: all but model id and splits)."""
    return {k: v for k, v in meta.items() if k not in ("splits", "model_id", "checkpoint_revision")}


# ---------------------------------------------------------------------------------------------------------------
# Images: clipcl's decoder mapping and preprocessing (Sources/CLIP/Image), reproduced with Pillow


def decode(path):
    from PIL import Image

    try:
        with open(path, "rb") as f:
            head = f.read(8)
    except OSError as e:
        raise Undecodable(f"cannot read ({e.strerror})")
    if not (head[:3] == JPEG_MAGIC or head == PNG_MAGIC):
        raise Undecodable("not a JPEG or PNG file")
    try:
        im = Image.open(path)
        im.load()
    except Exception as e:  # Pillow raises many types for corrupt data
        raise Undecodable(str(e) or type(e).__name__)
    mode = im.mode
    if mode in ("1", "L"):
        return im.convert("L")
    if mode in ("RGB", "RGBA"):
        return im
    if mode in ("LA", "PA"):
        return im.convert("RGBA")
    if mode == "P":
        return im.convert("RGBA" if "transparency" in im.info else "RGB")
    if mode == "CMYK":  # clipcl converts at decode time with Pillow's cmyk2rgb
        return im.convert("RGB")
    if mode.startswith("I;16") or mode in ("I", "F"):
        raise Undecodable("16-bit grayscale PNG is not supported")
    raise Undecodable(f"unsupported image mode {mode}")


def resized_size(width, height, n):
    if width <= height:
        return n, int(float(n * height) / float(width))
    return int(float(n * width) / float(height)), n


def crop_offset(size, crop, rounding):
    d = size - crop
    if d % 2 == 0:
        return d // 2
    k = d // 2
    return k if rounding == "floor" or k % 2 == 0 else k + 1


def resize(im, size, order):
    """Pillow bicubic, one axis per call, so the pass order is the plan's whatever this Pillow's own order is."""
    from PIL import Image

    (W, H), (w, h) = im.size, size
    vertical_first = order == "pillow13" and H - h > 0 and H - h > 2 * (W - w)
    for step in ([(W, h), (w, h)] if vertical_first else [(w, H), (w, h)]):
        if im.size != step:
            im = im.resize(step, Image.BICUBIC, reducing_gap=None)
    return im


class Preprocessor:
    def __init__(self, p):
        self.p = p
        v = np.arange(256, dtype=np.float32)
        factor = np.float32(p["rescaleFactor"])
        x = v / np.float32(255) if factor == np.float32(1.0 / 255.0) else v * factor
        self.lut = [(x - np.float32(p["mean"][c])) / np.float32(p["std"][c]) for c in range(3)]

    def __call__(self, im):
        from PIL import Image

        p = self.p
        premultiplied = False
        if im.mode == "RGBA":
            if bool((np.asarray(im)[:, :, 3] == 255).all()):
                im = im.convert("RGB")
            elif p["alpha"] == "premultipliedDrop":
                im, premultiplied = im.convert("RGBa"), True
            elif p["alpha"] == "compositeWhite":
                im = Image.alpha_composite(Image.new("RGBA", im.size, (255, 255, 255, 255)), im).convert("RGB")
            else:
                im = im.convert("RGB")
        target = resized_size(im.size[0], im.size[1], p["resizeShortestEdge"])
        im = resize(im, target, p.get("resizePassOrder", "horizontalFirst"))
        left = crop_offset(im.size[0], p["cropWidth"], p["cropRounding"])
        top = crop_offset(im.size[1], p["cropHeight"], p["cropRounding"])
        im = im.crop((left, top, left + p["cropWidth"], top + p["cropHeight"]))
        im = im.convert("RGBA").convert("RGB") if premultiplied else im.convert("RGB")
        a = np.asarray(im, dtype=np.uint8)
        return np.stack([self.lut[c][a[:, :, c]] for c in range(3)])


# ---------------------------------------------------------------------------------------------------------------
# The model


def file_sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def checkpoint_sha256(folder, names):
    """clipcl's checkpoint_sha256: one file's SHA-256, or for several the SHA-256 of `<sha256>  <name>\\n` lines by name."""
    missing = [n for n in names if not os.path.isfile(os.path.join(folder, n))]
    if missing:
        raise Failure(f"{folder}: has no {missing[0]} (the weights the plan was made with)")
    if len(names) == 1:
        return file_sha256(os.path.join(folder, names[0]))
    lines = "".join(f"{file_sha256(os.path.join(folder, n))}  {n}\n" for n in sorted(names))
    return hashlib.sha256(lines.encode()).hexdigest()


def model_folder(model, plan):
    if os.path.isdir(model):
        return model
    if os.path.exists(model):
        raise Failure(f"{model}: pass the checkpoint's folder (with its config), not a file")
    if model.startswith("random:"):
        raise Failure(f"the plan's model is {model} (random weights, clipcl only); plan with a real checkpoint")
    from huggingface_hub import snapshot_download

    repo, _, rev = model.removeprefix("hf-hub:").partition("@")
    if repo.count("/") != 1 or repo.startswith((".", "/")):
        raise Failure(f"{model}: no such folder here (a relative path in the plan? pass --model with the checkpoint's folder)")
    try:  # only the configs and the plan's weights (repos also hold other frameworks' copies of the weights)
        return snapshot_download(repo_id=repo, revision=plan.meta.get("checkpoint_revision") or rev or None,
                                 allow_patterns=["*.json", "*.txt"] + plan.weight_files)
    except Exception as e:  # offline without a cached copy, unknown repo, network errors
        raise Failure(f"{model}: not a folder here and not available from the Hugging Face hub or its cache "
                      f"({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''})")


def load_image_encoder(folder, plan, device):
    """(module, encode) where encode(pixels [m,3,H,W]) gives the visual projection's output [m, D]."""
    import torch

    # transformers and open_clip import torchvision when it is installed; next to a CPU-only torch it needs a shim.
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from torchvision_compat import import_torchvision

    import_torchvision()
    weights = [os.path.join(folder, n) for n in plan.weight_files]
    if plan.layout == "hf":
        from transformers import CLIPModel

        model = CLIPModel.from_pretrained(folder, torch_dtype=torch.float32,
                                          use_safetensors=weights[0].endswith((".safetensors", ".safetensors.index.json")))

        def encode(x):
            return model.visual_projection(model.vision_model(pixel_values=x).pooler_output)

        logit_scale = model.logit_scale
    elif plan.layout == "open_clip":
        import open_clip

        if len(weights) != 1 or not os.path.isfile(os.path.join(folder, "open_clip_config.json")):
            raise Failure(f"{folder}: an open_clip checkpoint needs open_clip_config.json next to one weights file")
        model = open_clip.create_model(f"local-dir:{folder}", precision="fp32")
        open_clip.load_checkpoint(model, weights[0])  # exactly the file the plan names

        def encode(x):
            return model.encode_image(x)

        logit_scale = model.logit_scale
    else:
        raise Failure(f"{plan.path}: unknown checkpoint layout '{plan.layout}'")
    model.eval().to(device)
    scale = float(np.float32(math.exp(float(logit_scale.detach().reshape(-1)[0]))))
    if not math.isclose(scale, plan.meta["logit_scale"], rel_tol=1e-6):
        raise Failure(f"{folder}: exp(logit_scale) is {scale}, the plan says {plan.meta['logit_scale']} (another model?)")
    return model, encode


# ---------------------------------------------------------------------------------------------------------------
# Shards


def check_existing(path, split, chunk, first, ids, verify=True):
    """An existing shard must hold exactly this chunk's images (minus skipped ones) and, with `verify`, its checksum."""
    from safetensors import safe_open

    with safe_open(path, framework="numpy") as f:
        md = f.metadata() or {}
        got, skipped = json.loads(md.get("ids", "null") or "null"), json.loads(md.get("skipped", "[]"))
        ok = (md.get("format") == CACHE_FORMAT and md.get("split") == split and md.get("chunk") == str(chunk)
              and md.get("first_index") == str(first) and isinstance(got, list))
        if ok:
            s = set(skipped)
            ok = got == [i for i in ids if i not in s] and len(got) + len(skipped) == len(ids)
        if ok and verify:
            h = hashlib.sha256()
            h.update(np.ascontiguousarray(f.get_tensor("features")).tobytes())
            h.update(np.ascontiguousarray(f.get_tensor("labels")).tobytes())
            ok = h.hexdigest() == md.get("sha256")
    if not ok:
        raise Failure(f"{path}: holds other images than chunk {chunk} of the plan, or is damaged; use another --out")
    return len(got), skipped


def safetensors_bytes(tensors, metadata):
    """A safetensors file with a sorted-key header: the same shard gives the same bytes in every process (the
    safetensors package writes __metadata__ from a hash map, in an order that changes from run to run)."""
    header, data, offset = {"__metadata__": metadata}, [], 0
    for name, (dtype, a) in tensors.items():
        raw = np.ascontiguousarray(a).tobytes()
        header[name] = {"dtype": dtype, "shape": list(a.shape), "data_offsets": [offset, offset + len(raw)]}
        data.append(raw)
        offset += len(raw)
    text = json.dumps(header, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    return len(text).to_bytes(8, "little") + text + b"".join(data)


def shard_bytes(split, chunk, first, ids, skipped, labels, features, dtype):
    f = features.astype("<f2" if dtype == "F16" else "<f4")
    y = np.asarray(labels, dtype="<i8")
    h = hashlib.sha256()
    h.update(np.ascontiguousarray(f).tobytes())
    h.update(y.tobytes())
    return safetensors_bytes({"features": (dtype, f), "labels": ("I64", y)}, {
        "format": CACHE_FORMAT, "split": split, "chunk": str(chunk), "first_index": str(first),
        "ids": json_array(ids), "skipped": json_array(skipped), "sha256": h.hexdigest()})


class Progress:
    def __init__(self, total, label, quiet):
        self.total, self.label, self.quiet = total, label, quiet
        self.start = self.last = time.time()

    def update(self, done, final=False):
        now = time.time()
        if self.quiet or (not final and now - self.last < 2):
            return
        self.last = now
        rate = done / max(now - self.start, 1e-9)
        eta = (self.total - done) / rate if rate > 0 else 0
        end = "\n" if final else "\r"
        print(f"{self.label}: {done}/{self.total} img, {rate:.1f} img/s, ETA {eta:.0f} s  ", end=end, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------------------------


def read_plan(folder, split):
    try:
        return Plan(folder, split)
    except Failure:
        raise
    except Exception as e:  # a damaged or foreign file: one line, not a traceback
        raise Failure(f"{folder}: not a readable clipcl plan ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''})")


def run(args):
    plan = read_plan(args.plan, args.split)
    meta, split, info = plan.meta, plan.split, plan.info
    if meta.get("compute_dtype") not in ("f32", "bf16"):
        raise Failure(f"{plan.folder}: compute_dtype {meta.get('compute_dtype')} cannot be reproduced with PyTorch (plan with --dtype f32 or bf16)")
    if meta.get("views") != 1:
        raise Failure(f"{plan.folder}: views {meta.get('views')}: augmented views are clipcl's own")
    part = parse_shard(args.shard) if args.shard else None
    n, cs, bs = info["dataset_samples"], meta["chunk_size"], meta["batch_size"]
    chunks = -(-n // cs)
    owned = [c for c in range(chunks) if part is None or c % part[1] == part[0]]

    out = args.out
    os.makedirs(out, exist_ok=True)
    lock = CacheLock(out)
    try:
        meta_path = os.path.join(out, "meta.json")
        if os.path.isfile(meta_path):
            with open(meta_path, encoding="utf-8") as f:
                current = json.load(f)
            a, b = identity(current), identity(meta)
            diff = next((k for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)), None)
            if diff is not None:
                raise Failure(f"{out}: refusing to add to this cache: it differs from the plan in {diff}; use another --out")
        else:
            if any(x.endswith(".safetensors") for x in os.listdir(out)):
                raise Failure(f"{out}: holds safetensors files but no meta.json; use an empty --out")
            current = dict(meta, splits={})
        wanted = {"samples": 0, "dataset_samples": n, "shards": chunks, "skipped": [], "complete": False}
        for key in ("limit",):
            if info.get(key) is not None:
                wanted[key] = info[key]
        if part is not None:
            wanted["part"] = {"index": part[0], "count": part[1]}
        old = current["splits"].get(split)
        if old is not None:
            if (old["dataset_samples"], old.get("limit"), old.get("part")) != (n, wanted.get("limit"), wanted.get("part")):
                raise Failure(f"{out}: refusing to add to this cache: split {split} was started with other images or another part")
        elif any(x.startswith(f"{split}-") for x in os.listdir(out)):
            raise Failure(f"{out}: holds {split}-*.safetensors files that meta.json does not describe; use another --out")
        text_path = os.path.join(out, "text.safetensors")
        if os.path.isfile(text_path):
            with open(text_path, "rb") as f:
                if f.read() != plan.text_bytes:
                    raise Failure(f"{text_path}: differs from the plan's text features; use another --out")
        todo = []
        for c in owned:
            path = os.path.join(out, shard_name(split, c))
            if os.path.isfile(path):
                check_existing(path, split, c, c * cs, plan.ids[c * cs:min(n, (c + 1) * cs)])
            else:
                todo.append(c)
        if todo and len(todo) < len(owned):
            print(f"resuming: {len(owned) - len(todo)} of {len(owned)} shards already written, {len(todo)} to go", file=sys.stderr)

        if todo:  # the model is found and checked before anything is written
            import torch

            device = args.device
            if device == "auto":
                device = "cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"
            if meta["compute_dtype"] == "f32":  # no TF32: fp32 sums as clipcl's
                torch.backends.cuda.matmul.allow_tf32 = False
                torch.backends.cudnn.allow_tf32 = False
                torch.set_float32_matmul_precision("highest")
            folder = model_folder(args.model or plan.model_id, plan)
            sha = checkpoint_sha256(folder, plan.weight_files)
            if sha != meta["checkpoint_sha256"]:
                raise Failure(f"{folder}: checkpoint sha256 {sha[:16]}… but the plan was made with {meta['checkpoint_sha256'][:16]}…")
            _, encode = load_image_encoder(folder, plan, device)
        if old is None:
            current["splits"][split] = wanted
            write_atomically(meta_path, meta_bytes(current))
        if not os.path.isfile(text_path):
            write_atomically(text_path, plan.text_bytes)

        encoded = skipped_now = 0
        images = sum(min(cs, n - c * cs) for c in todo)
        seconds = 0.0
        if todo:
            prep = Preprocessor(meta["preprocessing"])
            progress = Progress(images, f"{meta['dataset']} {split}" + (f" part {args.shard}" if part else "") + f" on {device}", args.quiet)
            begin, done = time.time(), 0

            def prepare(i):
                try:
                    return i, prep(plan.image(i)), None
                except Undecodable as e:
                    return i, None, str(e)

            with concurrent.futures.ThreadPoolExecutor(args.workers) as pool:
                batches = [(c, range(s, min(min(n, (c + 1) * cs), s + bs))) for c in todo
                           for s in range(c * cs, min(n, (c + 1) * cs), bs)]
                submitted = []  # futures of the batches being decoded: two ahead of the one encoded

                def submit_next():
                    if len(submitted) < len(batches):
                        submitted.append([pool.submit(prepare, i) for i in batches[len(submitted)][1]])

                submit_next()
                submit_next()
                rows = {}
                for k, (c, batch) in enumerate(batches):
                    submit_next()
                    prepared = [f.result() for f in submitted[k]]
                    submitted[k] = None
                    acc = rows.setdefault(c, {"ids": [], "skipped": [], "labels": [], "features": []})
                    good = [(i, x) for i, x, err in prepared if err is None]
                    for i, _, err in prepared:
                        if err is not None:
                            if args.strict:
                                raise Failure(f"{plan.files[i]}: cannot decode image {plan.ids[i]}: {err} (--strict)")
                            print(f"warning: skipping undecodable image {plan.ids[i]}: {err}", file=sys.stderr)
                            acc["skipped"].append(plan.ids[i])
                    if good:
                        x = torch.from_numpy(np.stack([x for _, x in good])).to(device)
                        with torch.inference_mode(), torch.autocast(device_type=x.device.type, dtype=torch.bfloat16,
                                                                     enabled=meta["compute_dtype"] == "bf16"):
                            e = encode(x)
                        e = e.float().cpu().numpy()
                        if e.shape != (len(good), meta["embed_dim"]):
                            raise Failure(f"the image encoder returned shape {e.shape}, expected ({len(good)}, {meta['embed_dim']})")
                        acc["features"].append(e)
                        acc["ids"] += [plan.ids[i] for i, _ in good]
                        acc["labels"] += [int(plan.labels[i]) for i, _ in good]
                    done += len(batch)
                    progress.update(done)
                    if batch.stop == min(n, (c + 1) * cs):  # the chunk's last batch
                        acc = rows.pop(c)
                        features = np.concatenate(acc["features"]) if acc["features"] else np.zeros((0, meta["embed_dim"]), np.float32)
                        write_atomically(os.path.join(out, shard_name(split, c)),
                                         shard_bytes(split, c, c * cs, acc["ids"], acc["skipped"], acc["labels"], features, meta["dtype"]))
                        encoded += len(acc["ids"])
                        skipped_now += len(acc["skipped"])
            progress.update(done, final=True)
            seconds = time.time() - begin

        # Final meta: derived from the shards, as clipcl derives it (their checksums were checked or just computed).
        rows_total, skipped = 0, []
        for c in owned:
            got, sk = check_existing(os.path.join(out, shard_name(split, c)), split, c, c * cs, plan.ids[c * cs:min(n, (c + 1) * cs)],
                                     verify=False)
            rows_total += got
            skipped += sk
        current["splits"][split] = dict(wanted, samples=rows_total, skipped=skipped, complete=True)
        data = meta_bytes(current)
        with open(meta_path, "rb") as f:
            if f.read() != data:
                write_atomically(meta_path, data)
    finally:
        lock.release()
    summary = {"split": split, "dataset": meta["dataset"], "dataset_samples": n, "shards_total": chunks,
               "shards_owned": len(owned), "shards_written": len(todo), "shards_reused": len(owned) - len(todo),
               "images_encoded": encoded, "skipped_now": skipped_now, "samples": rows_total, "seconds": round(seconds, 3),
               "images_per_second": round(images / seconds, 2) if seconds > 0 else 0}
    if args.json:
        print(json.dumps(summary, sort_keys=True))
    else:
        print(f"{meta['dataset']} {split}" + (f" part {args.shard}" if part else "") + f": {rows_total} features in {out} "
              f"({len(todo)} shards written, {len(owned) - len(todo)} reused, {len(skipped)} skipped; "
              f"{images} images in {seconds:.1f} s, {summary['images_per_second']} img/s)")


def main(argv=None):
    ap = argparse.ArgumentParser(
        prog="extract_torch.py", description="Encode a clipcl extraction plan (clipcl extract --plan DIR) with PyTorch into clipcl's "
        "feature-cache format; --shard i/n parts merge with clipcl extract --merge.")
    ap.add_argument("--plan", required=True, metavar="DIR", help="the plan folder written by clipcl extract --plan DIR")
    ap.add_argument("--out", required=True, metavar="DIR", help="cache (or part) folder; an interrupted run's folder is continued")
    ap.add_argument("--split", choices=["train", "test"], help="the split to encode (needed when the plan holds both)")
    ap.add_argument("--shard", metavar="i/n", help="encode only the chunks c with c %% n == i, into this part's own --out")
    ap.add_argument("--model", metavar="PATH|ID", help="checkpoint folder or hub id (default: the plan's model_id); its weights must "
                    "have the plan's checkpoint_sha256")
    ap.add_argument("--device", default="auto", help="torch device: auto (cuda, else mps, else cpu), cpu, cuda, cuda:1, ... (default auto)")
    ap.add_argument("--workers", type=int, default=min(8, os.cpu_count() or 1), help="threads decoding and preprocessing images")
    ap.add_argument("--strict", action="store_true", help="fail on an undecodable image instead of skipping it with a warning")
    ap.add_argument("--json", action="store_true", help="print a JSON summary on stdout")
    ap.add_argument("--quiet", action="store_true", help="no progress line on stderr")
    args = ap.parse_args(argv)
    if args.workers < 1:
        ap.error("--workers must be at least 1")
    try:
        run(args)
    except Failure as e:
        print(f"extract_torch: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("extract_torch: interrupted (rerun the same command to continue)", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
