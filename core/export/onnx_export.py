"""A registered model as one ONNX file (opset 18), simplified with onnxslim
and checked with ``onnx.checker``; and the same model's raw outputs in
PyTorch, for the parity check.

- segmentation: ``torch.onnx.export`` (dynamo), batch and height / width
  dynamic in multiples of 32; architectures that bake their input size into
  the graph (UPerNet) are exported at the tile size and run tile by tile;
- detection: ultralytics' own exporter (dynamic batch, height, width);
- classification: dynamic batch at the model's input size;
- pairs: the two inputs (three crops per pair, the pair's geometry) with a
  dynamic batch, the interaction logit and the type logits out."""
from __future__ import annotations

import contextlib
import io
import logging
import shutil
import tempfile
import warnings
from pathlib import Path

import numpy as np
import torch

from .card import task_of
from ..predict import MAX_PIXELS
from .preprocess import IMAGENET_MEAN, IMAGENET_STD

OPSET = 18
FIXED_SIZE = ("upernet",)  # smp architectures whose graph keeps the input size


def load_net(model) -> tuple[torch.nn.Module, dict]:
    """The registered model's network (eval mode, CPU) and stored state."""
    task = task_of(model.pipeline)
    if task == "segmentation":
        from ..pipelines.segmentation.infer import load_model
    elif task == "detection":
        from ..pipelines.detection.infer import load_model
    elif task == "classification":
        from ..pipelines.classification.infer import load_model
    else:
        from ..pipelines.pairs.infer import load_model
    net, state = load_model(model.path)
    return net.eval().float(), state


def example_inputs(task: str, state: dict, batch: int = 1, height: int | None = None,
                   width: int | None = None) -> tuple[np.ndarray, ...]:
    """Random inputs of the shapes the exported network takes."""
    rng = np.random.default_rng(0)
    size = int(state.get("image_size", 256))
    if task == "pairs":
        from ..pipelines.pairs.geometry import FEATURES

        return (rng.standard_normal((batch, 3, 3, size, size)).astype(np.float32),
                rng.random((batch, len(FEATURES))).astype(np.float32))
    if task == "detection":
        return (rng.random((batch, 3, size, size)).astype(np.float32),)
    return (rng.standard_normal((batch, 3, height or size, width or size)).astype(np.float32),)


@torch.inference_mode()
def torch_outputs(task: str, net: torch.nn.Module, arrays: tuple[np.ndarray, ...], device: str = "cpu"
                  ) -> list[np.ndarray]:
    """The network's raw outputs, as the exported graph gives them."""
    out = net(*(torch.from_numpy(np.ascontiguousarray(a)).to(device) for a in arrays))
    if task == "detection":
        out = out[0] if isinstance(out, (list, tuple)) else out
    outs = out if isinstance(out, (list, tuple)) else (out,)
    return [o.float().cpu().numpy() for o in outs]


def _dynamo(net, inputs: tuple, path: Path, input_names, output_names, dynamic_shapes) -> None:
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the exporter's notes on axis names and deprecations
        torch.onnx.export(net, tuple(torch.from_numpy(a) for a in inputs), str(path), opset_version=OPSET,
                          external_data=False, dynamo=True, input_names=input_names, output_names=output_names,
                          dynamic_shapes=dynamic_shapes)


def _slim_and_check(path: Path) -> None:
    import onnx
    import onnxslim

    model = onnxslim.slim(onnx.load(str(path)))
    onnx.save(model, str(path))
    onnx.checker.check_model(str(path), full_check=True)


def export_onnx(model, path: str | Path) -> dict:
    """Write ``path`` (.onnx).  Returns the package's description of it:
    task, input (names, shape, fixed height / width or None), outputs,
    preprocessing and tiling."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    task = task_of(model.pipeline)
    net, state = load_net(model)
    size = int(state.get("image_size", 256))
    batch = torch.export.Dim("batch", min=1, max=1024)
    imagenet = {"mean": list(IMAGENET_MEAN), "std": list(IMAGENET_STD)}
    info: dict = {"task": task, "state": state}
    if task == "segmentation":
        fixed = state["architecture"].lower() in FIXED_SIZE
        if not fixed:
            try:
                h, w = torch.export.Dim("h", min=1, max=1024), torch.export.Dim("w", min=1, max=1024)
                _dynamo(net, example_inputs(task, state), path, ["images"], ["logits"],
                        ({0: batch, 2: 32 * h, 3: 32 * w},))
            except Exception as exc:  # an architecture the dynamic export cannot trace: fixed size instead
                logging.getLogger(__name__).warning("dynamic export failed (%s); exporting at %d px", exc, size)
                fixed = True
        if fixed:
            _dynamo(net, example_inputs(task, state), path, ["images"], ["logits"], ({0: batch},))
        info.update(input={"names": ["images"], "height": size if fixed else None, "width": size if fixed else None},
                    outputs=["logits"], preprocessing={"resize": "pad", "stride": 32, "size": size, **imagenet},
                    tiling={"tile": size if fixed else max(512, size * 4), "overlap": 64 if not fixed else size // 8})
    elif task == "detection":
        if "members" in state:  # an ensemble: one graph per member, in a folder of its own
            for member, member_net in zip(state["members"], net.nets):
                (path.parent / member["variant"]).mkdir(exist_ok=True)
                _export_yolo(member_net, size, path.parent / member["variant"] / path.name)
            info["ensemble"] = {"fusion": "weighted box fusion", "fusion_iou": state["fusion_iou"],
                                "members": [{"variant": m["variant"], "folder": m["variant"],
                                             "confidence": m["confidence"], "augmentation": m["augmentation"]}
                                            for m in state["members"]]}
        else:
            _export_yolo(net, size, path)
        info.update(input={"names": ["images"], "height": size, "width": size}, outputs=["output0"],
                    preprocessing={"resize": "letterbox", "size": size, "pad_value": 114,
                                   "mean": [0.0, 0.0, 0.0], "std": [1.0, 1.0, 1.0]},
                    tiling={"tile": max(1024, size), "overlap": 128, "above_pixels": MAX_PIXELS})
    elif task == "classification":
        _dynamo(net, example_inputs(task, state), path, ["images"], ["logits"], ({0: batch},))
        info.update(input={"names": ["images"], "height": size, "width": size}, outputs=["logits"],
                    preprocessing={"resize": "stretch", "size": size, "crop_padding": state.get("crop_padding", 0.0),
                                   **imagenet})
    else:
        _dynamo(net, example_inputs(task, state), path, ["crops", "geometry"], ["interaction", "types"],
                ({0: batch}, {0: batch}))
        info.update(input={"names": ["crops", "geometry"], "height": size, "width": size},
                    outputs=["interaction", "types"], preprocessing={"resize": "stretch", "size": size, **imagenet})
    if task != "detection":
        _slim_and_check(path)
    return info


def _export_yolo(net, size: int, path: Path) -> None:
    """ultralytics' exporter (it fuses, sets the head to export mode and
    slims); it names its file after ``pt_path``, so it works in a temporary
    folder and the file is moved into place."""
    from ultralytics.engine.exporter import Exporter
    from ultralytics.utils import LOGGER

    with tempfile.TemporaryDirectory(prefix="tessera-yolo-") as tmp:
        net.pt_path, net.task = str(Path(tmp) / "model.pt"), "detect"
        level = LOGGER.level
        LOGGER.setLevel(logging.WARNING)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # ultralytics uses the TorchScript exporter, which torch calls legacy
                out = Exporter(overrides={"format": "onnx", "imgsz": size, "simplify": True, "opset": OPSET,
                                          "device": "cpu", "batch": 1, "dynamic": True})(model=net)
        finally:
            LOGGER.setLevel(level)
        shutil.move(out, path)
    import onnx

    onnx.checker.check_model(str(path), full_check=True)
