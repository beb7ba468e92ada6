"""Imports torchvision next to a CPU-only torch (shared by the tools that need open_clip/transformers).

The PyPI torchvision wheel is linked against CUDA torch; with a CPU torch its C++ ops fail to load and
`import torchvision` dies in _meta_registrations ("operator torchvision::nms does not exist").
Defining the two op schemas it registers first lets it import; nothing in these tools uses those ops.
"""
import sys

import torch

_library = None  # keeps the schema Library alive


def import_torchvision():
    """Imports torchvision; returns "native" or a note that the schema shim was needed."""
    global _library
    try:
        import torchvision  # noqa: F401
        return "native"
    except RuntimeError as e:
        if "torchvision::nms" not in str(e):
            raise
    for k in [k for k in sys.modules if k == "torchvision" or k.startswith("torchvision.")]:
        del sys.modules[k]
    _library = torch.library.Library("torchvision", "DEF")
    _library.define("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    _library.define("qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    import torchvision  # noqa: F401
    return "python-only (C++ ops unavailable; schema shim)"
