"""Uncertainty and diversity scores on small hand-made inputs with known answers."""
import math

import numpy as np
import pytest

from core.active.diversity import hybrid, k_center_greedy
from core.active.uncertainty import (classification_score, detection_score, entropy, least_confidence, margin,
                                     segmentation_score)


def test_least_confidence_margin_and_entropy_by_hand():
    p = np.array([[0.7, 0.2, 0.1], [1 / 3, 1 / 3, 1 / 3], [1.0, 0.0, 0.0]])
    assert least_confidence(p) == pytest.approx([0.3 * 1.5, 1.0, 0.0])
    assert margin(p) == pytest.approx([1 - 0.5, 1.0, 0.0])
    h = -(0.7 * math.log(0.7) + 0.2 * math.log(0.2) + 0.1 * math.log(0.1)) / math.log(3)
    assert entropy(p) == pytest.approx([h, 1.0, 0.0], abs=1e-9)


def test_segmentation_per_pixel_mean_and_per_class():
    # 2 classes, 1 x 3 pixels: certain class 0, a tie, 0.8 for class 1
    probs = np.array([[[1.0, 0.5, 0.2]], [[0.0, 0.5, 0.8]]])
    got = segmentation_score(probs, "least_confidence")
    assert got["score"] == pytest.approx((0 + 1.0 + 0.4) / 3)
    assert got["per_class"] == pytest.approx({0: 0.5, 1: 0.4})  # the tie goes to class 0 (argmax)
    valid = np.array([[True, False, True]])
    assert segmentation_score(probs, "least_confidence", valid)["score"] == pytest.approx(0.2)


def test_detection_aggregates_counts_doubtful_boxes_and_scores_empty_images():
    probs = [[0.9, 0.1], [0.6, 0.4], [0.5, 0.5]]
    conf = [0.95, 0.65, 0.3]
    lc = [0.2, 0.8, 1.0]
    assert detection_score(probs, conf, "least_confidence", "max")["score"] == pytest.approx(1.0)
    assert detection_score(probs, conf, "least_confidence", "mean")["score"] == pytest.approx(sum(lc) / 3)
    got = detection_score(probs, conf, "least_confidence", "sum")
    assert got["score"] == pytest.approx(sum(lc)) and got["confidence_below"] == 2 and got["boxes"] == 3
    assert detection_score([], [], "entropy") == {"score": 1.0, "confidence_below": 0, "boxes": 0}
    assert detection_score([], [], "entropy", empty_score=0.25)["score"] == 0.25
    # one class: the box confidence is the probability
    assert detection_score([[0.9]], [0.9], "margin")["score"] == pytest.approx(1 - 0.8)


def test_classification_score_and_refusals():
    assert classification_score([0.5, 0.5], "margin") == pytest.approx(1.0)
    with pytest.raises(ValueError, match="unknown method"):
        classification_score([0.5, 0.5], "variance")
    with pytest.raises(ValueError, match="two classes"):
        least_confidence(np.ones((3, 1)))


def test_k_center_greedy_picks_the_farthest_point_each_time():
    points = np.array([[0, 0], [1, 0], [10, 0], [10, 1], [5, 5]], dtype=float)
    # (10,1) is farthest from (0,0); then (5,5) from both; then (1,0) and (10,0) tie at 1: the first wins
    assert k_center_greedy(points, 3, selected=[0]) == [3, 4, 1]
    assert len(set(k_center_greedy(points, 5))) == 5
    assert sorted(k_center_greedy(points, 9, selected=[0, 1])) == [2, 3, 4]


def test_hybrid_takes_uncertain_candidates_then_spreads_them():
    scores = [0.9, 0.89, 0.88, 0.1, 0.87]
    emb = [[0, 0], [0.1, 0], [5, 5], [9, 9], [0, 0.1]]
    # candidates are the four most uncertain; the near-duplicates of image 0 are passed over
    assert hybrid(scores, emb, 2, candidates=4) == [0, 2]
    assert hybrid(scores, emb, 1) == [0]


def test_box_distribution_adds_no_object_and_scales_crowded_boxes():
    from core.active.uncertainty import box_distribution

    d = box_distribution([[0.3, 0.0], [0.5, 0.5], [0.9, 0.6]])
    assert d[0] == pytest.approx([0.3, 0.0, 0.7])
    assert d[1] == pytest.approx([0.5, 0.5, 0.0])
    assert d[2] == pytest.approx([0.6, 0.4, 0.0])
    assert box_distribution(np.zeros((0, 3))).shape == (0, 4)


def test_pools_and_their_messages(project):
    from core.active.scoring import ScoreOptions, pool, score_pool
    from core.errors import TesseraError

    with pytest.raises(TesseraError, match="pool 'unlabeled' is empty"):
        score_pool(project, 1, ScoreOptions("entropy"))
    with project.transaction() as c:
        for i in range(3):
            c.execute("INSERT INTO images(name, path, width, height, checksum, split) VALUES (?, ?, 8, 8, ?, ?)",
                      (f"im{i}.png", f"im{i}.png", f"c{i}", "val" if i else "train"))
    ids = [im.id for im in project.images.list()]
    assert pool(project) == ids and pool(project, "split=val") == ids[1:]
    assert pool(project, f"ids={ids[2]},{ids[0]}") == [ids[2], ids[0]] and pool(project, "names=im1.png") == [ids[1]]
    assert pool(project, "names=im[12].png,im0*") == [ids[1], ids[2], ids[0]]
    for bad, message in (("ids=99", "no image with id 99"), ("names=x.png", "no image named x.png"),
                         ("ids=a", "image ids separated by commas"), ("everything", "unknown --subset")):
        with pytest.raises(TesseraError, match=message):
            pool(project, bad)
    with pytest.raises(TesseraError, match="unknown scoring method"):
        ScoreOptions("random").check()
