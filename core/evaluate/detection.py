"""Detection evaluation: mAP50 and mAP50-95 (and per class) through
pycocotools' COCOeval on the validation images.

COCO keeps at most 100 detections per image and class by default; dense
scenes (a school of fish) hold more objects than that, so this keeps as many
as the detector may return (ultralytics' `max_det`, 300), as ultralytics'
own validator does."""
from __future__ import annotations

import contextlib
import io

from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from ..imagery.reader import open_image
from ..pipelines.detection.infer import MAX_DETECTIONS, load_model, predict
from ..progress import Progress, track
from ..project import Project


def ground_truth(project: Project, image_ids: list[int], classes: list[dict]) -> dict:
    """A COCO document of the stored boxes (category id = channel index + 1)."""
    index = {c["id"]: i for i, c in enumerate(classes)}
    doc = {"images": [], "annotations": [],
           "categories": [{"id": i + 1, "name": c["name"]} for i, c in enumerate(classes)]}
    for image_id in image_ids:
        image = project.images.get(image_id)
        doc["images"].append({"id": image_id, "width": image.width, "height": image.height})
        for ann in project.annotations.for_image(image_id):
            if ann.class_id in index and ann.kind in ("box", "polygon", "mask"):
                x1, y1, x2, y2 = ann.bbox
                doc["annotations"].append({"id": len(doc["annotations"]) + 1, "image_id": image_id,
                                           "category_id": index[ann.class_id] + 1, "bbox": [x1, y1, x2 - x1, y2 - y1],
                                           "area": (x2 - x1) * (y2 - y1), "iscrowd": int(ann.iscrowd)})
    return doc


def coco_map(gt_doc: dict, detections: list[dict]) -> dict:
    """mAP50, mAP50-95 and per-class AP50-95 with COCOeval (its output kept quiet)."""
    names = {c["id"]: c["name"] for c in gt_doc["categories"]}
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO()
        gt.dataset = gt_doc
        gt.createIndex()
        if not detections:
            return {"map50": 0.0, "map50_95": 0.0, "per_class_ap50_95": {n: 0.0 for n in names.values()},
                    "detections": 0}
        dt = gt.loadRes(detections)
        ev = COCOeval(gt, dt, "bbox")
        ev.params.maxDets = [1, 10, MAX_DETECTIONS]
        ev.evaluate()
        ev.accumulate()
    # precision[iou threshold, recall threshold, class, area range, max dets];
    # -1 marks a class without ground truth. Area range 0 is "all".
    precision = ev.eval["precision"][:, :, :, 0, -1]

    def mean(p):
        return float(p[p > -1].mean()) if (p > -1).any() else 0.0

    per_class = {}
    for k, cat in enumerate(ev.params.catIds):
        per_class[names[cat]] = mean(precision[:, :, k]) if (precision[:, :, k] > -1).any() else None
    return {"map50": mean(precision[0]), "map50_95": mean(precision),
            "per_class_ap50_95": per_class, "detections": len(detections)}


def evaluate_detection(project: Project, model, image_ids: list[int], progress: Progress | None = None,
                       device: str = "cpu", keep_predictions: bool = False, predict_fn=None) -> dict:
    """``predict_fn(pixels) -> {"boxes", "scores", "classes"}`` (all boxes
    over confidence 0.001) replaces the PyTorch model."""
    net, state = load_model(model.path)
    if predict_fn is None:
        net = net.to(device)
        predict_fn = lambda pixels: predict(net, pixels, state["image_size"], device=device)  # noqa: E731
    detections, predictions = [], {}
    for image_id in track(image_ids, progress, message="evaluating"):
        image = project.images.get(image_id)
        with open_image(image.file(project.root)) as src:
            pixels = src.read()
        out = predict_fn(pixels)
        if keep_predictions:
            predictions[image_id] = out
        for (x1, y1, x2, y2), score, cls in zip(out["boxes"], out["scores"], out["classes"]):
            detections.append({"image_id": image_id, "category_id": int(cls) + 1, "score": float(score),
                               "bbox": [float(x1), float(y1), float(x2 - x1), float(y2 - y1)]})
    result = coco_map(ground_truth(project, image_ids, state["classes"]), detections)
    result["classes"] = [c["name"] for c in state["classes"]]
    if keep_predictions:
        result["predictions"] = predictions
    return result
