"""Real (tiny) YOLO training on the demo underwater set, on CPU."""
import pytest

from core.jobs.checkpoints import load_checkpoint
from core.jobs.runner import JobProcess, create_job
from core.project import Project

pytestmark = pytest.mark.slow
TINY = {"image_size": "160", "batch_size": "8", "workers": "0", "close_mosaic": "3", "learning_rate": "0.002"}


@pytest.fixture(scope="module")
def det_project(tmp_path_factory):
    from core.demo import build_demo

    project, _ = build_demo(tmp_path_factory.mktemp("det") / "p", "detection")
    project.close()
    return project.root


def test_detection_trains_registers_and_oversamples_critical_images(det_project):
    import torch

    from core.pipelines.detection.train import build_model

    with Project.open(det_project) as project:
        job_id = create_job(project, "detection", {**TINY, "epochs": "12"})
    final = JobProcess(det_project, job_id).start().run()
    assert final.type == "completed", final.data
    with Project.open(det_project) as project:
        history = project.jobs.history(job_id)
        assert list(history) == list(range(1, 13))
        # From scratch, YOLO's training loss first rises while its assigner starts
        # matching boxes to predictions; after that peak it must come down, and the
        # validation loss must fall over the run.
        train = [history[e]["train_loss"] for e in history]
        assert sum(train[-3:]) / 3 < max(train)
        assert history[12]["val_loss"] < history[1]["val_loss"]
        assert {"val_map50", "val_map50_95", "val_precision", "val_recall", "train_box_loss"} <= set(history[12])
        model = project.jobs.model(final.get("model"))
        assert model.pipeline == "detection" and model.architecture == "yolov8n"
        state = load_checkpoint(model.path)  # plain data: loads with weights_only=True
        net = build_model(state)
        out = net(torch.zeros(1, 3, 128, 128))
        assert out[0].shape[1] == 4 + len(state["names"])
        run = project.runs_dir / f"job-{job_id:04d}"
        train_list = (run / "dataset" / "train.txt").read_text().split()
        critical = {c["id"] for c in model.classes if c["critical"]}
        images = {project.images.get(i[0]).name: i[0] for i in project.jobs.get(job_id).config["snapshot"]["train"]}
        for name, image_id in images.items():
            n = sum(1 for line in train_list if line.endswith("/" + name))
            has = any(a.class_id in critical for a in project.annotations.for_image(image_id))
            assert n == (3 if has else 1), name
        # its boxes on an image become that image's prediction layer (a model this young
        # is unsure of everything: keep every score)
        from core.predict import predict_image

        image_id = next(iter(images.values()))
        n = predict_image(project, model.id, image_id, conf=0.0)
        boxes = project.annotations.for_image(image_id, source="model")
        assert n == len(boxes) > 0 and all(b.kind == "box" and b.score is not None for b in boxes)
        assert {b.class_id for b in boxes} <= {c["id"] for c in model.classes}


def test_detection_stops_and_resumes_through_ultralytics(det_project):
    with Project.open(det_project) as project:
        job_id = create_job(project, "detection", {**TINY, "epochs": "3"})
    proc = JobProcess(det_project, job_id).start()
    seen = []
    for event in proc.events():
        seen.append(event.type)
        if event.type == "epoch":
            proc.stop()
    assert seen[-1] == "stopped"
    with Project.open(det_project) as project:
        assert project.jobs.get(job_id).state == "stopped"
    final = JobProcess(det_project, job_id, resume=True).start().run()
    assert final.type == "completed", final.data
    with Project.open(det_project) as project:
        assert list(project.jobs.history(job_id)) == [1, 2, 3]
