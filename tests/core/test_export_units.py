"""The package runtime's numpy parts against the torch code they reproduce,
on hand-made cases (fast; no trained model)."""
import json
import zipfile

import numpy as np
import pytest

from core.export import postprocess as post
from core.export import preprocess as pre


def test_resize_matches_torch_bilinear():
    import torch
    import torch.nn.functional as F

    rng = np.random.default_rng(0)
    for h, w, oh, ow in [(37, 53, 48, 48), (200, 90, 64, 64), (5, 7, 32, 16)]:
        img = rng.random((h, w, 3)).astype(np.float32)
        ref = F.interpolate(torch.from_numpy(img).permute(2, 0, 1)[None], size=(oh, ow), mode="bilinear",
                            align_corners=False)[0].permute(1, 2, 0).numpy()
        assert np.abs(pre.resize_bilinear(img, oh, ow) - ref).max() < 1e-5


def test_padded_input_matches_the_segmentation_pipeline():
    import torch.nn.functional as F

    from core.pipelines.segmentation.infer import to_tensor

    pixels = np.random.default_rng(1).integers(0, 255, (70, 45, 3), dtype=np.uint8)
    x = to_tensor(pixels)[None]
    ref = F.pad(x, (0, 64 - 45, 0, 96 - 70), mode="reflect")[0].numpy()
    out = pre.padded_input(pixels)
    assert out.shape == (3, 96, 64) and np.abs(out - ref).max() < 1e-5


def test_nms_matches_ultralytics():
    import torch
    from ultralytics.utils.nms import non_max_suppression

    rng = np.random.default_rng(2)
    n, k = 400, 3
    centres = rng.uniform(20, 140, (2, n))
    sizes = rng.uniform(5, 40, (2, n))
    raw = np.concatenate([centres, sizes, rng.random((k, n)) ** 3]).astype(np.float32)
    ref = non_max_suppression(torch.from_numpy(raw)[None], conf_thres=0.05, iou_thres=0.6, max_det=50)[0].numpy()
    ours = post.detections(raw, 0.05, 0.6, 50)
    assert len(ours["scores"]) == len(ref) > 5
    assert np.allclose(ours["boxes"], ref[:, :4], atol=1e-4)
    assert np.allclose(ours["scores"], ref[:, 4]) and (ours["classes"] == ref[:, 5]).all()


def test_tiles_cover_the_image_and_stay_inside():
    for h, w, tile, overlap in [(100, 100, 256, 32), (1000, 700, 256, 32), (513, 257, 256, 64)]:
        seen = np.zeros((h, w), int)
        for x, y, tw, th in pre.tiles(h, w, tile, overlap):
            assert 0 <= x and x + tw <= w and 0 <= y and y + th <= h and tw <= tile and th <= tile
            seen[y:y + th, x:x + tw] += 1
        assert seen.min() >= 1


def _argmax_package(folder, tile: int, overlap: int):
    """A hand-made segmentation package: a 1x1 convolution whose class scores
    are the image's three (normalised) channels, so its labels are known."""
    import onnx
    from onnx import TensorProto, helper

    from core.export.card import CARD_FORMAT, write_card

    weight = helper.make_tensor("w", TensorProto.FLOAT, [3, 3, 1, 1], np.eye(3, dtype=np.float32).ravel())
    graph = helper.make_graph([helper.make_node("Conv", ["images", "w"], ["logits"])], "argmax",
                              [helper.make_tensor_value_info("images", TensorProto.FLOAT, ["b", 3, "h", "w"])],
                              [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["b", 3, "h", "w"])],
                              [weight])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 9
    folder.mkdir(parents=True, exist_ok=True)
    onnx.save(model, folder / "model.onnx")
    write_card(folder, {"format": CARD_FORMAT, "task": "segmentation",
                        "classes": [{"name": n, "color": c} for n, c in
                                    [("red", "#ff0000"), ("green", "#00ff00"), ("blue", "#0000ff")]],
                        "input": {"names": ["images"], "height": None, "width": None}, "outputs": ["logits"],
                        "preprocessing": {"resize": "pad", "stride": 32, "size": 64, "mean": [0, 0, 0],
                                          "std": [1, 1, 1]},
                        "tiling": {"tile": tile, "overlap": overlap},
                        "files": {"onnx": "model.onnx", "onnx-fp16": None, "tensorrt": None}})
    return folder


def test_tiled_segmentation_stitches_to_the_whole_image_result(tmp_path):
    from core.export.runtime import Predictor

    pixels = np.random.default_rng(3).integers(0, 255, (300, 410, 3), dtype=np.uint8)
    truth = pixels.argmax(2)
    whole = Predictor(_argmax_package(tmp_path / "whole", 1024, 0)).segment(pixels)
    tiled = Predictor(_argmax_package(tmp_path / "tiled", 128, 32)).segment(pixels)
    assert (whole == truth).all() and (tiled == truth).all()


def test_predict_files_writes_palette_masks(tmp_path):
    from PIL import Image

    from core.export.predict_files import predict_files

    folder = _argmax_package(tmp_path / "pkg", 128, 32)
    pixels = np.zeros((90, 120, 3), np.uint8)
    pixels[:, 60:, 2] = 200  # right half blue
    pixels[:, :60, 0] = 200  # left half red
    Image.fromarray(pixels).save(tmp_path / "a.png")
    (tmp_path / "broken.jpg").write_bytes(b"not an image")
    summary = predict_files(folder, [tmp_path / "a.png", tmp_path / "broken.jpg"], tmp_path / "out")
    assert summary["images"] == 1 and len(summary["errors"]) == 1 and "broken.jpg" in summary["errors"][0]
    mask = Image.open(tmp_path / "out" / "masks" / "a.png")
    assert mask.mode == "P" and mask.getpalette()[:9] == [255, 0, 0, 0, 255, 0, 0, 0, 255]
    labels = np.asarray(mask)
    assert (labels[:, :60] == 0).all() and (labels[:, 60:] == 2).all()
    doc = json.loads((tmp_path / "out" / "predictions.json").read_text())
    assert doc["images"][0]["pixels"] == {"red": 90 * 60, "green": 0, "blue": 90 * 60}


def test_a_package_zip_that_writes_outside_its_folder_is_refused(tmp_path):
    from core.export.card import PackageError, open_package

    bad = tmp_path / "evil.zip"
    with zipfile.ZipFile(bad, "w") as zf:
        zf.writestr("pkg/model.json", "{}")
        zf.writestr("../outside.txt", "x")
    with pytest.raises(PackageError, match="outside the folder"):
        open_package(bad)
    assert not (tmp_path.parent / "outside.txt").exists()


def test_a_folder_without_model_json_is_not_a_package(tmp_path):
    from core.export.card import PackageError, read_card

    with pytest.raises(PackageError, match="no model.json"):
        read_card(tmp_path)
    (tmp_path / "model.json").write_text('{"format": "tessera-deploy-v1"}')
    with pytest.raises(PackageError, match="missing task"):
        read_card(tmp_path)


def test_tensorrt_reports_why_it_is_unavailable():
    from core.export.tensorrt import availability

    usable, why = availability()
    if usable:
        pytest.skip(f"TensorRT is present here: {why}")
    assert why.startswith("TensorRT") and ("not installed" in why or "no CUDA device" in why)
