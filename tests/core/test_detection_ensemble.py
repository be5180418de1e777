"""The detection ensemble preset: three variants trained in one job and one
model fusing them, which predicts and evaluates like any detection model."""
import numpy as np
import pytest

from core.jobs.runner import JobProcess, create_job
from core.project import Project

pytestmark = pytest.mark.slow
TINY = {"architecture": "yolov8n", "image_size": "160", "batch_size": "8", "workers": "0", "close_mosaic": "1",
        "variant_epochs": "2", "learning_rate": "0.002"}


@pytest.fixture(scope="module")
def ensemble(module_tmp):
    from core.demo import build_demo

    project, _ = build_demo(module_tmp / "p", "detection")
    job_id = create_job(project, "detection-ensemble", dict(TINY))
    root = project.root
    project.close()
    events = []
    final = JobProcess(root, job_id).start().run(events.append)
    return root, job_id, final, events


def test_three_variants_train_in_turn_and_register_one_fused_model(ensemble):
    from core.pipelines.detection.ensemble import Ensemble, VARIANTS
    from core.pipelines.detection.infer import load_model

    root, job_id, final, events = ensemble
    assert final.type == "completed", final.data
    assert [e.type for e in events].count("epoch") == 6
    with Project.open(root) as project:
        assert sorted(project.jobs.history(job_id)) == [1, 2, 3, 4, 5, 6]
        model = project.jobs.model(int(final.get("model")))
        assert model.pipeline == "detection" and model.architecture == "ensemble of 3 yolov8n"
        for variant, _, _ in VARIANTS:  # the ensemble and each member measured on the validation images
            assert 0 <= model.metrics[f"{variant}_val_map50_95"] <= 1
        assert 0 <= model.metrics["val_map50_95"] <= 1
        net, state = load_model(model.path)
    assert isinstance(net, Ensemble) and len(net.nets) == 3
    assert [(m["variant"], m["confidence"], m["augmentation"]) for m in state["members"]] == list(VARIANTS)
    assert [m["state"]["augmentation"] for m in state["members"]] == ["heavy", "medium", "light"]
    assert net.confidences == [0.15, 0.25, 0.4]


def test_the_ensemble_fuses_its_members_boxes(ensemble):
    from core.export.tta import fuse_detections
    from core.imagery.reader import open_image
    from core.pipelines.detection.infer import predict, load_model

    root, _, final, _ = ensemble
    with Project.open(root) as project:
        net, state = load_model(project.jobs.model(int(final.get("model"))).path)
        image = next(im for im in project.images.list() if project.annotations.for_image(im.id))
        with open_image(image.file(project.root)) as src:
            pixels = src.read()
    fused = predict(net, pixels, state["image_size"], conf=0.001)
    members = [predict(m, pixels, s["image_size"], conf=0.001) for m, s in zip(net.nets, net.states)]
    expected = fuse_detections(members, *pixels.shape[:2], 0.001, 300, net.fusion_iou)
    assert len(fused["scores"]) == len(expected["scores"]) > 0
    assert np.allclose(fused["boxes"], expected["boxes"]) and np.allclose(fused["scores"], expected["scores"])
    # a box one member alone finds keeps a third of its score: the fused scores never exceed the members' best
    assert fused["scores"].max() <= max(m["scores"].max() for m in members if len(m["scores"])) + 1e-6
    working = predict(net, pixels, state["image_size"], conf=None)  # each member at its own confidence
    assert len(working["scores"]) <= len(fused["scores"])


def test_the_ensemble_evaluates_like_any_model(ensemble):
    from core.evaluate import evaluate_model

    root, _, final, _ = ensemble
    with Project.open(root) as project:
        model = project.jobs.model(int(final.get("model")))
        result = evaluate_model(project, model.id)
    assert result["map50_95"] == pytest.approx(model.metrics["val_map50_95"], abs=1e-6)
    from core.evaluate.efficiency import count_parameters
    from core.pipelines.detection.infer import load_model

    net, _ = load_model(model.path)
    assert result["efficiency"]["parameters"] == 3 * count_parameters(net.nets[0]) > 0  # it costs three models


def test_the_ensemble_exports_and_its_package_fuses_as_pytorch_does(ensemble, tmp_path):
    from core.export.package import export_model
    from core.export.runtime import Predictor
    from core.imagery.reader import open_image
    from core.pipelines.detection.infer import load_model, predict

    root, _, final, _ = ensemble
    with Project.open(root) as project:
        model = project.jobs.model(int(final.get("model")))
        result = export_model(project, model.id, "onnx-fp16", tmp_path / "pkg")
        net, state = load_model(model.path)
        image = next(im for im in project.images.list() if project.annotations.for_image(im.id))
        with open_image(image.file(project.root)) as src:
            pixels = src.read()
    assert result.report["passed"], result.report
    members = result.card["ensemble"]["members"]
    assert [(m["variant"], m["confidence"]) for m in members] == [("recall", 0.15), ("balanced", 0.25),
                                                                  ("precision", 0.4)]
    for m in members:
        assert (result.folder / m["folder"] / "model.onnx").is_file()
        assert (result.folder / m["folder"] / "model-fp16.onnx").is_file()
    assert result.card["thresholds"]["confidence"] == 0.15
    assert result.report["formats"]["onnx"]["max_abs_difference"] < 1e-2
    predictor = Predictor(result.folder)
    for conf in (0.001, None):
        ref = predict(net, pixels, state["image_size"], conf=conf)
        got = predictor.detect(pixels, conf=conf)
        assert len(got["scores"]) == len(ref["scores"])
        assert np.allclose(got["boxes"], ref["boxes"], atol=0.1) and np.allclose(got["scores"], ref["scores"], atol=1e-3)


def test_a_job_cannot_start_from_an_ensemble(ensemble):
    from core.errors import TesseraError

    root, _, final, _ = ensemble
    with Project.open(root) as project, pytest.raises(TesseraError, match="is an ensemble"):
        create_job(project, "detection", {"image_size": "160"}, int(final.get("model")))
