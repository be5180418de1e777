"""A registered model run on one image: its detections (boxes) or its
segmentation (one polygon per predicted region) stored as the image's
prediction layer (annotations with ``source = 'model'``), replacing the
previous predictions of that image in one transaction.  Ground truth is never
touched."""
from __future__ import annotations

import numpy as np

from .errors import TesseraError
from .pipelines.pairs import PIPELINES as PAIR_PIPELINES
from .project import Project
from .project.annotations import NewAnnotation

MAX_PIXELS = 64_000_000  # whole-image prediction; larger images are predicted through their tiles
MIN_REGION_PX = 16  # predicted segmentation regions smaller than this are noise


def _regions(labels: np.ndarray, classes: list[dict], image_id: int) -> list[NewAnnotation]:
    import cv2
    import shapely
    from shapely.geometry import Polygon

    out = []
    for channel, cls in enumerate(classes):
        mask = (labels == channel).astype(np.uint8)
        if not mask.any():
            continue
        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        for contour in contours:
            if cv2.contourArea(contour) < MIN_REGION_PX or len(contour) < 3:
                continue
            ring = cv2.approxPolyDP(contour, 1.0, True)[:, 0, :].astype(float)
            if len(ring) < 3:
                continue
            poly = shapely.make_valid(Polygon(ring))
            if poly.is_empty or poly.area < MIN_REGION_PX:
                continue
            if poly.geom_type != "Polygon":
                parts = [g for g in getattr(poly, "geoms", []) if g.geom_type == "Polygon"]
                if not parts:
                    continue
                poly = max(parts, key=lambda g: g.area)
            out.append(NewAnnotation(image_id=image_id, geometry=poly, kind="polygon", class_id=cls["id"],
                                     source="model"))
    return out


def predict_image(project: Project, model_id: int, image_id: int, conf: float = 0.25, device: str = "cpu") -> int:
    """Store ``model_id``'s predictions for ``image_id``; returns how many."""
    from .pipelines.reader import ProjectReader

    model = project.jobs.model(model_id)
    image = project.images.get(image_id)
    if image.width * image.height > MAX_PIXELS:
        raise TesseraError(f"{image.name} is {image.width}x{image.height}: too large to predict whole "
                           f"(over {MAX_PIXELS // 1_000_000} MP); predict its tiles instead")
    if not 0.0 <= conf <= 1.0:
        raise TesseraError(f"confidence {conf} is out of range 0..1")
    pixels = ProjectReader(str(project.root)).window(image_id, 0, 0, image.width, image.height)
    if model.pipeline == "detection":
        from shapely.geometry import box

        from .pipelines.detection.infer import load_model, predict

        net, state = load_model(model.path)
        found = predict(net.to(device), pixels, state["image_size"], conf=conf, device=device)
        classes = state["classes"]
        new = [NewAnnotation(image_id=image_id, geometry=box(*map(float, b)), kind="box",
                             class_id=classes[int(c)]["id"], source="model", score=float(s))
               for b, s, c in zip(found["boxes"], found["scores"], found["classes"])
               if b[2] > b[0] and b[3] > b[1]]
    elif model.pipeline == "segmentation":
        from .pipelines.segmentation.infer import load_model, predict

        net, state = load_model(model.path)
        new = _regions(predict(net.to(device), pixels, device), state["classes"], image_id)
    elif model.pipeline in PAIR_PIPELINES:
        return _predict_pairs(project, model, image_id, pixels, conf, device)
    elif model.kind == "backbone":
        from .pipelines.backbones import no_predictions

        raise no_predictions(model_id, "predict")
    else:
        raise TesseraError(f"model {model_id} ({model.pipeline}) classifies crops; it draws nothing on an image")
    with project.transaction():
        old = [a.id for a in project.annotations.for_image(image_id, source="model")]
        project.annotations.delete(old)
        project.annotations.add_many(new)
    return len(new)


def _predict_pairs(project: Project, model, image_id: int, pixels: np.ndarray, conf: float, device: str) -> int:
    """Interacting pairs among the image's person boxes, stored as relations
    with ``source = 'model'`` (labels: the type with its probability for a
    stage-2 model, ``interaction`` with its probability for stage 1)."""
    from .pipelines.pairs.infer import load_model, predict_pairs

    persons = [a for a in project.annotations.for_image(image_id) if a.kind == "box"]
    if len(persons) < 2:
        raise TesseraError(f"{project.images.get(image_id).name} has fewer than two person boxes: no pairs to judge")
    net, state = load_model(model.path)
    boxes = np.array([a.bbox for a in persons], dtype=np.float64)
    found = [f for f in predict_pairs(net, state, pixels, boxes, device) if f["interaction"] >= conf]
    with project.transaction():
        old = [p.id for p in project.relations.pairs(image_id) if p.source == "model"]
        project.relations.delete_pairs(old)
        for f in found:
            labels = ({f["type"]: round(f["type_probability"], 4)} if state["stage"] == 2
                      else {"interaction": round(f["interaction"], 4)})
            project.relations.add_pair(image_id, persons[f["i"]].id, persons[f["j"]].id, labels, source="model",
                                       attributes={"interaction": round(f["interaction"], 4)})
    return len(found)
