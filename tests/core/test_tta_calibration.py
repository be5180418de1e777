"""Test-time augmentation turns predictions back correctly; temperature
scaling makes an over-confident model honest."""
import numpy as np
import pytest

from core.errors import TesseraError
from core.export import tta
from core.export.calibrate import expected_calibration_error, fit_temperature, halves
from core.export.postprocess import detections, sigmoid, softmax


def _image_with_rectangle(height=50, width=80, box=(30, 10, 60, 20)):
    img = np.zeros((height, width, 3), np.uint8)
    x1, y1, x2, y2 = box
    img[y1:y2, x1:x2] = 255
    return img


@pytest.mark.parametrize("view", tta.views("all"), ids=lambda v: v.name())
def test_boxes_found_on_a_view_come_back_to_the_image(view):
    img = _image_with_rectangle()
    seen = tta.apply(view, img)
    ys, xs = np.nonzero(seen[..., 0] > 127)  # the rectangle as the view shows it
    found = np.array([[xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]], np.float32)
    back = tta.undo_boxes(view, found, 50, 80)
    assert np.allclose(back, [[30, 10, 60, 20]], atol=0.6), (view, back)


@pytest.mark.parametrize("view", tta.views("flip,rotate"), ids=lambda v: v.name())
def test_masks_predicted_on_a_view_come_back_exactly(view):
    rng = np.random.default_rng(1)
    scores = rng.random((3, 40, 70)).astype(np.float32)
    img = np.moveaxis(scores, 0, -1)
    seen = np.moveaxis(tta.apply(view, img), -1, 0)  # a "prediction" that is the view itself
    assert np.array_equal(tta.undo_map(view, seen, 40, 70), scores)


def test_scaled_views_come_back_to_the_image_grid():
    labels = np.zeros((40, 70), np.float32)
    labels[10:30, 20:50] = 1
    for view in tta.views("scale"):
        seen = tta.apply(view, labels[..., None].repeat(3, -1))
        assert seen.shape[:2] == tta.scaled_size(40, 70, view.scale)
        back = tta.undo_map(view, np.moveaxis(seen, -1, 0), 40, 70)[0]
        assert back.shape == (40, 70) and ((back > 0.5) == (labels > 0.5)).mean() > 0.98


def test_averaged_probabilities_of_a_flip_equivariant_predictor_equal_one_view():
    rng = np.random.default_rng(2)
    pixels = rng.integers(0, 255, (32, 48, 3), dtype=np.uint8)

    def predict(p):  # per-pixel: a function of the pixel alone, so it commutes with flips and turns
        z = p.astype(np.float32).transpose(2, 0, 1) / 255.0
        return softmax(z, 0)

    merged = tta.average_probabilities(predict, pixels, tta.views("flip,rotate"))
    assert np.allclose(merged, predict(pixels), atol=1e-6)


def test_fusion_merges_views_and_down_weights_a_box_seen_once():
    a = {"boxes": np.array([[10, 10, 50, 40]], np.float32), "scores": np.array([0.9]), "classes": np.array([0])}
    b = {"boxes": np.array([[12, 10, 52, 41], [100, 100, 120, 130]], np.float32), "scores": np.array([0.8, 0.6]),
         "classes": np.array([0, 1])}
    out = tta.fuse_detections([a, b], 200, 200, conf=0.01, max_det=10)
    assert len(out["scores"]) == 2
    assert np.allclose(out["boxes"][0], [11, 10, 51, 40.5], atol=0.6)  # score-weighted mean of the two
    assert out["scores"][0] == pytest.approx(0.85, abs=1e-3)
    assert out["classes"].tolist() == [0, 1] and out["scores"][1] == pytest.approx(0.3, abs=1e-3)


def test_tta_kinds_are_checked():
    assert tta.parse("rotate, flip") == ("flip", "rotate") and tta.parse("all") == tta.KINDS
    assert len(tta.views("all")) == 2 * 4 * 3 and tta.views("flip")[0].identity
    with pytest.raises(TesseraError, match="unknown test-time augmentation mirror"):
        tta.parse("flip,mirror")


def _overconfident(n=4000, k=4, sharpness=4.0, seed=0):
    """Logits whose softmax is far surer than the labels drawn from the
    true (soft) probabilities justify."""
    rng = np.random.default_rng(seed)
    true_logits = rng.normal(0, 1.0, (n, k))
    p = softmax(true_logits, 1).astype(np.float64)
    labels = np.array([rng.choice(k, p=row / row.sum()) for row in p])
    return true_logits * sharpness, labels


def test_temperature_scaling_lowers_the_ece_of_an_overconfident_model():
    logits, labels = _overconfident()
    (z_fit, z_held), (y_fit, y_held) = (logits[:2000], logits[2000:]), (labels[:2000], labels[2000:])
    t = fit_temperature(z_fit, y_fit, binary=False)
    assert 3.0 < t < 5.5  # the over-sharpening undone
    before = expected_calibration_error(softmax(z_held, 1), y_held, binary=False)
    after = expected_calibration_error(softmax(z_held, 1, t), y_held, binary=False)
    assert before > 0.2 and after < before / 3
    assert (softmax(z_held, 1, t).argmax(1) == z_held.argmax(1)).all()  # predictions unchanged


def test_temperature_scaling_of_sigmoid_scores():
    rng = np.random.default_rng(3)
    true = rng.normal(0, 1.5, 5000)
    labels = (rng.random(5000) < 1 / (1 + np.exp(-true))).astype(int)
    t = fit_temperature(true * 3, labels, binary=True)
    assert 2.4 < t < 3.6
    before = expected_calibration_error(sigmoid(true * 3), labels, binary=True)
    after = expected_calibration_error(sigmoid(true * 3, t), labels, binary=True)
    assert after < before / 2


def test_per_class_temperatures_rescale_detection_scores():
    raw = np.zeros((6, 3), np.float32)  # 2 classes, 3 anchors: cx cy w h s0 s1
    raw[:4] = [[10, 50, 90], [10, 50, 90], [8, 8, 8], [8, 8, 8]]
    raw[4:] = [[0.9, 0.2, 0.7], [0.1, 0.95, 0.2]]
    plain = detections(raw, 0.001, 0.7, 10)
    warmer = detections(raw, 0.001, 0.7, 10, temperature=np.array([2.0, 1.0]))
    by_class = {c: s for c, s in zip(warmer["classes"], warmer["scores"])}
    assert len(plain["scores"]) == len(warmer["scores"]) == 3
    assert by_class[1] == pytest.approx(0.95, abs=1e-5)  # class 1 untouched
    assert sorted(warmer["scores"][warmer["classes"] == 0]) == pytest.approx(
        sorted(sigmoid(np.log(np.array([0.9, 0.7]) / np.array([0.1, 0.3])), 2.0)), abs=1e-5)


def test_halves_hold_out_every_other_item():
    assert halves([1, 2, 3, 4, 5]) == ([1, 3, 5], [2, 4]) and halves([7]) == ([7], [7])
