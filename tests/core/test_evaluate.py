import pytest

from core.evaluate.detection import coco_map


def _gt():
    return {"images": [{"id": 1, "width": 100, "height": 100}, {"id": 2, "width": 100, "height": 100}],
            "categories": [{"id": 1, "name": "fish"}, {"id": 2, "name": "crab"}],
            "annotations": [
                {"id": 1, "image_id": 1, "category_id": 1, "bbox": [10, 10, 40, 40], "area": 1600, "iscrowd": 0},
                {"id": 2, "image_id": 2, "category_id": 2, "bbox": [50, 50, 40, 40], "area": 1600, "iscrowd": 0}]}


def test_perfect_detections_score_one():
    gt = _gt()
    dets = [{"image_id": a["image_id"], "category_id": a["category_id"], "bbox": a["bbox"], "score": 0.9}
            for a in gt["annotations"]]
    r = coco_map(gt, dets)
    assert r["map50"] == pytest.approx(1.0) and r["map50_95"] == pytest.approx(1.0)
    assert r["per_class_ap50_95"] == {"fish": pytest.approx(1.0), "crab": pytest.approx(1.0)}


def test_a_box_at_iou_0_6_counts_at_50_but_not_at_75():
    gt = _gt()
    # shift the fish box by 10 px: IoU = 30*40 / (2*1600 - 30*40) = 0.6
    dets = [{"image_id": 1, "category_id": 1, "bbox": [20, 10, 40, 40], "score": 0.9},
            {"image_id": 2, "category_id": 2, "bbox": [50, 50, 40, 40], "score": 0.9}]
    r = coco_map(gt, dets)
    assert r["map50"] == pytest.approx(1.0)
    # fish counts at IoU thresholds 0.50, 0.55 and 0.60 (a match needs IoU >= t): 3 of 10
    assert r["per_class_ap50_95"]["fish"] == pytest.approx(0.3)
    assert r["map50_95"] == pytest.approx((0.3 + 1.0) / 2)


def test_no_detections_is_zero_not_an_error():
    assert coco_map(_gt(), [])["map50_95"] == 0.0


def _ultralytics_map(gt_doc: dict, detections: list[dict], save_dir) -> tuple[float, float]:
    """mAP50 and mAP50-95 as ultralytics' own detection validator computes them:
    its prediction-to-target matching over IoU 0.50:0.95 and its DetMetrics."""
    import numpy as np
    import torch
    from ultralytics.models.yolo.detect.val import DetectionValidator

    from core.pipelines.detection.infer import MAX_DETECTIONS

    validator = DetectionValidator(save_dir=save_dir, args={"plots": False})
    validator.metrics.names = {c["id"] - 1: c["name"] for c in gt_doc["categories"]}
    validator.metrics.clear_stats()

    def xyxy(b):
        return [b[0], b[1], b[0] + b[2], b[1] + b[3]]

    for image in gt_doc["images"]:
        gts = [a for a in gt_doc["annotations"] if a["image_id"] == image["id"]]
        dts = sorted((d for d in detections if d["image_id"] == image["id"]), key=lambda d: -d["score"])[:MAX_DETECTIONS]
        target = {"bboxes": torch.tensor([xyxy(a["bbox"]) for a in gts], dtype=torch.float32).reshape(-1, 4),
                  "cls": torch.tensor([a["category_id"] - 1 for a in gts], dtype=torch.float32)}
        pred = {"bboxes": torch.tensor([xyxy(d["bbox"]) for d in dts], dtype=torch.float32).reshape(-1, 4),
                "cls": torch.tensor([d["category_id"] - 1 for d in dts], dtype=torch.float32),
                "conf": torch.tensor([d["score"] for d in dts], dtype=torch.float32)}
        validator.metrics.update_stats({**validator._process_batch(pred, target),
                                        "target_cls": target["cls"].numpy(), "target_img": np.unique(target["cls"].numpy()),
                                        "conf": pred["conf"].numpy(), "pred_cls": pred["cls"].numpy(),
                                        "im_name": str(image["id"])})
    validator.metrics.process(save_dir=save_dir, plot=False)
    return float(validator.metrics.box.map50), float(validator.metrics.box.map)


def test_map_agrees_with_ultralytics_validator_on_the_demo_underwater_images(demo_copy, tmp_path):
    """Noisy detections of the demo's underwater images (jittered
    boxes, misses, false alarms, wrong classes) give the same mAP through our
    COCOeval path as through ultralytics' validator, within a small tolerance."""
    import numpy as np

    from core.evaluate.detection import ground_truth

    project = demo_copy
    images = [i.id for i in project.images.list() if (i.source or "").startswith("coco")]
    assert len(images) >= 5
    used = {a.class_id for i in images for a in project.annotations.for_image(i)}
    classes = [{"id": c.id, "name": c.name} for c in project.classes.list() if c.id in used]
    gt = ground_truth(project, images, classes)
    assert len(gt["annotations"]) >= 20
    rng = np.random.default_rng(7)
    dets = []
    for a in gt["annotations"]:
        if rng.random() < 0.15:
            continue  # a miss
        x, y, w, h = a["bbox"]
        jitter = rng.normal(0, 0.05, 4) * [w, h, w, h]
        cat = a["category_id"] if rng.random() > 0.1 else int(rng.integers(1, len(classes) + 1))
        dets.append({"image_id": a["image_id"], "category_id": cat, "score": float(rng.uniform(0.3, 1.0)),
                     "bbox": [float(x + jitter[0]), float(y + jitter[1]), float(max(2, w + jitter[2])),
                              float(max(2, h + jitter[3]))]})
    for image in gt["images"]:
        for _ in range(2):  # false alarms, mostly low-scored
            w, h = rng.uniform(10, 60, 2)
            dets.append({"image_id": image["id"], "category_id": int(rng.integers(1, len(classes) + 1)),
                         "score": float(rng.uniform(0.0, 0.6)),
                         "bbox": [float(rng.uniform(0, image["width"] - w)), float(rng.uniform(0, image["height"] - h)),
                                  float(w), float(h)]})
    ours = coco_map(gt, dets)
    theirs50, theirs = _ultralytics_map(gt, dets, tmp_path)
    assert 0.2 < ours["map50_95"] < 0.95  # a meaningful, non-trivial value
    assert ours["map50"] == pytest.approx(theirs50, abs=0.03)
    assert ours["map50_95"] == pytest.approx(theirs, abs=0.03)
