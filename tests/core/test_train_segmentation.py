"""Real (tiny) segmentation training on the demo land-cover tiles, on CPU."""
import os
import signal

import pytest

from core.errors import TesseraError
from core.jobs.checkpoints import load_checkpoint
from core.jobs.runner import JobProcess, create_job
from core.project import Project

TINY = {"architecture": "unet", "encoder": "resnet18", "image_size": "64", "batch_size": "4",
        "workers": "0", "learning_rate": "0.003"}

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def seg_project(module_tmp):
    from core.demo import build_demo

    project, _ = build_demo(module_tmp / "p", "segmentation")
    project.close()
    return project.root


def _job(root, epochs, **extra):
    with Project.open(root) as project:
        return create_job(project, "segmentation", {**TINY, "epochs": str(epochs), **extra})


@pytest.fixture(scope="module")
def trained(seg_project):
    job_id = _job(seg_project, 4, save_every="2", keep_last="1")
    events = []
    final = JobProcess(seg_project, job_id).start().run(events.append)
    return job_id, final, events


def test_training_completes_registers_a_model_and_learns(seg_project, trained):
    job_id, final, events = trained
    assert final.type == "completed", final.data
    kinds = [e.type for e in events]
    assert kinds[0] == "started" and "progress" in kinds and kinds.count("epoch") == 4
    with Project.open(seg_project) as project:
        job = project.jobs.get(job_id)
        assert job.state == "completed" and job.epoch == 4
        history = project.jobs.history(job_id)
        assert list(history) == [1, 2, 3, 4]
        assert history[4]["train_loss"] < history[1]["train_loss"]
        # poly decay from the learning rate (a schedule sized before Lightning knew the
        # batches per epoch once made it 0 from the first step: nothing learned)
        assert 0 < history[3]["lr"] < history[2]["lr"] < history[1]["lr"] < float(TINY["learning_rate"])
        assert all({"val_loss", "val_miou", "val_pixel_accuracy", "train_miou", "lr"} <= set(history[e])
                   for e in history)  # train metrics belong to their own epoch, from epoch 1
        assert any(k.startswith("val_iou/") for k in history[4])
        model = project.jobs.model(final.get("model"))
        assert model.pipeline == "segmentation" and model.architecture == "unet/resnet18"
        assert [c["name"] for c in model.classes][:2] == ["background", "building"]
        state = load_checkpoint(model.path)
        assert state["format"] == "tessera-segmentation-v1" and state["state_dict"]
        files = sorted(p.name for p in (project.runs_dir / f"job-{job_id:04d}" / "checkpoints").iterdir())
        assert files == ["best.ckpt", "epoch-0004.ckpt", "final.ckpt", "last.ckpt"]  # keep_last=1
        assert job.config["snapshot"]["train"] and job.config["classes"]


def test_stop_through_stdin_then_resume(seg_project):
    # two data-loading processes: forking them must not hang on the stdin watcher
    job_id = _job(seg_project, 3, workers="2")
    proc = JobProcess(seg_project, job_id).start()
    seen = []
    for event in proc.events():
        seen.append(event)
        if event.type == "epoch":
            proc.stop()
    assert seen[-1].type == "stopped"
    with Project.open(seg_project) as project:
        job = project.jobs.get(job_id)
        assert job.state == "stopped" and job.epoch < 3
        assert (project.runs_dir / f"job-{job_id:04d}" / "checkpoints" / "last.ckpt").is_file()
        stopped_at = job.epoch
    final = JobProcess(seg_project, job_id, resume=True).start().run()
    assert final.type == "completed", final.data
    with Project.open(seg_project) as project:
        assert list(project.jobs.history(job_id)) == [1, 2, 3] and stopped_at >= 1


def test_sigterm_stops_the_job_cleanly(seg_project):
    """``tessera stop`` sends SIGTERM: the job saves and ends ``stopped``, not
    ``failed`` (Lightning's own SIGTERM handler would end the fit with an error)."""
    from core.jobs.runner import stop_job

    job_id = _job(seg_project, 50)
    proc = JobProcess(seg_project, job_id).start()
    for event in proc.events():
        if event.type == "epoch":
            with Project.open(seg_project) as project:
                stop_job(project, job_id)
            break
    final = proc.run()
    assert final.type == "stopped", final.data
    with Project.open(seg_project) as project:
        assert project.jobs.get(job_id).state == "stopped"


def test_killed_worker_is_interrupted_and_resumes_with_continuous_history(seg_project):
    job_id = _job(seg_project, 3)
    proc = JobProcess(seg_project, job_id).start()
    events = proc.events()
    for event in events:
        if event.type == "checkpoint" and event.get("kind") == "last":  # epoch 1 saved: kill in epoch 2
            os.killpg(proc.proc.pid, signal.SIGKILL)
            break
    rest = list(events)
    assert rest[-1].type == "failed" and "without a final event" in rest[-1].get("error")
    with Project.open(seg_project) as project:
        assert project.jobs.get(job_id).state == "interrupted"
        before = project.jobs.history(job_id)
    final = JobProcess(seg_project, job_id, resume=True).start().run()
    assert final.type == "completed", final.data
    with Project.open(seg_project) as project:
        history = project.jobs.history(job_id)
        assert list(history) == [1, 2, 3]
        assert history[1] == before[1]  # the epoch before the kill is kept, not re-run


def test_user_errors_come_before_any_work(seg_project, tmp_path):
    with Project.open(seg_project) as project:
        with pytest.raises(TesseraError, match="unknown parameter"):
            create_job(project, "segmentation", {"epochz": "3"})
        with pytest.raises(TesseraError, match="no training data"), Project.init(tmp_path / "empty") as empty:
            create_job(empty, "segmentation", {})
        with pytest.raises(TesseraError, match="no tile set named 'none'"):
            create_job(project, "segmentation", {"training_set": "tiles:none"})
        with pytest.raises(TesseraError, match="no model 999"):
            create_job(project, "segmentation", {}, from_model=999)
        n = len(project.jobs.list())
    with Project.open(seg_project) as project:
        assert len(project.jobs.list()) == n


def test_evaluation_matches_a_directly_computed_confusion_matrix(seg_project, trained):
    import numpy as np

    from core.evaluate import evaluate_model, validation_items
    from core.evaluate.segmentation import evaluate_segmentation
    from core.pipelines.segmentation.data import class_lut

    _, final, _ = trained
    with Project.open(seg_project) as project:
        model = project.jobs.model(final.get("model"))
        items = validation_items(project, model)
        result = evaluate_segmentation(project, model, items, keep_predictions=True)
        lut = class_lut(model.classes)
        n = len(model.classes)
        cm = np.zeros((n, n), np.int64)
        for (image_id, x, y, w, h), pred in result["predictions"].items():
            truth = lut[project.masks.get(image_id)[y:y + h, x:x + w]].ravel()
            keep = truth != 255
            np.add.at(cm, (truth[keep], pred.ravel()[keep]), 1)
        assert cm.tolist() == result["confusion_matrix"]
        iou = [cm[k, k] / (cm[k].sum() + cm[:, k].sum() - cm[k, k]) for k in range(n)
               if cm[k].sum() + cm[:, k].sum() > 0]
        assert result["miou"] == pytest.approx(float(np.mean(iou)))
        assert result["pixel_accuracy"] == pytest.approx(np.trace(cm) / cm.sum())
        summary = evaluate_model(project, model.id)
        assert summary["miou"] == pytest.approx(result["miou"])
        eff = summary["efficiency"]
        assert eff["parameters"] > 1e6 and eff["flops"] > 0 and eff["batch_1"]["fps"] > 0
        assert eff["peak_memory_mb"] > 0


def test_benchmark_report_compares_models(seg_project, trained, tmp_path):
    from core.evaluate.report import build_report

    _, final, _ = trained
    model_id = final.get("model")
    with Project.open(seg_project) as project:
        path = build_report(project, [model_id, model_id], tmp_path / "report", overlays=2)
        evaluated = project.jobs.model(model_id)
    html = path.read_text()
    md = (tmp_path / "report" / "report.md").read_text()
    for name in ("curves_segmentation.png", "classes_segmentation.png", f"confusion_{model_id}.png",
                 f"overlays_{model_id}.png"):
        assert (tmp_path / "report" / name).stat().st_size > 1000 and name in html and name in md
    assert "mIoU" in md and evaluated.architecture in md
    assert html.count("<tr>") == 3  # header + two models


def test_predictions_become_the_images_prediction_layer(seg_project, trained):
    from core.predict import predict_image

    _, final, _ = trained
    with Project.open(seg_project) as project:
        image = next(im for im in project.images.list() if project.masks.has(im.id))
        truth = [a.id for a in project.annotations.for_image(image.id)]
        n = predict_image(project, final.get("model"), image.id)
        stored = project.annotations.for_image(image.id, source="model")
        assert n == len(stored) > 0 and all(a.kind == "polygon" and a.geometry.is_valid for a in stored)
        assert predict_image(project, final.get("model"), image.id) == n  # replaced, not added twice
        assert len(project.annotations.for_image(image.id, source="model")) == n
        assert [a.id for a in project.annotations.for_image(image.id)] == truth  # ground truth untouched
        with pytest.raises(TesseraError, match="confidence"):
            predict_image(project, final.get("model"), image.id, conf=2.0)
