"""``model.json``: what a deployment package holds and how to run it (task,
classes, input, preprocessing, tiling, thresholds, calibration, files).
Read with typed errors naming the file; no torch."""
from __future__ import annotations

import json
import zipfile
from pathlib import Path

from ..errors import TesseraError

CARD = "model.json"
CARD_FORMAT = "tessera-deploy-v1"
FORMATS = ("onnx", "onnx-fp16", "tensorrt")
TASKS = ("segmentation", "detection", "classification", "pairs")
REFINED = ("segmentation", "detection")  # the tasks that take test-time augmentation


def task_of(pipeline: str) -> str:
    """The deployment task of a training pipeline."""
    from ..pipelines.pairs import PIPELINES as PAIR_PIPELINES

    if pipeline in PAIR_PIPELINES:
        return "pairs"
    if pipeline in TASKS:
        return pipeline
    raise TesseraError(f"no export for pipeline {pipeline!r}")
REQUIRED = ("format", "task", "classes", "input", "preprocessing", "files")


class PackageError(TesseraError):
    """A deployment package that cannot be read or run."""


def read_card(folder: str | Path) -> dict:
    """The package's ``model.json``, checked for what running it needs."""
    path = Path(folder) / CARD
    if not path.is_file():
        raise PackageError(f"not a deployment package (no {CARD})", Path(folder))
    try:
        card = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PackageError(f"unreadable ({exc})", path) from None
    if not isinstance(card, dict):
        raise PackageError("expected a JSON object", path)
    missing = [k for k in REQUIRED if k not in card]
    if missing:
        raise PackageError(f"missing {', '.join(missing)}", path)
    if card["format"] != CARD_FORMAT:
        raise PackageError(f"format {card['format']!r} is not {CARD_FORMAT}", path)
    if card["task"] not in TASKS:
        raise PackageError(f"unknown task {card['task']!r}", path)
    return card


def write_card(folder: str | Path, card: dict) -> Path:
    path = Path(folder) / CARD
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(card, indent=2))
    tmp.replace(path)
    return path


def model_file(folder: str | Path, card: dict, fmt: str) -> Path:
    """The file of ``fmt`` in the package, or a clear error when it has none."""
    if fmt not in FORMATS:
        raise PackageError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}", Path(folder) / CARD)
    name = card["files"].get(fmt)
    if not name:
        have = ", ".join(f for f, n in card["files"].items() if n) or "none"
        raise PackageError(f"this package has no {fmt} model (it has: {have})", Path(folder) / CARD)
    path = Path(folder) / name
    if not path.is_file():
        raise PackageError(f"{fmt} model file missing", path)
    return path


def model_folders(folder: str | Path, card: dict) -> list[Path]:
    """Where the package's network files lie: the package itself, or one
    folder per member of an ensemble (each holding the same file names)."""
    ensemble = card.get("ensemble")
    return [Path(folder) / m["folder"] for m in ensemble["members"]] if ensemble else [Path(folder)]


def open_package(path: str | Path) -> Path:
    """A package folder, or a ZIP of one unpacked next to it (once)."""
    path = Path(path)
    if path.is_file() and zipfile.is_zipfile(path):
        dest = path.with_suffix("")
        if not (dest / CARD).is_file():
            with zipfile.ZipFile(path) as zf:
                names = zf.namelist()
                root = Path(dest.parent).resolve()
                for name in names:
                    if name.startswith("/") or ".." in Path(name).parts:
                        raise PackageError(f"refused: entry {name!r} would write outside the folder", path)
                    if not (root / name).resolve().is_relative_to(root):
                        raise PackageError(f"refused: entry {name!r} would write outside the folder", path)
                zf.extractall(root)
            inner = {n.split("/")[0] for n in names}
            dest = root / inner.pop() if len(inner) == 1 else dest
        path = dest
    read_card(path)
    return path
