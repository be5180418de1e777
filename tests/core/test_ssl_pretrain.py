"""Self-supervised pre-training (MoCo v3): the parts measured on their own,
then a short real pre-training on the small demo images on CPU whose
backbone starts segmentation, classification, pair and detection training."""
import math

import pytest
import torch

from core.errors import TesseraError
from core.jobs.checkpoints import load_checkpoint
from core.jobs.runner import JobProcess, create_job
from core.pipelines import get_pipeline
from core.project import Project

TINY = {"image_size": "64", "batch_size": "16", "workers": "0", "mlp_dim": "256", "out_dim": "64",
        "warmup_epochs": "0", "learning_rate": "0.002", "knn_samples": "200"}


# -- the parts ----------------------------------------------------------------
def test_momentum_rises_from_its_base_to_one_on_a_cosine():
    from core.pipelines.ssl.moco import momentum_at

    values = [momentum_at(s, 100, 0.99) for s in range(0, 101, 10)]
    assert values[0] == pytest.approx(0.99) and values[-1] == pytest.approx(1.0)
    assert all(b > a for a, b in zip(values, values[1:]))
    assert momentum_at(50, 100, 0.99) == pytest.approx(0.995)


def test_contrastive_loss_is_low_for_matching_views_and_chance_for_random_ones():
    from core.pipelines.ssl.moco import contrastive_loss

    torch.manual_seed(0)
    q = torch.randn(64, 256)
    t = 0.1  # at 0.1 a matching view's logit (10) dwarfs 63 near-orthogonal negatives
    chance = contrastive_loss(q, torch.randn(64, 256), t).item()
    assert chance == pytest.approx(2 * t * math.log(64), rel=0.2)
    assert contrastive_loss(q, q, t).item() < 0.01 * chance
    # keys of two devices: this device's positives are the second half
    both = torch.cat([torch.randn(64, 256), q])
    assert contrastive_loss(q, both, t, rank=1).item() < 0.01 * chance
    assert contrastive_loss(q, both, t, rank=0).item() > 0.5 * chance


def test_knn_accuracy_on_separated_and_on_mixed_features():
    from core.pipelines.ssl.moco import knn_accuracy

    torch.manual_seed(0)
    centres = torch.eye(4, 16) * 10
    labels = torch.arange(4).repeat_interleave(25)
    feats = centres[labels] + torch.randn(100, 16)
    assert knn_accuracy(feats[::2], labels[::2], feats[1::2], labels[1::2], k=5) == 1.0
    assert knn_accuracy(feats, labels, feats, labels, k=5, leave_one_out=True) == 1.0
    noise = torch.randn(100, 16)
    assert knn_accuracy(noise[::2], labels[::2], noise[1::2], labels[1::2], k=5) < 0.6


@pytest.mark.parametrize("architecture,encoder", [("resnet18", "resnet18"), ("convnext_atto", "tu-convnext_atto")])
def test_a_backbone_loads_by_name_into_the_segmentation_encoder(architecture, encoder):
    from core.pipelines.segmentation.module import build_network
    from core.pipelines.ssl.encoders import FORMAT, build_backbone, load_backbone

    backbone = build_backbone(architecture)
    state = {"format": FORMAT, "architecture": architecture, "state_dict": backbone.weights()}
    net = build_network("unet", encoder, 3)
    count = load_backbone(net.encoder, state, "backbone model 1")
    assert count >= len(state["state_dict"]) - 2  # all but timm's head norm, which an encoder lacks
    first = next(iter(state["state_dict"]))
    loaded = {k.replace("_", "."): v for k, v in net.encoder.state_dict().items()}
    assert torch.equal(loaded[("model." if encoder.startswith("tu-") else "") + first], state["state_dict"][first])


def test_a_backbone_loads_into_a_classifier_a_pair_model_and_a_yolo_detector():
    from ultralytics.nn.tasks import DetectionModel

    from core.pipelines.classification.module import build_network
    from core.pipelines.pairs.model import PairNet
    from core.pipelines.ssl.encoders import FORMAT, build_backbone, load_backbone

    resnet = build_backbone("resnet18")
    state = {"format": FORMAT, "architecture": "resnet18", "state_dict": resnet.weights()}
    assert load_backbone(build_network("resnet18", 5), state, "b") == len(state["state_dict"])
    assert load_backbone(PairNet("resnet18", 3).backbone, state, "b") == len(state["state_dict"])
    yolo = build_backbone("yolov8n")
    assert yolo(torch.zeros(2, 3, 64, 64)).shape == (2, yolo.dim)
    state = {"format": FORMAT, "architecture": "yolov8n", "state_dict": yolo.weights()}
    detector = DetectionModel("yolov8n.yaml", nc=4, verbose=False)
    assert load_backbone(detector, state, "b") == len(state["state_dict"])
    key = next(k for k in state["state_dict"] if k.endswith("conv.weight"))
    assert torch.equal(detector.state_dict()[key], state["state_dict"][key])


def test_a_backbone_of_another_architecture_is_refused_naming_the_mismatch():
    from core.pipelines.segmentation.module import build_network
    from core.pipelines.ssl.encoders import FORMAT, build_backbone, load_backbone

    state = {"format": FORMAT, "architecture": "resnet50", "state_dict": build_backbone("resnet50").weights()}
    with pytest.raises(TesseraError, match=r"backbone model 7 \(resnet50\) does not fit this network: .*no counterpart.*differ in shape"):
        load_backbone(build_network("unet", "resnet18", 3).encoder, state, "backbone model 7")


def test_jobs_name_a_fitting_backbone_or_are_refused_before_they_start(demo_copy, tmp_path):
    project = demo_copy
    bid = project.jobs.register_model(None, "ssl-pretrain", str(tmp_path / "b.ckpt"), "resnet18", [], {},
                                      kind="backbone")
    spec = get_pipeline("ssl-pretrain")
    assert spec.model_kind == "backbone" and spec.task == "backbone"
    for pipeline in ("segmentation", "classification", "pairs-stage1", "detection"):
        assert "encoder_from" in {p.name for p in get_pipeline(pipeline).params}
    with pytest.raises(TesseraError, match=f"backbone model {bid} is a resnet18; this job's network needs a "
                                           "convnext_atto backbone"):
        create_job(project, "segmentation", {"encoder": "tu-convnext_atto", "encoder_from": bid})
    with pytest.raises(TesseraError, match="encoder efficientnet-b0 has no pre-trained backbone counterpart"):
        create_job(project, "segmentation", {"encoder": "efficientnet-b0", "encoder_from": bid})
    with pytest.raises(TesseraError, match="needs a yolov8n backbone"):
        create_job(project, "detection", {"encoder_from": bid})
    with pytest.raises(TesseraError, match=f"model {bid} is a pre-trained backbone: .*encoder_from={bid}"):
        create_job(project, "segmentation", {"from_model": bid})
    with pytest.raises(TesseraError, match="set encoder_from or weights_file, not both"):
        create_job(project, "classification", {"architecture": "resnet18", "encoder_from": bid,
                                               "weights_file": "w.pt"})
    other = project.jobs.register_model(None, "segmentation", str(tmp_path / "s.ckpt"), "unet/resnet18", [], {})
    with pytest.raises(TesseraError, match=f"model {other} is a segmentation model, not a pre-trained backbone"):
        create_job(project, "segmentation", {"encoder": "resnet18", "encoder_from": other})
    job = create_job(project, "segmentation", {"encoder": "resnet18", "encoder_from": bid})
    assert project.jobs.get(job).config["encoder_from"] == bid
    for refuse in ("predict", "export"):
        with pytest.raises(TesseraError, match=f"model {bid} is a pre-trained backbone"):
            if refuse == "predict":
                from core.predict import predict_image
                predict_image(project, bid, project.images.list()[0].id)
            else:
                from core.export.package import export_model
                export_model(project, bid, tmp_path / "out")


def test_pretraining_images_are_chosen_and_large_images_give_more_windows(demo_copy):
    with pytest.raises(TesseraError, match="no image named nothing"):
        create_job(demo_copy, "ssl-pretrain", {**TINY, "images": "names=nothing*"})
    job = create_job(demo_copy, "ssl-pretrain", {**TINY, "images": "all", "window": "512"})
    snap = demo_copy.jobs.get(job).config["snapshot"]
    windows = {i: n for i, _, _, n in snap["images"]}
    large = next(im for im in demo_copy.images.list() if im.name == "large.tif")
    assert len(windows) == len(demo_copy.images.list()) and windows[large.id] > 1
    assert max(n for i, n in windows.items() if i != large.id) < windows[large.id]
    assert snap["knn"]["val"] and snap["knn"]["train"]  # labelled crops for the k-NN probe


# -- real pre-training (slow) ----------------------------------------------------
def _run(root, pipeline, values):
    with Project.open(root) as project:
        job_id = create_job(project, pipeline, values)
    final = JobProcess(root, job_id).start().run()
    assert final.type == "completed", final.data
    return job_id, final.get("model")


def _log(root, job_id) -> str:
    return (root / "runs" / f"job-{job_id:04d}" / "worker.log").read_text()


@pytest.fixture(scope="module")
def pretrained(module_tmp):
    from core.demo import build_demo

    project, _ = build_demo(module_tmp / "p", "all", "small")
    project.close()
    job_id, model_id = _run(project.root, "ssl-pretrain", {**TINY, "epochs": "6"})
    return project.root, job_id, model_id


@pytest.mark.slow
def test_pretraining_lowers_the_loss_and_registers_a_backbone(pretrained):
    root, job_id, model_id = pretrained
    with Project.open(root) as project:
        history = project.jobs.history(job_id)
        assert list(history) == [1, 2, 3, 4, 5, 6]
        assert min(history[5]["train_loss"], history[6]["train_loss"]) < history[1]["train_loss"] - 0.05
        assert all("val_knn_accuracy" in m and 0 <= m["val_knn_accuracy"] <= 1 for m in history.values())
        assert history[6]["momentum"] > history[1]["momentum"] >= 0.99
        model = project.jobs.model(model_id)
        assert (model.kind, model.pipeline, model.architecture) == ("backbone", "ssl-pretrain", "resnet18")
        state = load_checkpoint(model.path)
        assert state["format"] == "tessera-backbone-v1" and state["feature_dim"] == 512
        assert "conv1.weight" in state["state_dict"] and not any(k.startswith("fc.") for k in state["state_dict"])


@pytest.mark.slow
@pytest.mark.parametrize("pipeline,values", [
    ("segmentation", {"architecture": "unet", "encoder": "resnet18"}),
    ("classification", {"architecture": "resnet18"}),
    ("pairs-stage1", {"architecture": "resnet18", "image_size": "32"}),
])
def test_each_pipeline_starts_from_the_backbone(pretrained, pipeline, values):
    root, _, backbone = pretrained
    job_id, _ = _run(root, pipeline, {"image_size": "64", "epochs": "1", "workers": "0", "batch_size": "8",
                                      **values, "encoder_from": str(backbone)})
    assert f"started the resnet18 backbone from model {backbone}" in _log(root, job_id)


@pytest.mark.slow
def test_a_yolo_backbone_starts_a_detector(pretrained):
    root = pretrained[0]
    _, backbone = _run(root, "ssl-pretrain", {**TINY, "architecture": "yolov8n", "epochs": "1", "knn_samples": "0"})
    job_id, _ = _run(root, "detection", {"image_size": "64", "epochs": "1", "workers": "0", "batch_size": "8",
                                         "encoder_from": str(backbone)})
    log = _log(root, job_id)
    assert f"started the yolov8n backbone from model {backbone}" in log
    assert "Transferred" in log  # ultralytics took the start weights


@pytest.mark.slow
def test_pretraining_stops_and_resumes(pretrained):
    root = pretrained[0]
    with Project.open(root) as project:
        job_id = create_job(project, "ssl-pretrain", {**TINY, "epochs": "3", "knn_samples": "0"})
    proc = JobProcess(root, job_id).start()
    for event in proc.events():
        if event.type == "epoch":
            proc.stop()
    with Project.open(root) as project:
        job = project.jobs.get(job_id)
        assert job.state == "stopped" and job.epoch < 3
    final = JobProcess(root, job_id, resume=True).start().run()
    assert final.type == "completed", final.data
    with Project.open(root) as project:
        assert list(project.jobs.history(job_id)) == [1, 2, 3]
        assert project.jobs.model(final.get("model")).kind == "backbone"
