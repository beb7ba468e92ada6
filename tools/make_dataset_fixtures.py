#!/usr/bin/env python3
"""Writes the tiny CIFAR-like fixtures used by Tests/DatasetsTests (committed under Tests/Fixtures/datasets/).

The Swift tests never run Python; this script only regenerates the committed files:

  cifar-10-python.tar.gz   GNU-format tar of cifar-10-batches-py/ with Python-2-style protocol-2 pickles
                           (like the real archive, written by Python 2 cPickle: str keys and the array payload as
                           SHORT_BINSTRING/BINSTRING, GLOBAL numpy.core.multiarray._reconstruct, BINPUT/LONG_BINPUT)
  cifar-100-python.tar.gz  PAX-format tar of cifar-100-python/ with Python 3 protocol-4 pickles
                           (SHORT_BINBYTES, STACK_GLOBAL, MEMOIZE, FRAME; numpy's own module name)
  cifar100_test_py3_protocol2.pickle
                           a CIFAR-100 test-style dict pickled by Python 3 at protocol 2, where bytes become
                           _codecs.encode(<latin-1 text>, 'latin1') calls
  expected.json            what the Swift reader must produce: labels, coarse labels, class names and, per image,
                           a checksum of the HWC-interleaved pixels computed with numpy's transpose

Each tar also holds one member with a 120-character name (GNU 'L' long-name record / pax 'path' record).

Pixel values are a deterministic pattern: value(image n, channel c, row y, column x) =
(53 n + 97 c + 7 y + 3 x + seed) mod 256, stored CHW planar as in CIFAR.

Usage (needs numpy):
    python3 -m venv /tmp/venv-ds && /tmp/venv-ds/bin/pip install numpy
    /tmp/venv-ds/bin/python tools/make_dataset_fixtures.py [--out Tests/Fixtures/datasets]
"""

import argparse
import gzip
import io
import json
import os
import pickle
import pickletools
import struct
import tarfile

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CIFAR10_NAMES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
CIFAR100_COARSE = [
    "aquatic_mammals", "fish", "flowers", "food_containers", "fruit_and_vegetables",
    "household_electrical_devices", "household_furniture", "insects", "large_carnivores",
    "large_man-made_outdoor_things", "large_natural_outdoor_scenes", "large_omnivores_and_herbivores",
    "medium_mammals", "non-insect_invertebrates", "people", "reptiles", "small_mammals", "trees",
    "vehicles_1", "vehicles_2",
]
LONG_NAME = "long_member_name_" + "x" * 99 + ".txt"  # 120 characters: needs GNU 'L' or a pax record


class Py2StylePickler(pickle._Pickler):
    """Protocol-2 pickler that writes like Python 2 cPickle: byte strings (Python 2 `str`) and ASCII text as
    SHORT_BINSTRING/BINSTRING, and numpy's _reconstruct under its old module name numpy.core.multiarray."""

    dispatch = pickle._Pickler.dispatch.copy()

    def save_py2_str(self, obj):
        if isinstance(obj, str):
            obj = obj.encode("ascii")
        n = len(obj)
        if n < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([n]) + obj)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", n) + obj)
        self.memoize(obj)

    def save_text(self, obj):
        if obj.isascii():
            self.save_py2_str(obj)
        else:
            pickle._Pickler.save_str(self, obj)

    dispatch[bytes] = save_py2_str
    dispatch[str] = save_text

    def save_global(self, obj, name=None):
        if getattr(obj, "__name__", None) == "_reconstruct":
            self.write(pickle.GLOBAL + b"numpy.core.multiarray\n_reconstruct\n")
            self.memoize(obj)
            return
        super().save_global(obj, name)


def py2_dumps(obj):
    buf = io.BytesIO()
    Py2StylePickler(buf, protocol=2).dump(obj)
    return buf.getvalue()


def images(n, seed):
    """(n, 3072) uint8, CHW planar per row."""
    i = np.arange(n).reshape(n, 1, 1, 1)
    c = np.arange(3).reshape(1, 3, 1, 1)
    y = np.arange(32).reshape(1, 1, 32, 1)
    x = np.arange(32).reshape(1, 1, 1, 32)
    return ((53 * i + 97 * c + 7 * y + 3 * x + seed) % 256).astype(np.uint8).reshape(n, 3072)


def hwc_checksums(data):
    """Per image: sum((k + 1) * hwc[k]) mod 2^32 over the HWC-interleaved bytes (numpy's transpose)."""
    hwc = data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1).reshape(data.shape[0], -1).astype(np.uint64)
    weights = np.arange(1, 3073, dtype=np.uint64)
    return [int(v) for v in ((hwc * weights).sum(axis=1) % (1 << 32))]


def opcode_names(blob):
    return sorted({op.name for op, _, _ in pickletools.genops(blob)})


def check_roundtrip(blob, obj):
    back = pickle.loads(blob, encoding="bytes")
    for key, value in obj.items():
        got = back[key]
        if isinstance(value, np.ndarray):
            assert got.dtype == value.dtype and got.shape == value.shape and (got == value).all(), key
        else:
            assert got == value, key


def write_tar_gz(path, members, fmt):
    """members: list of (name, bytes or None for a directory)."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=fmt) as tar:
        for name, blob in members:
            info = tarfile.TarInfo(name)
            info.mtime = 1262304000
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            if blob is None:
                info.type = tarfile.DIRTYPE
                info.mode = 0o755
                tar.addfile(info)
            else:
                info.mode = 0o644
                info.size = len(blob)
                tar.addfile(info, io.BytesIO(blob))
    with open(path, "wb") as f:
        with gzip.GzipFile(filename="", mode="wb", fileobj=f, mtime=0, compresslevel=9) as gz:
            gz.write(raw.getvalue())


def cifar10(out, expected):
    folder = "cifar-10-batches-py/"
    members = [(folder, None)]
    train_labels, train_sums, index = [], [], 0
    for k in range(1, 6):
        n = 2
        data = images(n, seed=k)
        labels = [(3 * (index + j) + 1) % 10 for j in range(n)]
        batch = {
            b"batch_label": b"training batch %d of 5" % k,
            b"labels": labels,
            b"data": data,
            b"filenames": [b"fixture_%05d.png" % (index + j) for j in range(n)],
        }
        blob = py2_dumps(batch)
        check_roundtrip(blob, batch)
        members.append((folder + "data_batch_%d" % k, blob))
        train_labels += labels
        train_sums += hwc_checksums(data)
        index += n
    test = images(3, seed=200)
    test_labels = [(7 * j + 2) % 10 for j in range(3)]
    batch = {b"batch_label": b"testing batch 1 of 1", b"labels": test_labels, b"data": test,
             b"filenames": [b"test_%05d.png" % j for j in range(3)]}
    blob = py2_dumps(batch)
    check_roundtrip(blob, batch)
    ops = opcode_names(blob)
    assert "BINSTRING" in ops and "SHORT_BINSTRING" in ops and "GLOBAL" in ops, ops
    members.append((folder + "test_batch", blob))
    meta = {b"num_cases_per_batch": 2, b"label_names": [n.encode() for n in CIFAR10_NAMES], b"num_vis": 3072}
    members.append((folder + "batches.meta", py2_dumps(meta)))
    members.append((folder + "readme.html", b"<html>fixture</html>\n"))
    members.append((folder + LONG_NAME, b"long name\n"))
    write_tar_gz(os.path.join(out, "cifar-10-python.tar.gz"), members, tarfile.GNU_FORMAT)
    expected["cifar10"] = {
        "train": {"labels": train_labels, "hwc_checksums": train_sums},
        "test": {"labels": test_labels, "hwc_checksums": hwc_checksums(test)},
        "class_names": CIFAR10_NAMES,
        "protocol2_opcodes": ops,
        "long_member": folder + LONG_NAME,
    }


def cifar100_dict(n, seed, split):
    data = images(n, seed)
    fine = [(13 * j + 5 + seed) % 100 for j in range(n)]
    coarse = [(3 * j + seed) % 20 for j in range(n)]
    d = {b"filenames": [b"%s_%05d.png" % (split.encode(), j) for j in range(n)], b"batch_label": split.encode(),
         b"fine_labels": fine, b"coarse_labels": coarse, b"data": data}
    return d, {"labels": fine, "coarse_labels": coarse, "hwc_checksums": hwc_checksums(data)}


def cifar100(out, expected):
    names_path = os.path.join(REPO, "Sources", "Datasets", "Resources", "class_names", "cifar100.txt")
    with open(names_path) as f:
        fine_names = [line.strip() for line in f if line.strip()]
    assert len(fine_names) == 100
    folder = "cifar-100-python/"
    members = [(folder, None)]
    train, train_exp = cifar100_dict(6, 11, "train")
    test, test_exp = cifar100_dict(4, 42, "test")
    for name, d in (("train", train), ("test", test)):
        blob = pickle.dumps(d, protocol=4)
        check_roundtrip(blob, d)
        ops = opcode_names(blob)
        assert "STACK_GLOBAL" in ops and "MEMOIZE" in ops and "FRAME" in ops, ops
        members.append((folder + name, blob))
    meta = {b"fine_label_names": [n.encode() for n in fine_names],
            b"coarse_label_names": [n.encode() for n in CIFAR100_COARSE]}
    members.append((folder + "meta", pickle.dumps(meta, protocol=4)))
    members.append((folder + "file.txt~", b""))
    members.append((folder + LONG_NAME, b"long name\n"))
    write_tar_gz(os.path.join(out, "cifar-100-python.tar.gz"), members, tarfile.PAX_FORMAT)

    # Python 3 protocol 2: bytes are written as _codecs.encode(text, 'latin1').
    p2, p2_exp = cifar100_dict(2, 77, "test")
    blob = pickle.dumps(p2, protocol=2)
    check_roundtrip(blob, p2)
    p2_ops = opcode_names(blob)
    assert "GLOBAL" in p2_ops and b"_codecs" in blob, p2_ops
    with open(os.path.join(out, "cifar100_test_py3_protocol2.pickle"), "wb") as f:
        f.write(blob)
    expected["cifar100"] = {
        "train": train_exp, "test": test_exp, "class_names": fine_names,
        "coarse_class_names": CIFAR100_COARSE, "long_member": folder + LONG_NAME,
        "protocol4_opcodes": opcode_names(pickle.dumps(test, protocol=4)),
    }
    expected["cifar100_py3_protocol2"] = dict(p2_exp, opcodes=p2_ops)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=os.path.join(REPO, "Tests", "Fixtures", "datasets"))
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    expected = {"pixel_pattern": "(53*n + 97*c + 7*y + 3*x + seed) % 256, CHW planar on disk",
                "numpy_version": np.__version__}
    cifar10(args.out, expected)
    cifar100(args.out, expected)
    with open(os.path.join(args.out, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1, sort_keys=True)
        f.write("\n")
    for name in sorted(os.listdir(args.out)):
        print("%8d  %s" % (os.path.getsize(os.path.join(args.out, name)), name))


if __name__ == "__main__":
    main()
