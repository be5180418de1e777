"""``tessera predict --package``: a deployment package run on image files
with onnxruntime alone (no torch), writing

- detection: ``predictions.json`` (COCO: images, categories, scored boxes);
- segmentation: ``masks/<image>.png`` (palette PNG, pixel value = class
  index, the package's colours) and ``predictions.json`` (per image its mask
  file and pixel count per class);
- classification: ``predictions.json`` (per image the class probabilities);
- pairs: ``predictions.json`` (per image the judged pairs of the person
  boxes given in a COCO file, ``--boxes``).

Large images are read window by window and tiled by the package's rules."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..errors import ImageError, TesseraError
from ..imagery.reader import open_image
from ..progress import Progress, track
from .card import open_package
from .runtime import Predictor

WHOLE_READ_PIXELS = 64_000_000  # classification and pairs read whole images up to this


def _palette(classes: list[dict]) -> list[int]:
    flat = []
    for c in classes:
        colour = (c.get("color") or "#808080").lstrip("#")
        flat += [int(colour[k:k + 2], 16) for k in (0, 2, 4)] if len(colour) == 6 else [128, 128, 128]
    return flat + [0] * (768 - len(flat))


def _boxes_by_file(path: Path) -> dict[str, np.ndarray]:
    try:
        doc = json.loads(path.read_text())
        names = {im["id"]: Path(im["file_name"]).name for im in doc["images"]}
        out: dict[str, list] = {}
        for a in doc["annotations"]:
            x, y, w, h = a["bbox"]
            out.setdefault(names[a["image_id"]], []).append([x, y, x + w, y + h])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise TesseraError(f"not a COCO file of person boxes ({type(exc).__name__}: {exc})", path) from None
    return {k: np.array(v, np.float64) for k, v in out.items()}


def predict_files(package: str | Path, images: list[str | Path], out: str | Path, fmt: str = "onnx",
                  conf: float | None = None, boxes: str | Path | None = None, device: str = "cpu",
                  progress: Progress | None = None) -> dict:
    """Predict every image; returns a summary (files written, counts, errors
    per image that could not be read)."""
    folder = open_package(package)
    predictor = Predictor(folder, fmt, device)
    card, task = predictor.card, predictor.task
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    person_boxes = _boxes_by_file(Path(boxes)) if boxes else None
    if task == "pairs" and person_boxes is None:
        raise TesseraError("a pair model judges pairs of person boxes: give them with --boxes COCO.json", folder)
    doc = {"images": [], "annotations": [], "categories": [{"id": i + 1, "name": c["name"]}
                                                           for i, c in enumerate(card["classes"])]}
    results, errors = [], []
    for k, path in enumerate(track([Path(p) for p in images], progress, message="predicting"), 1):
        try:
            source = open_image(path)
        except (ImageError, OSError) as exc:
            errors.append(f"{path}: {exc}")
            continue
        with source:
            doc["images"].append({"id": k, "file_name": path.name, "width": source.width, "height": source.height})
            if task == "detection":
                found = predictor.detect(source, conf=conf)
                for (x1, y1, x2, y2), s, c in zip(found["boxes"], found["scores"], found["classes"]):
                    doc["annotations"].append({"id": len(doc["annotations"]) + 1, "image_id": k,
                                               "category_id": int(c) + 1, "score": round(float(s), 5),
                                               "bbox": [round(float(v), 2) for v in (x1, y1, x2 - x1, y2 - y1)],
                                               "area": round(float((x2 - x1) * (y2 - y1)), 2)})
                continue
            if task == "segmentation":
                from PIL import Image

                labels = predictor.segment(source)
                mask = out / "masks" / (path.stem + ".png")
                mask.parent.mkdir(exist_ok=True)
                img = Image.fromarray(labels, mode="P")
                img.putpalette(_palette(card["classes"]))
                img.save(mask)
                counts = np.bincount(labels.ravel(), minlength=len(card["classes"]))
                results.append({"image": path.name, "mask": str(mask.relative_to(out)),
                                "pixels": {c["name"]: int(n) for c, n in zip(card["classes"], counts)}})
                continue
            if source.width * source.height > WHOLE_READ_PIXELS:
                errors.append(f"{path}: {source.width}x{source.height} is too large to judge whole")
                continue
            pixels = source.read()
            if task == "classification":
                probs = predictor.classify([pixels])[0]
                best = int(probs.argmax())
                results.append({"image": path.name, "class": card["classes"][best]["name"],
                                "probability": float(probs[best]),
                                "probabilities": {c["name"]: float(p) for c, p in zip(card["classes"], probs)}})
            else:
                given = person_boxes.get(path.name, np.zeros((0, 4)))
                pairs = predictor.pairs(pixels, given) if len(given) >= 2 else []
                results.append({"image": path.name, "persons": len(given), "pairs": [
                    {**p, "box_i": given[p["i"]].tolist(), "box_j": given[p["j"]].tolist()} for p in pairs]})
    written = out / "predictions.json"
    payload = doc if task == "detection" else {"package": str(folder), "task": task, "format": fmt,
                                                "images": results}
    written.write_text(json.dumps(payload, indent=2))
    return {"package": str(folder), "task": task, "format": fmt, "images": len(doc["images"]),
            "predictions": len(doc["annotations"]) if task == "detection" else len(results),
            "written": str(written), "errors": errors}
