"""ONNX Runtime side of `tools/bench-compare.sh`: the image tower in fp32 and in dynamic int8.

Random weights of the real architecture (open_clip `ARCH-quickgelu`, the OpenAI-weights variant clipcl
runs, fixed seed, no download). Exports `model.visual` to ONNX (TorchScript exporter, opset 17, dynamic
batch axis), quantizes it with `onnxruntime.quantization.quantize_dynamic` (signed int8 per-channel
weights, activations quantized per tensor at run time, as ORT does), then times both with an
InferenceSession (CPUExecutionProvider, intra-op threads N, inter-op 1, ORT_ENABLE_ALL) on a batch of
random normal 3×224×224 pixels: one warm-up run, then as many runs as fit in SECONDS. The model files live
in a temporary directory removed at the end. Prints one JSON object.
Run it in a throwaway venv:
  python3 -m venv /tmp/venv-bench && /tmp/venv-bench/bin/pip install torch open_clip_torch onnx onnxruntime
  /tmp/venv-bench/bin/python tools/bench-onnx.py --arch ViT-B-16 --seconds 10 --threads 2
Tests never need Python.
"""
import argparse, json, os, tempfile, time, warnings

import numpy as np
import torch


from torchvision_compat import import_torchvision  # noqa: E402

import_torchvision()
import onnx  # noqa: E402,F401  (quantize_dynamic needs it; imported here so a missing package fails early)
import onnxruntime as ort  # noqa: E402
from onnxruntime.quantization import QuantType, quantize_dynamic  # noqa: E402
import open_clip  # noqa: E402

# Every linear layer of the tower becomes MatMulInteger (ViT-B: 12 blocks × qkv, out, fc1, fc2, + the projection);
# QKᵀ and attention·V have no constant weight and stay fp32, and so does the patch-embedding Conv.
QUANT_OPS = ["MatMul", "Gemm"]
QUANTIZATION = ("quantize_dynamic, op_types MatMul+Gemm: int8 weights, signed, per output channel; "
                "uint8 activations, dynamic, per tensor; attention QK/AV matmuls and patch Conv stay fp32")


def rate(fn, count, seconds):
    fn()
    n, start = 0, time.perf_counter()
    while True:
        fn()
        n += count
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return n / elapsed


def session(path, threads):
    o = ort.SessionOptions()
    o.intra_op_num_threads = threads
    o.inter_op_num_threads = 1
    o.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(path, o, providers=["CPUExecutionProvider"])


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--arch", default="ViT-B-16")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--seconds", type=float, default=10)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    visual = open_clip.create_model(a.arch + "-quickgelu", pretrained=None).visual.eval()
    pixels = torch.randn(a.batch, 3, 224, 224)
    with tempfile.TemporaryDirectory(prefix="bench-onnx-") as tmp:
        fp32_path, int8_path = os.path.join(tmp, "visual.onnx"), os.path.join(tmp, "visual-int8.onnx")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # TracerWarnings and the exporter's deprecation notice
            torch.onnx.export(visual, (pixels,), fp32_path, input_names=["pixels"], output_names=["embedding"],
                              dynamic_axes={"pixels": {0: "batch"}, "embedding": {0: "batch"}},
                              opset_version=17, dynamo=False)
        quantize_dynamic(fp32_path, int8_path, weight_type=QuantType.QInt8, per_channel=True,
                         op_types_to_quantize=QUANT_OPS)
        feed = {"pixels": pixels.numpy()}
        fp32, int8 = session(fp32_path, a.threads), session(int8_path, a.threads)
        out32, out8 = fp32.run(None, feed)[0], int8.run(None, feed)[0]
        cos = (out32 * out8).sum(-1) / (np.linalg.norm(out32, axis=-1) * np.linalg.norm(out8, axis=-1))
        fp32_rate = rate(lambda: fp32.run(None, feed), a.batch, a.seconds)
        int8_rate = rate(lambda: int8.run(None, feed), a.batch, a.seconds)
    print(json.dumps({"runtime": f"onnxruntime {ort.__version__}", "arch": a.arch, "threads": a.threads, "batch": a.batch,
                      "fp32_images_per_s": round(fp32_rate, 2), "int8_images_per_s": round(int8_rate, 2),
                      "quantization": QUANTIZATION, "int8_cosine_to_fp32_min": round(float(cos.min()), 5),
                      "load_average": [round(x, 2) for x in os.getloadavg()]}))


if __name__ == "__main__":
    main()
