"""``tessera export-model``: a registered model as a deployment package — a
folder and a ZIP of it holding the model files (ONNX, FP16 ONNX, TensorRT
engine), ``model.json`` (labels and colours, preprocessing, tiling,
thresholds, calibration, files), ``labels.txt`` and the validation report
(``validation.json``).  The package is written beside its final place and
moved there only when complete; it is recorded in the project's exports."""
from __future__ import annotations

import datetime as dt
import json
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path

from ..errors import TesseraError
from ..progress import Progress
from ..project import Project
from .card import CARD, CARD_FORMAT, FORMATS, write_card

CHOICES = (*FORMATS, "all")


@dataclass
class ExportResult:
    folder: Path
    archive: Path
    export_id: int
    card: dict
    report: dict
    notes: list[str]

    def summary(self) -> dict:
        return {"export": self.export_id, "folder": str(self.folder), "zip": str(self.archive),
                "files": self.card["files"], "passed": self.report["passed"], "notes": self.notes,
                "validation": self.report}


def formats_for(choice: str) -> list[str]:
    """What a package of ``choice`` holds (the FP32 ONNX always: it is the
    reference every other file is made from)."""
    if choice not in CHOICES:
        raise TesseraError(f"unknown format {choice!r}; expected one of {', '.join(CHOICES)}")
    return {"onnx": ["onnx"], "onnx-fp16": ["onnx", "onnx-fp16"], "tensorrt": ["onnx", "onnx-fp16", "tensorrt"],
            "all": list(FORMATS)}[choice]


def _target(project: Project, model_id: int, out: str | Path | None) -> Path:
    if out is None:
        stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        return project.exports_dir / f"model-{model_id}-{stamp}"
    out = Path(out).resolve()
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / CARD).is_file())):
        raise TesseraError("exists and is not an earlier deployment package: choose an empty or new folder", out)
    return out


def _classes(state: dict, task: str) -> list[dict]:
    if task == "pairs":
        return [{"name": "no interaction"}, {"name": "interaction"}]
    return [{"name": c["name"], "color": c.get("color")} for c in state["classes"]]


def export_model(project: Project, model_id: int, fmt: str = "all", out: str | Path | None = None,
                 thresholds: dict | None = None, device: str = "cpu", progress: Progress | None = None,
                 tta=None, calibration: str | None = None) -> ExportResult:
    """``tta``: the kinds of test-time augmentation the package applies
    (``"flip,rotate,scale"``; segmentation and detection); ``calibration``:
    fit a temperature (``"per-class"`` or ``"critical"``, the detection
    modes; any of them means one temperature for other tasks)."""
    from . import tensorrt
    from . import tta as aug
    from .fp16 import to_fp16
    from .card import REFINED, model_folders, task_of
    from .onnx_export import export_onnx
    from .validate import validate

    model = project.jobs.model(model_id)
    if model.kind == "backbone":
        from ..pipelines.backbones import no_predictions

        raise no_predictions(model.id, "be exported")
    task = task_of(model.pipeline)
    wanted = formats_for(fmt)
    kinds = aug.parse(tta)
    if kinds and task not in REFINED:
        raise TesseraError(f"test-time augmentation is for segmentation and detection models; model {model_id} "
                           f"is {task}")
    target = _target(project, model_id, out)
    work = target.with_name(target.name + ".partial")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    notes: list[str] = []
    try:
        say = progress or (lambda done, total, message="": None)
        say(0, 4, "exporting ONNX")
        info = export_onnx(model, work / "model.onnx")
        folders = model_folders(work, info)  # an ensemble's members each in their own folder
        files = {"onnx": "model.onnx", "onnx-fp16": None, "tensorrt": None}
        if "onnx-fp16" in wanted:
            say(1, 4, "converting to FP16")
            for f in folders:
                to_fp16(f / "model.onnx", f / "model-fp16.onnx")
            files["onnx-fp16"] = "model-fp16.onnx"
        if "tensorrt" in wanted:
            say(2, 4, "building the TensorRT engine")
            usable, why = tensorrt.availability()
            if usable:
                for f in folders:
                    tensorrt.build_engine(f / "model.onnx", f / "model-fp16.onnx", f / "model.engine",
                                          _profile(info))
                files["tensorrt"] = "model.engine"
            else:
                notes.append(f"no TensorRT engine: {why}; the ONNX files are delivered and validated")
        state = info.pop("state")
        card = {"format": CARD_FORMAT, "task": task, "pipeline": model.pipeline,
                "architecture": model.architecture, "model_id": model.id,
                "project": {"id": project.identity, "name": project.name},
                "created_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                "classes": _classes(state, task), "input": info["input"], "outputs": info["outputs"],
                "preprocessing": info["preprocessing"], "tiling": info.get("tiling"),
                "thresholds": _thresholds(task, state), "calibration": None, "files": files,
                "tta": {"kinds": list(kinds), "views": len(aug.views(kinds)),
                        "fusion": "weighted box fusion" if task == "detection" else "mean probability"}
                if kinds else None}
        if task == "pairs":
            card.update(stage=state["stage"], type_classes=list(state["type_classes"]))
        if info.get("ensemble"):
            card["ensemble"] = info["ensemble"]
        write_card(work, card)
        if calibration:
            from .calibrate import calibrate
            from .runtime import Predictor

            say(3, 4, "calibrating confidences")
            plain = Predictor(work, "onnx", device, card=card, tta=False, calibrated=False)
            card["calibration"] = calibrate(project, model, plain, calibration, progress)
            write_card(work, card)
        (work / "labels.txt").write_text("".join(c["name"] + "\n" for c in card["classes"]))
        say(3, 4, "validating against the PyTorch model")
        present = [f for f in FORMATS if files[f]]
        report = validate(project, model, work, present, thresholds, device, progress)
        report["notes"] = notes
        (work / "validation.json").write_text(json.dumps(report, indent=2))
        card["validation"] = {"file": "validation.json", "passed": report["passed"], "metric": report["metric"],
                              "pytorch": report["pytorch"][report["metric"]],
                              "formats": {f: {"value": e[report["metric"]], "change": e["change"],
                                              "passed": e["passed"]} for f, e in report["formats"].items()}}
        write_card(work, card)
        if target.exists():
            shutil.rmtree(target)
        work.rename(target)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    archive = _zip(target)
    say(4, 4, "done")
    if card["calibration"]:  # stored with the model too
        project.jobs.update_model_metrics(model.id, {"calibration": card["calibration"]})
    export_id = project.exports.add(model.id, ",".join(present), str(target), {**report, "zip": str(archive)})
    return ExportResult(target, archive, export_id, card, report, notes)


def _thresholds(task: str, state: dict) -> dict:
    if task == "detection":
        return {"confidence": state.get("confidence", 0.25), "iou": 0.7, "max_detections": 300}
    if task == "pairs":
        return {"interaction": 0.5, "distance_multiplier": state.get("distance_multiplier", 3.0)}
    return {}


def _profile(info: dict) -> dict[str, tuple[tuple, tuple, tuple]]:
    """TensorRT's (min, opt, max) input shapes: batch 1..8 at the package's
    input size (segmentation: its tile)."""
    size = info["preprocessing"]["size"]
    tile = (info.get("tiling") or {}).get("tile", size)
    if info["task"] == "pairs":
        from ..pipelines.pairs.geometry import FEATURES

        return {"crops": ((1, 3, 3, size, size), (8, 3, 3, size, size), (64, 3, 3, size, size)),
                "geometry": ((1, len(FEATURES)), (8, len(FEATURES)), (64, len(FEATURES)))}
    if info["task"] == "segmentation" and info["input"]["height"] is None:
        return {"images": ((1, 3, 32, 32), (1, 3, size, size), (8, 3, tile, tile))}
    return {"images": ((1, 3, size, size), (1, 3, size, size), (8, 3, size, size))}


def _zip(folder: Path) -> Path:
    archive = folder.with_suffix(".zip")
    tmp = archive.with_suffix(".zip.partial")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                zf.write(path, f"{folder.name}/{path.relative_to(folder)}")
    tmp.replace(archive)
    return archive
