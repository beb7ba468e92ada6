#!/usr/bin/env python3
"""Generate image-preprocessing fixtures for clipcl's Swift tests (Tests/Fixtures/images/).

Reference = Pillow. Every fixture image is decoded by Pillow and run through three pipelines,
written out as the uint8 RGB crop *before* normalisation:

  openai  clip._transform(n) on the PIL image: Image.resize(..., BICUBIC) to shortest side n
          (long side int(n * long / short)); centre crop with Python round() (half to even);
          convert("RGB") afterwards (RGBA: Pillow resizes premultiplied, then alpha is dropped).
  hf      CLIPImageProcessor (PIL semantics): do_convert_rgb = alpha-composite onto white, then the
          same Pillow resize; centre crop with floor ((H - h) // 2).
  folder  torchvision ImageFolder's pil_loader (convert("RGB") at load: alpha dropped before the
          resize), then the openai transform.

Deliberate deviations (documented in the manifest under "prepared"): Pillow's Image.resize switches to
NEAREST for modes "P" and "1", and resizes CMYK before converting it. clipcl's decoder expands palette
and 1-bit images and converts CMYK to RGB at decode time, so for those inputs the expectations are
computed on im.convert("RGB" / "RGBA" / "L") -- i.e. the result of converting first, as ImageFolder does.

Usage (throwaway venv; needs only Pillow and numpy, plus scikit-image for its bundled sample photos):
    python3 -m venv /tmp/venv-img && /tmp/venv-img/bin/pip install pillow numpy scikit-image
    /tmp/venv-img/bin/python tools/make_image_fixtures.py [output_dir]

Self-check of both pass orders: `resize()` asserts that its two-pass emulation equals the installed Pillow's own
resize for the order that Pillow uses. The committed files were made with Pillow 13 (which checks the "pillow13"
cases); run the script once more under Pillow <= 12 to check the "horizontalFirst" cases, and compare the outputs:
    python3 -m venv /tmp/venv-pil12 && /tmp/venv-pil12/bin/pip install 'pillow<13' numpy scikit-image
    /tmp/venv-pil12/bin/python tools/make_image_fixtures.py /tmp/img12 && diff -r /tmp/img12 Tests/Fixtures/images
(done 2026-12-01 with Pillow 12.3.0: every assertion held and all 185 expected files were byte-identical; only
manifest.json differs, in the recorded Pillow version and installed pass order).

Outputs: manifest.json, the input images, exp_<sha1>.bin expected crops (raw uint8 HWC RGB, deduplicated
by content), dec_<name>.bin / dec_<name>.png Pillow-decoded pixels (decoder layout: L, RGB or RGBA).
"""
import hashlib
import io
import json
import os
import struct
import sys
import zlib

import numpy as np
import PIL
from PIL import Image, features

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "Tests", "Fixtures", "images")

CONFIGS = [(32, 32, 32), (24, 24, 24), (28, 24, 20)]  # (resize shortest edge, crop h, crop w)
BIG = [(224, 224, 224)]  # only for the tiny image (large upscale)


# ----------------------------------------------------------------------------------------------
# Synthetic content
# ----------------------------------------------------------------------------------------------

def gradient_noise(w, h, seed, noise=40, channels=3):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    base = [
        255.0 * x / max(w - 1, 1),
        255.0 * y / max(h - 1, 1),
        127.5 + 127.5 * np.sin((x + 2 * y) / 3.0),
        255.0 * ((x // 4 + y // 4) % 2),
    ]
    chans = [np.clip(base[c] + rng.normal(0, noise, (h, w)), 0, 255) for c in range(channels)]
    return np.stack(chans, -1).round().astype(np.uint8)


def write_png(path, w, h, bit_depth, color_type, pixels, interlace=False, extra_chunks=b""):
    """Minimal PNG writer (filter 0) for layouts Pillow cannot save: 16-bit, 4-bit gray, Adam7.
    `pixels`: numpy array (h, w[, c]) of sample values (uint8/uint16)."""
    def chunk(tag, data):
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    def pack_rows(arr):
        rows = []
        for r in arr:
            if bit_depth == 16:
                rows.append(r.astype(">u2").tobytes())
            elif bit_depth == 8:
                rows.append(r.astype(np.uint8).tobytes())
            else:
                flat = r.reshape(-1)
                bits = "".join(format(int(v), "0%db" % bit_depth) for v in flat)
                bits += "0" * ((-len(bits)) % 8)
                rows.append(int(bits, 2).to_bytes(len(bits) // 8, "big") if bits else b"")
        return b"".join(b"\x00" + r for r in rows)

    if interlace:
        passes = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]
        raw = b""
        for x0, y0, dx, dy in passes:
            sub = pixels[y0::dy, x0::dx]
            if sub.shape[0] and sub.shape[1]:
                raw += pack_rows(sub)
    else:
        raw = pack_rows(pixels)
    ihdr = struct.pack(">IIBBBBB", w, h, bit_depth, color_type, 0, 0, 1 if interlace else 0)
    data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + extra_chunks + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")
    with open(path, "wb") as f:
        f.write(data)


# ----------------------------------------------------------------------------------------------
# Pipelines (Pillow)
# ----------------------------------------------------------------------------------------------

def resized_size(w, h, n):
    if w <= h:
        return n, int(n * h / w)
    return int(n * w / h), n


PILLOW_MAJOR = int(PIL.__version__.split(".")[0])
INSTALLED_ORDER = "pillow13" if PILLOW_MAJOR >= 13 else "horizontalFirst"


def vertical_first(w, h, nw, nh, order):
    """Pillow >= 13 (python-pillow/Pillow#9549) runs the vertical pass first when the height shrinks by
    more than twice as many pixels as the width; Pillow <= 12 always runs the horizontal pass first."""
    return order == "pillow13" and (h - nh) > 0 and (h - nh) > (w - nw) * 2


def resize(im, n, order):
    """Image.resize(..., BICUBIC) with an explicit pass order, emulated by chaining two single-axis
    Pillow resizes (a single-axis resize runs exactly one pass, so the chain is bit-identical to
    Pillow's internal two-pass resize in that order). Checked against the installed Pillow's own
    resize whenever the order is the one it uses."""
    w, h = im.size
    nw, nh = resized_size(w, h, n)
    if (nw, nh) == (w, h):
        return im
    premul = {"RGBA": "RGBa", "LA": "La"}.get(im.mode)
    work = im.convert(premul) if premul else im
    if w != nw and h != nh:
        if vertical_first(w, h, nw, nh, order):
            work = work.resize((w, nh), Image.BICUBIC).resize((nw, nh), Image.BICUBIC)
        else:
            work = work.resize((nw, h), Image.BICUBIC).resize((nw, nh), Image.BICUBIC)
    else:
        work = work.resize((nw, nh), Image.BICUBIC)
    out = work.convert(im.mode) if premul else work
    if order == INSTALLED_ORDER:
        direct = im.resize((nw, nh), Image.BICUBIC)
        assert np.array_equal(np.asarray(direct), np.asarray(out)), ("pass-order emulation differs", im.size, n)
    return out


def openai(im, n, ch, cw, order):
    im = resize(im, n, order)
    w, h = im.size
    left, top = int(round((w - cw) / 2.0)), int(round((h - ch) / 2.0))
    return im.crop((left, top, left + cw, top + ch)).convert("RGB"), (left, top)


def hf(im, n, ch, cw, order):
    if im.mode != "RGB":
        rgba = im.convert("RGBA")
        bg = Image.new("RGBA", rgba.size, (255, 255, 255))
        im = Image.alpha_composite(bg, rgba).convert("RGB")
    im = resize(im, n, order)
    w, h = im.size
    left, top = (w - cw) // 2, (h - ch) // 2
    return im.crop((left, top, left + cw, top + ch)), (left, top)


def folder(im, n, ch, cw, order):
    return openai(im.convert("RGB"), n, ch, cw, order)


PIPELINES = {"openai": openai, "hf": hf, "folder": folder}


def prepare(im):
    """PIL image as clipcl's decoder delivers it (see module docstring)."""
    if im.mode == "P":
        has_alpha = "transparency" in im.info
        return im.convert("RGBA" if has_alpha else "RGB"), 'convert("%s") first (Pillow would resize mode P with NEAREST)' % ("RGBA" if has_alpha else "RGB")
    if im.mode == "1":
        return im.convert("L"), 'convert("L") first (Pillow would resize mode 1 with NEAREST)'
    if im.mode == "CMYK":
        return im.convert("RGB"), 'convert("RGB") first (Pillow would resize in CMYK, then convert)'
    return im, None


def decoder_layout(im):
    """Pixels as clipcl's ImageDecoder returns them: (array, channels)."""
    if im.mode == "L":
        return np.asarray(im), 1
    if im.mode == "RGB":
        return np.asarray(im), 3
    if im.mode == "RGBA":
        return np.asarray(im), 4
    if im.mode == "LA":
        return np.asarray(im.convert("RGBA")), 4
    prepared, _ = prepare(im)
    return decoder_layout(prepared)


# ----------------------------------------------------------------------------------------------
# Fixture set
# ----------------------------------------------------------------------------------------------

def photo(name, box=None, size=None, mode=None):
    import skimage
    path = os.path.join(os.path.dirname(skimage.__file__), "data", name)
    im = Image.open(path)
    im.load()
    if box:
        im = im.crop(box)
    if size:
        im = im.resize(size, Image.LANCZOS)
    if mode:
        im = im.convert(mode)
    return im


def build_inputs(out):
    """Write the input images; return list of (file, kind, note, extra_configs)."""
    items = []

    def save_pil(im, name, note, big=False, **kw):
        im.save(os.path.join(out, name), **kw)
        items.append((name, note, BIG if big else []))

    # RGB, various aspect ratios / crop offsets (offsets quoted for resize 32).
    save_pil(Image.fromarray(gradient_noise(40, 49, 1)), "rgb_40x49.png", "portrait; 32 -> 32x39, top 3.5 (openai 4, hf 3)")
    save_pil(Image.fromarray(gradient_noise(47, 38, 2)), "rgb_47x38.png", "landscape; 32 -> 39x32, left 3.5")
    save_pil(Image.fromarray(gradient_noise(35, 30, 3)), "rgb_35x30.png", "32 -> 37x32, left 2.5 (both 2)")
    save_pil(Image.fromarray(np.random.default_rng(4).integers(0, 256, (64, 64, 3), dtype=np.uint8)), "noise_64x64.png", "pure noise, strong over/undershoot clipping")
    save_pil(Image.fromarray(gradient_noise(32, 45, 5)), "rgb_32x45.png", "width already 32: horizontal pass skipped at resize 32")
    save_pil(Image.fromarray(gradient_noise(32, 32, 6)), "rgb_32x32.png", "already 32x32: no resize at 32")
    save_pil(Image.fromarray(gradient_noise(7, 5, 7, noise=60)), "tiny_7x5.png", "tiny; 224 -> 313x224 (x45 upscale), left 44.5 -> 44 both", big=True)
    save_pil(Image.fromarray(gradient_noise(299, 224, 8, noise=20)[::7, ::7]), "rgb_43x32.png", "43x32 (subsampled 299x224 pattern)")
    # Tall images (> 2:1): Pillow >= 13 runs the vertical pass first when downscaling them.
    save_pil(Image.fromarray(gradient_noise(40, 130, 29)), "tall_40x130.png", "tall RGB; 32 -> 32x104 (Pillow 13: vertical pass first)")
    tall_rgba = gradient_noise(36, 110, 30, channels=4)
    tall_rgba[..., 3] = np.clip(np.mgrid[0:110, 0:36][0] * 3 - 40, 0, 255).astype(np.uint8)
    save_pil(Image.fromarray(tall_rgba, "RGBA"), "tall_rgba_36x110.png", "tall RGBA with alpha ramp")
    # Grayscale.
    save_pil(Image.fromarray(gradient_noise(33, 45, 9, channels=1)[..., 0], "L"), "gray_33x45.png", "mode L")
    g4 = np.random.default_rng(10).integers(0, 16, (26, 20))
    write_png(os.path.join(out, "gray4_20x26.png"), 20, 26, 4, 0, g4)
    items.append(("gray4_20x26.png", "4-bit grayscale (Pillow: mode L, scaled x17)", []))
    g1 = (gradient_noise(24, 20, 11, channels=1)[..., 0] > 127).astype(np.uint8)
    write_png(os.path.join(out, "gray1_24x20.png"), 24, 20, 1, 0, g1)
    items.append(("gray1_24x20.png", "1-bit grayscale (Pillow mode 1)", []))
    # Palette.
    pal = Image.fromarray(gradient_noise(36, 50, 12, noise=10)).quantize(64)
    save_pil(pal, "palette_36x50.png", "mode P, 64 colours, no transparency")
    palt = Image.fromarray(gradient_noise(40, 40, 13, noise=10)).quantize(32)
    alpha = bytes([0 if i % 5 == 0 else (128 if i % 5 == 1 else 255) for i in range(32)])
    save_pil(palt, "palette_trns_40x40.png", "mode P with tRNS (alpha 0 / 128 / 255 entries)", transparency=alpha)
    # RGBA.
    rgba = gradient_noise(52, 40, 14, channels=4)
    yy, xx = np.mgrid[0:40, 0:52]
    a = np.clip(255 * (xx - 10) / 30.0, 0, 255)
    a[(yy > 25) & (xx > 30)] = 0
    rgba[..., 3] = a.round().astype(np.uint8)
    save_pil(Image.fromarray(rgba, "RGBA"), "rgba_52x40.png", "RGBA alpha ramp + transparent block with non-zero stored RGB")
    rgba2 = gradient_noise(45, 33, 15, channels=4)
    rgba2[..., 3] = np.where(np.random.default_rng(16).random((33, 45)) > 0.5, 255, 0)
    save_pil(Image.fromarray(rgba2, "RGBA"), "rgba_binary_45x33.png", "RGBA alpha 0/255 noise")
    rgba3 = gradient_noise(30, 41, 17, channels=4)
    rgba3[..., 3] = 255
    save_pil(Image.fromarray(rgba3, "RGBA"), "rgba_opaque_30x41.png", "RGBA fully opaque")
    la = gradient_noise(30, 42, 18, channels=2)
    save_pil(Image.fromarray(la, "LA"), "la_30x42.png", "LA (gray + alpha); Pillow resizes as La")
    # RGB with tRNS colour key (Pillow keeps mode RGB and ignores it for resizing; HF too).
    trns = gradient_noise(30, 36, 19, noise=0)
    trns[5:15, 5:15] = (10, 20, 30)
    save_pil(Image.fromarray(trns), "rgb_trns_30x36.png", "RGB with tRNS colour key (ignored by all pipelines)", transparency=(10, 20, 30))
    # 16-bit and interlaced (hand-written PNGs).
    rng = np.random.default_rng(20)
    rgb16 = (gradient_noise(34, 29, 21).astype(np.uint16) * 257 + rng.integers(0, 257, (29, 34, 3))).astype(np.uint16)
    write_png(os.path.join(out, "rgb16_34x29.png"), 34, 29, 16, 2, rgb16)
    items.append(("rgb16_34x29.png", "16-bit RGB (Pillow keeps the high byte)", []))
    rgba16 = (gradient_noise(31, 37, 22, channels=4).astype(np.uint16) * 257 + rng.integers(0, 257, (37, 31, 4))).astype(np.uint16)
    rgba16[..., 3] = np.clip(rgba16[..., 3].astype(np.int64) * 2 - 20000, 0, 65535).astype(np.uint16)
    write_png(os.path.join(out, "rgba16_31x37.png"), 31, 37, 16, 6, rgba16)
    items.append(("rgba16_31x37.png", "16-bit RGBA with transparency", []))
    inter = gradient_noise(37, 41, 23)
    write_png(os.path.join(out, "interlaced_37x41.png"), 37, 41, 8, 2, inter, interlace=True)
    items.append(("interlaced_37x41.png", "Adam7-interlaced RGB", []))
    # JPEG.
    save_pil(Image.fromarray(gradient_noise(48, 40, 24, noise=15)), "q90_444_48x40.jpg", "JPEG q90 4:4:4", quality=90, subsampling=0)
    save_pil(Image.fromarray(gradient_noise(41, 53, 25, noise=15)), "q75_420_41x53.jpg", "JPEG q75 4:2:0 (odd size)", quality=75, subsampling=2)
    save_pil(Image.fromarray(gradient_noise(39, 47, 26, noise=15, channels=1)[..., 0], "L"), "gray_39x47.jpg", "grayscale JPEG", quality=85)
    save_pil(Image.fromarray(gradient_noise(45, 36, 27, noise=15)), "progressive_45x36.jpg", "progressive JPEG q85 4:2:0", quality=85, progressive=True)
    save_pil(Image.fromarray(gradient_noise(40, 44, 28, noise=15)).convert("CMYK"), "cmyk_40x44.jpg", "CMYK JPEG (Adobe, inverted)", quality=90)
    save_pil(Image.fromarray(gradient_noise(33, 100, 31, noise=15)), "tall_33x100.jpg", "tall JPEG q85 4:2:0", quality=85)
    # Real photographs (scikit-image sample data), downscaled to <= 160 px.
    astro = photo("astronaut.png", box=(0, 64, 512, 448), size=(160, 120))
    save_pil(astro, "astronaut_160x120.png", "photo: skimage astronaut (NASA, public domain), cropped+downscaled")
    save_pil(astro, "astronaut_160x120.jpg", "photo: astronaut JPEG q85 4:2:0", quality=85)
    coffee = photo("coffee.png", size=(160, 107))
    save_pil(coffee, "coffee_160x107.png", "photo: skimage coffee (CC0, Rachel Michetti)")
    save_pil(coffee, "coffee_160x107.jpg", "photo: coffee JPEG q92 4:4:4", quality=92, subsampling=0)
    chelsea = photo("chelsea.png", size=(107, 71))
    save_pil(chelsea, "chelsea_107x71.png", "photo: skimage chelsea (CC0, Stefan van der Walt)")
    save_pil(chelsea, "chelsea_107x71.jpg", "photo: chelsea JPEG q75 4:2:0", quality=75)
    camera = photo("camera.png", box=(64, 0, 448, 512), size=(96, 128))
    save_pil(camera, "camera_96x128.png", "photo: skimage camera (CC0, Lav Varshney), grayscale")
    save_pil(camera, "camera_96x128.jpg", "photo: camera grayscale JPEG q85", quality=85)
    logo = photo("logo.png", size=(120, 120))
    save_pil(logo, "logo_120x120.png", "real RGBA: scikit-image logo (scikit-image project) with antialiased transparency")
    # Refused input: 16-bit grayscale (Pillow opens it as mode I;16, whose RGB conversion saturates).
    g16 = (np.arange(48, dtype=np.uint16).reshape(6, 8) * 1300).astype(np.uint16)
    write_png(os.path.join(out, "reject_gray16_8x6.png"), 8, 6, 16, 0, g16)
    return items


REJECTED = [{"file": "reject_gray16_8x6.png", "reason": "16-bit grayscale"}]


def main():
    os.makedirs(OUT, exist_ok=True)
    for f in os.listdir(OUT):
        os.remove(os.path.join(OUT, f))
    items = build_inputs(OUT)
    expected_files = {}
    manifest_images = []
    for name, note, extra in items:
        path = os.path.join(OUT, name)
        src = Image.open(path)
        src.load()
        fmt = "jpeg" if name.endswith(".jpg") else "png"
        prepared, prep_note = prepare(src)
        dec, channels = decoder_layout(src)
        dec = np.ascontiguousarray(dec)
        stem = os.path.splitext(name)[0] + "_" + fmt
        if dec.nbytes <= 12000:
            dec_file = "dec_%s.bin" % stem
            with open(os.path.join(OUT, dec_file), "wb") as f:
                f.write(dec.tobytes())
        elif fmt == "png":
            dec_file = None  # large PNG inputs: checked through the exact resize expectations only
        else:
            dec_file = "dec_%s.png" % stem
            Image.fromarray(dec, {1: "L", 3: "RGB", 4: "RGBA"}[channels]).save(os.path.join(OUT, dec_file), optimize=True)
        cases = []
        for n, ch, cw in CONFIGS + extra:
            rw, rh = resized_size(prepared.size[0], prepared.size[1], n)
            orders = ["horizontalFirst"]
            if rw != prepared.size[0] and vertical_first(prepared.size[0], prepared.size[1], rw, rh, "pillow13"):
                orders.append("pillow13")  # otherwise both orders run the same computation
            for pname, fn in PIPELINES.items():
                for order in orders:
                    out, (left, top) = fn(prepared, n, ch, cw, order)
                    arr = np.ascontiguousarray(np.asarray(out, dtype=np.uint8))
                    assert arr.shape == (ch, cw, 3), (name, pname, arr.shape)
                    data = arr.tobytes()
                    fname = "exp_%s.bin" % hashlib.sha1(data).hexdigest()[:16]
                    if fname not in expected_files:
                        expected_files[fname] = data
                        with open(os.path.join(OUT, fname), "wb") as f:
                            f.write(data)
                    cases.append({"pipeline": pname, "order": order, "resize": n, "crop_h": ch, "crop_w": cw,
                                  "resized_w": rw, "resized_h": rh, "left": left, "top": top, "expected": fname})
        manifest_images.append({
            "file": name, "format": fmt, "pil_mode": src.mode, "width": src.size[0], "height": src.size[1],
            "decoded_channels": channels, "decoded": dec_file, "prepared": prep_note, "note": note,
            "exact": fmt == "png", "cases": cases,
        })
    import skimage
    manifest = {
        "generator": "tools/make_image_fixtures.py",
        "pillow_version": PIL.__version__,
        "numpy_version": np.__version__,
        "scikit_image_version": skimage.__version__,
        "pillow_libjpeg_turbo": features.version_feature("libjpeg_turbo"),
        "pillow_zlib": features.version("zlib"),
        "installed_pass_order": INSTALLED_ORDER,
        "pipelines": {
            "openai": "Pillow BICUBIC resize of the PIL image (RGBA premultiplied), crop round-half-even, convert RGB",
            "hf": "alpha_composite on white + convert RGB, Pillow BICUBIC resize, crop floor",
            "folder": "convert RGB (alpha dropped), Pillow BICUBIC resize, crop round-half-even",
        },
        "orders": "horizontalFirst = Pillow <= 12 (always); pillow13 = Pillow >= 13 (vertical pass first when inH - outH > 0 and inH - outH > 2 * (inW - outW)); pillow13 cases are listed only where the orders differ",
        "layout": "expected *.bin: raw uint8, crop_h x crop_w x 3 (RGB, row-major); dec_*: Pillow-decoded pixels in decoder layout (decoded_channels)",
        "tolerance": "png: exact; jpeg: <= 1 per byte (decoder library versions may differ)",
        "images": manifest_images,
        "rejected": REJECTED,
    }
    with open(os.path.join(OUT, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")
    total = sum(os.path.getsize(os.path.join(OUT, f)) for f in os.listdir(OUT))
    print("wrote %d images, %d expected files, %d bytes total in %s" % (len(items), len(expected_files), total, OUT))


if __name__ == "__main__":
    main()
