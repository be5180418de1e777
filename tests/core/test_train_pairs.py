"""A real two-stage pair run on the small demo panoramas, on CPU: every file
the run must write, the stage-2 refusal, evaluation and prediction."""
import json

import pytest
from PIL import Image

from core.errors import TesseraError
from core.jobs.checkpoints import load_checkpoint
from core.jobs.runner import JobProcess, create_job
from core.pipelines import get_pipeline
from core.project import Project

FAST = {"image_size": "32", "epochs": "2", "batch_size": "8", "workers": "0"}
RUN_FILES = ("config.json", "evaluation_report.txt", "training_curves.png", "confusion_matrix.png",
             "probability_distributions.png", "sampling_report.json")


@pytest.fixture(scope="module")
def panoramas(module_tmp):
    from core.demo import build_demo

    project, _ = build_demo(module_tmp / "p", "pairs", "small")
    project.close()
    return project.root


def test_stage2_refuses_to_start_without_a_stage1_model(panoramas):
    with Project.open(panoramas) as project:
        if project.jobs.models("pairs-stage1"):
            pytest.skip("a stage-1 model exists already")
        with pytest.raises(TesseraError, match="pairs-stage2 starts from a finished pairs-stage1 model.*none yet"):
            create_job(project, "pairs-stage2", dict(FAST))


@pytest.fixture(scope="module")
def two_stages(panoramas):
    with Project.open(panoramas) as project:
        first = create_job(project, "pairs-stage1", dict(FAST))
    one = JobProcess(panoramas, first).start().run()
    assert one.type == "completed", one.data
    with Project.open(panoramas) as project:
        second = create_job(project, "pairs-stage2", {**FAST, "from_model": str(one.get("model"))})
    two = JobProcess(panoramas, second).start().run()
    assert two.type == "completed", two.data
    return first, one, second, two


@pytest.mark.slow
@pytest.mark.parametrize("stage", [1, 2])
def test_each_stage_writes_every_run_file(panoramas, two_stages, stage):
    first, one, second, two = two_stages
    job_id = first if stage == 1 else second
    with Project.open(panoramas) as project:
        run = project.runs_dir / f"job-{job_id:04d}"
        spec_names = {p.name for p in get_pipeline(f"pairs-stage{stage}").params}
        history = project.jobs.history(job_id)
        log = (run / "worker.log").read_text()
    for name in RUN_FILES:
        assert (run / name).stat().st_size > 0, name
    for name in ("training_curves.png", "confusion_matrix.png", "probability_distributions.png"):
        with Image.open(run / name) as im:
            im.verify()
    config = json.loads((run / "config.json").read_text())
    assert spec_names <= set(config) and config["pipeline"] == f"pairs-stage{stage}"
    report = (run / "evaluation_report.txt").read_text()
    assert "confusion matrix" in report and "precision" in report and "accuracy" in report
    for name in ("best_accuracy", "best_loss", "best_f1", "final"):
        state = load_checkpoint(run / "checkpoints" / f"{name}.ckpt")
        assert state["state_dict"], name
    assert list(history) == [1, 2]
    for key in ("train_loss", "val_loss", "train_accuracy", "val_accuracy", "train_f1", "val_f1", "lr"):
        assert key in history[2], key
    if stage == 2:
        assert "started from model" in log
        assert json.loads((run / "config.json").read_text())["learning_rate"] == 5e-4


@pytest.mark.slow
def test_stage2_keeps_stage1_interaction_head_and_trains_the_type_head(panoramas, two_stages):
    import torch

    first, one, second, two = two_stages
    a = load_checkpoint(one.get("path"))["state_dict"]
    b = load_checkpoint(two.get("path"))["state_dict"]
    head = [k for k in a if k.startswith("interaction_head.")]
    assert head and all(torch.equal(a[k], b[k]) for k in head)
    types = [k for k in b if k.startswith("type_head.")]
    assert any(a[k].shape != b[k].shape or not torch.equal(a[k], b[k]) for k in types)


@pytest.mark.slow
def test_pair_models_evaluate_and_predict_pairs(panoramas, two_stages):
    from core.evaluate import evaluate_model
    from core.pipelines.pairs.frames import load_frames
    from core.predict import predict_image

    first, one, second, two = two_stages
    with Project.open(panoramas) as project:
        for final in (one, two):
            result = evaluate_model(project, final.get("model"), efficiency=False)
            assert 0.0 <= result["accuracy"] <= 1.0 and result["metrics"]["samples"] > 0
        before = {f.image_id: f.interactions for f in load_frames(project, None)}
        image_id = next(iter(before))
        count = predict_image(project, two.get("model"), image_id, conf=0.0)
        predicted = [p for p in project.relations.pairs(image_id) if p.source == "model"]
        assert count == len(predicted) > 0
        assert all(len(p.labels) == 1 for p in predicted)
        # predictions never become training truth
        assert {f.image_id: f.interactions for f in load_frames(project, None)} == before
