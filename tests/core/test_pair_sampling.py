"""Pair sampling on hand-computed frames."""
import numpy as np
import pytest

from core.pipelines.pairs.sampling import (Frame, balance, candidate_pairs, group_pairs, group_sample_count, sample,
                                           stage2_class)


def _box(cx, w=100.0, y=100.0, h=200.0):
    return [cx - w / 2, y, cx + w / 2, y + h]


def _connected(members, pairs):
    parent = {m: m for m in members}

    def find(a):
        while parent[a] != a:
            a = parent[a]
        return a

    for a, b in pairs:
        parent[find(a)] = find(b)
    return len({find(m) for m in members}) == 1


def test_a_pair_across_the_seam_qualifies_the_same_distance_without_wrap_does_not():
    boxes = np.array([_box(50), _box(3710)])  # 3660 apart, 100 the short way round
    assert candidate_pairs(boxes, 3760).tolist() == [[0, 1]]
    assert candidate_pairs(boxes, 10000).tolist() == []


def test_distance_limit_at_the_boundary_and_the_larger_width():
    at = np.array([_box(100), _box(400)])  # 300 = 3 x 100: kept
    past = np.array([_box(100), _box(401)])
    assert candidate_pairs(at, 3760).tolist() == [[0, 1]]
    assert candidate_pairs(past, 3760).tolist() == []
    mixed = np.array([_box(100, w=100), _box(700, w=200)])  # 600 = 3 x the larger width
    assert candidate_pairs(mixed, 3760).tolist() == [[0, 1]]
    assert candidate_pairs(mixed, 3760, distance_multiplier=2.9).tolist() == []


@pytest.mark.parametrize("n, ratio, expected", [(6, 1.0, 6), (6, 0.5, 5), (2, 1.0, 1), (5, 2.0, 10), (4, 1.5, 6)])
def test_group_sampling_keeps_every_member_connected(n, ratio, expected):
    members = list(range(10, 10 + n))
    assert group_sample_count(n, ratio) == expected
    for seed in range(5):
        pairs = group_pairs(members, ratio, np.random.default_rng(seed))
        assert len(pairs) == len(set(pairs)) == expected and all(a < b for a, b in pairs)
        assert _connected(members, pairs)


def test_balance_ratio_holds():
    rng = np.random.default_rng(0)
    pos, neg = list(range(10)), list(range(100, 137))
    assert len(balance(pos, neg, 1.0, rng)) == 10
    assert len(balance(pos, neg, 2.0, rng)) == 20
    assert len(balance(pos, neg, 10.0, rng)) == 37
    assert len(balance(pos, neg, 0.25, rng)) == 2  # 2.5 rounds to 2 (to even)


def test_stage2_class_by_priority():
    classes = ["talking", "walking together", "looking"]
    assert stage2_class({"looking": 1, "talking": 1}, classes, other=False) == 0
    assert stage2_class({"looking": 1}, classes, other=False) == 2
    assert stage2_class({"hugging": 1}, classes, other=False) is None
    assert stage2_class({"hugging": 1}, classes, other=True) == 3


def test_sampling_report_on_a_frame():
    # persons 0-3 close together (a group of 0, 1, 2); 4 near 3; 5 far from everyone
    boxes = np.array([_box(100), _box(200), _box(300), _box(450), _box(650), _box(2000)])
    frame = Frame(image_id=1, width=3760, boxes=boxes,
                  interactions={(0, 1): {"talking": 1}, (1, 2): {"talking": 1}, (0, 2): {"looking": 1},
                                (3, 4): {"walking together": 1}, (0, 5): {"talking": 1}},
                  groups=[[0, 1, 2]])
    out = sample([frame], max_negatives_per_frame=100, stage1_balance_ratio=10.0, seed=3)
    r = out["report"]
    assert r["pairs_all"] == 15 and r["positives_all"] == 5
    assert r["positives_within_distance"] == 4  # (0, 5) is 1900 apart
    # the group of three keeps a cycle of 3 (all its pairs), plus (3, 4)
    assert r["positives_sampled"] == 4
    labels = {(i, j) for _, i, j, y in out["stage1"] if y == 1}
    assert labels == {(0, 1), (1, 2), (0, 2), (3, 4)}
    negatives = {(i, j) for _, i, j, y in out["stage1"] if y == 0}
    assert negatives and not negatives & labels and all(5 not in p for p in negatives)
    assert r["stage2_class_counts"]["talking"] == 2 and sum(r["stage2_class_counts"].values()) == 4
