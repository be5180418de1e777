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
