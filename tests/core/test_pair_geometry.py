"""Pair geometry, crops round the seam, epoch sampling and stage-2 balancing, computed by hand."""
import numpy as np
import pytest

from core.pipelines.pairs.geometry import FEATURES, pair_features, signed_dx, union_boxes, wrapped_dx
from core.pipelines.pairs.sampling import Frame, class_balance, evaluation_pairs

W = 3760


def test_offsets_go_the_short_way_round_the_seam():
    assert signed_dx(3740, 20, W) == pytest.approx(40)
    assert signed_dx(20, 3740, W) == pytest.approx(-40)
    assert wrapped_dx(100, 400, W) == pytest.approx(300)
    assert wrapped_dx(3790, 20, W) == pytest.approx(10)  # a centre stored past the right edge


def test_union_box_of_a_pair_across_the_seam_runs_past_the_edge():
    a, b = [3700, 100, 3750, 300], [10, 120, 60, 320]
    assert union_boxes([a], [b], W)[0].tolist() == [3700, 100, 3820, 320]
    assert union_boxes([b], [a], W)[0].tolist() == [-60, 100, 60, 320]
    assert union_boxes([[100, 0, 150, 10]], [[300, 5, 320, 30]], W)[0].tolist() == [100, 0, 320, 30]


def test_pair_features_do_not_depend_on_order_and_see_the_seam():
    a, b = np.array([[3700, 100, 3750, 300]]), np.array([[10, 120, 70, 320]])
    f_ab, f_ba = pair_features(a, b, W, 480), pair_features(b, a, W, 480)
    assert f_ab.shape == (1, len(FEATURES))
    assert np.allclose(f_ab, f_ba)
    named = dict(zip(FEATURES, f_ab[0]))
    assert named["offset_over_width"] == pytest.approx(75 / 60)  # centres 3725 and 40: 35 + 40 px the short way
    assert named["across_seam"] == 1.0
    assert named["overlap_iou"] == 0.0
    same = pair_features(a, a, W, 480)[0]
    assert dict(zip(FEATURES, same))["overlap_iou"] == pytest.approx(1.0)


def test_a_window_past_the_edge_continues_from_the_other_side():
    from core.pipelines.pairs.geometry import wrapped_window

    pixels = np.arange(10 * 20).reshape(10, 20)[..., None].repeat(3, 2)
    window = wrapped_window(pixels, 17, 2, 23, 5)
    assert window.shape == (3, 6, 3)
    assert window[0, :, 0].tolist() == [57, 58, 59, 40, 41, 42]
    assert wrapped_window(pixels, -2, 0, 1, 1)[0, :, 0].tolist() == [18, 19, 0]


def _frames():
    boxes = np.array([[0, 0, 50, 200], [60, 0, 110, 200], [120, 0, 170, 200], [200, 0, 250, 200],
                      [260, 0, 310, 200], [1500, 0, 1550, 200]], dtype=float)
    inter = {(0, 1): {"walking": 1}, (1, 2): {"walking": 1}, (0, 2): {"walking": 1},
             (3, 4): {"talking": 1}}
    return [Frame(1, W, boxes, inter, [[0, 1, 2]], 480)]


def test_epoch_sampler_draws_afresh_each_epoch_with_a_fixed_length():
    torch = pytest.importorskip("torch")  # noqa: F841
    from core.pipelines.pairs.data import EpochPairs

    cfg = {"seed": 3, "distance_multiplier": 3.0, "use_group_sampling": True, "max_group_samples_ratio": 0.5,
           "max_negatives_per_frame": 5, "stage1_balance_ratio": 1.0}
    sampler = EpochPairs(_frames() * 4, cfg, 1, ["walking", "talking"], False)
    draws = []
    for epoch in range(4):
        sampler.set_epoch(epoch)
        draws.append(list(sampler))
        assert len(sampler) == len(draws[-1])
    assert len({len(d) for d in draws}) == 1
    assert len({tuple(d) for d in draws}) > 1  # pairs and order change between epochs
    sampler.set_epoch(2)
    assert list(sampler) == draws[2]  # a resumed job draws what it would have drawn


def test_stage2_balancing_strategies():
    rng = np.random.default_rng(0)
    samples = [(0, i, i + 1, 0) for i in range(6)] + [(0, i, i + 1, 1) for i in range(2)]
    over = class_balance(samples, "oversample", rng)
    assert sorted(np.bincount([s[3] for s in over])) == [6, 6]
    assert set(samples) <= set(over)  # every sample at least once
    under = class_balance(samples, "undersample", rng)
    assert sorted(np.bincount([s[3] for s in under])) == [2, 2]
    assert class_balance(samples, "none", rng) == samples


def test_evaluation_pairs_are_every_candidate_within_the_limit():
    frames = _frames()
    stage1 = evaluation_pairs(frames, 3.0, 1)
    assert (0, 1500) not in {(s[1], s[2]) for s in stage1}
    assert {(s[1], s[2]): s[3] for s in stage1}[(0, 1)] == 1
    assert {(s[1], s[2]): s[3] for s in stage1}[(2, 3)] == 0
    stage2 = evaluation_pairs(frames, 3.0, 2, ["talking", "walking"])
    assert sorted((s[1], s[2], s[3]) for s in stage2) == [(0, 1, 1), (0, 2, 1), (1, 2, 1), (3, 4, 0)]


def test_further_best_checkpoints_follow_their_own_metric(tmp_path):
    from core.jobs.checkpoints import CheckpointPolicy

    policy = CheckpointPolicy(tmp_path, save_every=100, keep_last=1, mode="max")
    policy.track("best_loss", "val_loss", "min")
    written = []
    for epoch, (f1, loss) in enumerate([(0.5, 1.0), (0.7, 1.2), (0.6, 0.8)], start=1):
        written.append(policy.after_epoch(epoch, f1, lambda p, e=epoch: p.write_text(str(e)),
                                          {"val_f1": f1, "val_loss": loss}))
    assert written == [["last", "best", "best_loss"], ["last", "best"], ["last", "best_loss"]]
    assert policy.path("best").read_text() == "2" and policy.path("best_loss").read_text() == "3"
