"""Export of real (tiny) models of every pipeline: ONNX parity with PyTorch,
FP16 within its own tolerance, the package reproducing the PyTorch
predictions, the accuracy gate failing a broken package, and prediction
from a package with torch absent."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from core.jobs.runner import JobProcess, create_job
from core.project import Project

pytestmark = pytest.mark.slow
JOBS = {
    "segmentation": {"architecture": "unet", "encoder": "resnet18", "image_size": "64", "batch_size": "4",
                     "workers": "0", "epochs": "3", "learning_rate": "0.003"},
    "detection": {"image_size": "160", "batch_size": "8", "workers": "0", "close_mosaic": "1", "epochs": "3",
                  "learning_rate": "0.002"},
    "classification": {"architecture": "resnet18", "image_size": "48", "epochs": "2", "batch_size": "8",
                       "workers": "0"},
    "pairs-stage1": {"image_size": "32", "epochs": "1", "batch_size": "8", "workers": "0"},
}
TASK = {"segmentation": "segmentation", "detection": "detection", "classification": "classification",
        "pairs-stage1": "pairs"}


@pytest.fixture(scope="module")
def models(demo_small, module_tmp):
    """One trained model per pipeline in one demo project: {pipeline: model id}."""
    import shutil

    root = module_tmp / "p"
    shutil.copytree(demo_small, root)
    out = {}
    for pipeline, values in JOBS.items():
        with Project.open(root) as project:
            job_id = create_job(project, pipeline, dict(values))
        final = JobProcess(root, job_id).start().run()
        assert final.type == "completed", final.data
        out[pipeline] = int(final.get("model"))
    return root, out


@pytest.fixture(scope="module")
def packages(models, module_tmp):
    """Each model exported as ONNX + FP16 ONNX: {pipeline: ExportResult}."""
    from core.export.package import export_model

    root, ids = models
    out = {}
    with Project.open(root) as project:
        for pipeline, model_id in ids.items():
            out[pipeline] = export_model(project, model_id, "onnx-fp16",
                                         module_tmp / f"pkg-{pipeline}")
    return out


@pytest.fixture(scope="module")
def refined(models, module_tmp):
    """Each model exported with calibration, and with flip TTA where the task
    takes it: {pipeline: ExportResult}."""
    from core.export.package import export_model

    root, ids = models
    out = {}
    with Project.open(root) as project:
        for pipeline, model_id in ids.items():
            tta = "flip" if pipeline in ("segmentation", "detection") else None
            out[pipeline] = export_model(project, model_id, "onnx", module_tmp / f"refined-{pipeline}",
                                         tta=tta, calibration="per-class")
    return out


@pytest.mark.parametrize("pipeline", list(JOBS))
def test_onnx_matches_pytorch_and_fp16_stays_within_its_tolerance(models, packages, pipeline):
    result = packages[pipeline]
    report = result.report
    onnx, fp16 = report["formats"]["onnx"], report["formats"]["onnx-fp16"]
    assert report["task"] == TASK[pipeline] and onnx["parity_samples"] >= 1
    assert onnx["max_abs_difference"] < 1e-3, onnx
    assert abs(onnx["change"]) <= 0.001 and onnx["passed"]
    assert fp16["max_abs_difference"] < 0.5 and fp16["mean_abs_difference"] < 0.02, fp16
    assert abs(fp16["change"]) <= 0.01 and fp16["passed"]
    assert report["passed"] and "latency_ms" in report["pytorch"] and onnx["latency_ms"] > 0
    folder = result.folder
    card = json.loads((folder / "model.json").read_text())
    assert card["files"] == {"onnx": "model.onnx", "onnx-fp16": "model-fp16.onnx", "tensorrt": None}
    assert card["validation"]["passed"] and (folder / "validation.json").is_file()
    assert (folder / "labels.txt").read_text().splitlines() == [c["name"] for c in card["classes"]]
    assert result.archive.is_file() and not folder.with_name(folder.name + ".partial").exists()
    root, ids = models
    with Project.open(root) as project:
        record = project.exports.get(result.export_id)
        assert record.model_id == ids[pipeline] and record.passed and record.format == "onnx,onnx-fp16"


def _pixels(project, name):
    from core.imagery import open_image

    image = next(im for im in project.images.list() if im.name == name)
    with open_image(image.file(project.root)) as src:
        return image, src.read()


def test_detection_package_reproduces_pytorch_boxes(models, packages):
    from core.export.runtime import Predictor
    from core.pipelines.detection.infer import load_model, predict

    root, ids = models
    predictor = Predictor(packages["detection"].folder)
    with Project.open(root) as project:
        net, state = load_model(project.jobs.model(ids["detection"]).path)
        names = [im.name for im in project.images.list() if im.name.startswith("dive")][:4]
        compared = 0
        for name in names:
            _, pixels = _pixels(project, name)
            ref = predict(net, pixels, state["image_size"], conf=0.001)
            got = predictor.detect(pixels, conf=0.001)
            assert len(got["scores"]) == len(ref["scores"])
            assert np.allclose(got["boxes"], ref["boxes"], atol=0.05)
            assert np.allclose(got["scores"], ref["scores"], atol=1e-4)
            assert (got["classes"] == ref["classes"]).all()
            compared += len(ref["scores"])
        assert compared > 0


def test_segmentation_package_reproduces_pytorch_masks_at_any_size(models, packages):
    from core.export.runtime import Predictor
    from core.pipelines.segmentation.infer import load_model, predict

    root, ids = models
    predictor = Predictor(packages["segmentation"].folder)
    with Project.open(root) as project:
        net, _ = load_model(project.jobs.model(ids["segmentation"]).path)
        image = next(im for im in project.images.list() if project.masks.get(im.id) is not None)
        _, pixels = _pixels(project, image.name)
        for window in (pixels, pixels[:100, :150], pixels[7:40, 3:61]):  # the graph takes any height and width
            assert (predictor.segment(window) == predict(net, window)).mean() > 0.999


def test_classification_and_pair_packages_reproduce_pytorch(models, packages):
    from core.export.runtime import Predictor
    from core.pipelines.classification.infer import load_model as load_classifier
    from core.pipelines.classification.infer import predict_proba
    from core.pipelines.pairs.infer import load_model as load_pairs
    from core.pipelines.pairs.infer import predict_pairs

    root, ids = models
    with Project.open(root) as project:
        _, pixels = _pixels(project, next(im.name for im in project.images.list() if im.name.startswith("dive")))
        crops = [pixels[10:90, 20:140], pixels[200:260, 300:330], pixels]
        net, state = load_classifier(project.jobs.model(ids["classification"]).path)
        ref = predict_proba(net, crops, state["image_size"])
        got = Predictor(packages["classification"].folder).classify(crops)
        assert np.abs(got - ref).max() < 1e-4

        frame = next(im for im in project.images.list() if im.name.startswith("demo-corridor"))
        _, pano = _pixels(project, frame.name)
        boxes = np.array([a.bbox for a in project.annotations.for_image(frame.id) if a.kind == "box"])
        net, state = load_pairs(project.jobs.model(ids["pairs-stage1"]).path)
        ref = predict_pairs(net, state, pano, boxes)
        got = Predictor(packages["pairs-stage1"].folder).pairs(pano, boxes)
        assert len(got) == len(ref) > 0
        for a, b in zip(got, ref):
            assert (a["i"], a["j"]) == (b["i"], b["j"]) and abs(a["interaction"] - b["interaction"]) < 1e-4


def test_the_gate_fails_a_package_with_the_wrong_normalisation(models, packages, tmp_path):
    import shutil

    from core.export.card import read_card, write_card
    from core.export.validate import validate

    root, ids = models
    broken = tmp_path / "broken"
    shutil.copytree(packages["segmentation"].folder, broken)
    card = read_card(broken)
    card["preprocessing"]["mean"], card["preprocessing"]["std"] = [0.0, 0.0, 0.0], [1.0, 1.0, 1.0]
    write_card(broken, card)
    with Project.open(root) as project:
        report = validate(project, project.jobs.model(ids["segmentation"]), broken, ["onnx"])
    entry = report["formats"]["onnx"]
    assert not report["passed"] and not entry["passed"] and abs(entry["change"]) > 0.001, entry


def test_predict_from_a_package_runs_without_torch(models, packages, refined, tmp_path):
    root, _ = models
    with Project.open(root) as project:
        images = [str(im.file(project.root)) for im in project.images.list() if im.name.startswith("dive")][:2]
    code = ("import sys; sys.modules['torch'] = None\n"  # any import of torch now fails
            "from core.cli.main import main\n"
            "sys.exit(main())")
    for pipeline, package in (("detection", packages["detection"].archive), ("segmentation",
                              packages["segmentation"].archive), ("detection", refined["detection"].folder)):
        out = tmp_path / f"{pipeline}-{len(list(tmp_path.iterdir()))}"  # the last with TTA and calibration
        args = ["predict", "--package", str(package), *images, "--out", str(out), "--json"]
        done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                              cwd=Path(__file__).resolve().parents[2], env={**os.environ}, timeout=300)
        assert done.returncode == 0, done.stderr[-2000:]
        summary = json.loads(done.stdout)
        assert summary["images"] == 2 and not summary["errors"]
        doc = json.loads((out / "predictions.json").read_text())
        if pipeline == "detection":
            assert len(doc["images"]) == 2 and {c["name"] for c in doc["categories"]}
        else:
            assert len(list((out / "masks").glob("*.png"))) == 2


def test_tensorrt_export_states_why_and_still_delivers_onnx(models, tmp_path):
    from core.export.package import export_model
    from core.export.tensorrt import availability

    usable, why = availability()
    root, ids = models
    with Project.open(root) as project:
        result = export_model(project, ids["classification"], "tensorrt", tmp_path / "trt")
    if usable:
        assert result.card["files"]["tensorrt"] == "model.engine" and result.report["formats"]["tensorrt"]["passed"]
    else:
        assert result.card["files"]["tensorrt"] is None and result.card["files"]["onnx-fp16"]
        assert any(why in note for note in result.notes)
        assert set(result.report["formats"]) == {"onnx", "onnx-fp16"}


def test_export_refuses_a_folder_that_is_not_a_package(models, tmp_path):
    from core.errors import TesseraError
    from core.export.package import export_model

    root, ids = models
    (tmp_path / "notes.txt").write_text("mine")
    with Project.open(root) as project, pytest.raises(TesseraError, match="not an earlier deployment package"):
        export_model(project, ids["classification"], "onnx", tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


@pytest.mark.parametrize("pipeline", list(JOBS))
def test_tta_and_calibration_go_into_the_package_and_its_report(models, refined, pipeline):
    from core.export.runtime import Predictor

    root, ids = models
    result = refined[pipeline]
    card, report = result.card, result.report
    assert report["passed"]  # the gate judges the network alone: neither changes it
    cal = card["calibration"]
    assert cal["method"] == "temperature scaling"
    if cal["fit_samples"] == 0:  # a 3-epoch detector may find nothing to calibrate: said, and not applied
        assert pipeline == "detection" and not cal["applied"] and "finds nothing" in cal["note"]
        assert cal["temperature"] == [1.0] * len(card["classes"])
    else:
        assert cal["held_out_samples"] > 0 and 0 <= cal["ece_after"] <= 1 and 0 <= cal["ece_before"] <= 1
        assert cal["applied"] == (cal["ece_after"] < cal["ece_before"])
    assert report["calibration"]["ece_after"] == cal["ece_after"]
    predictor = Predictor(result.folder)
    assert np.allclose(predictor.temperature, cal["temperature"])
    if pipeline == "detection":
        assert len(cal["temperature"]) == len(card["classes"])
    with Project.open(root) as project:  # stored with the model as well
        assert project.jobs.model(ids[pipeline]).metrics["calibration"]["ece_after"] == cal["ece_after"]
    if pipeline in ("segmentation", "detection"):
        assert card["tta"]["kinds"] == ["flip"] and report["tta"]["views"] == ["identity", "flip"]
        metric = report["metric"]
        assert report["tta"]["without"] == report["formats"]["onnx"][metric]
        assert report["tta"]["change"] == pytest.approx(report["tta"][metric] - report["tta"]["without"], abs=1e-6)
        assert len(predictor.views) == 2
    else:
        assert card["tta"] is None and "tta" not in report


def test_tta_is_refused_for_a_classifier(models, tmp_path):
    from core.errors import TesseraError
    from core.export.package import export_model

    root, ids = models
    with Project.open(root) as project, pytest.raises(TesseraError, match="segmentation and detection"):
        export_model(project, ids["classification"], "onnx", tmp_path / "x", tta="flip")
    assert not (tmp_path / "x").exists()
