"""Real (tiny) YOLO training on the demo underwater set, on CPU."""
import pytest

from core.jobs.checkpoints import load_checkpoint
from core.jobs.runner import JobProcess, create_job
from core.project import Project

pytestmark = pytest.mark.slow
TINY = {"image_size": "160", "batch_size": "8", "workers": "0", "close_mosaic": "3", "learning_rate": "0.002"}


@pytest.fixture(scope="module")
def det_project(module_tmp):
    from core.demo import build_demo

    project, _ = build_demo(module_tmp / "p", "detection")
    project.close()
    return project.root


@pytest.fixture(scope="module")
def trained(det_project):
    """A 12-epoch model of the small demo: (job id, final event)."""
    with Project.open(det_project) as project:
        job_id = create_job(project, "detection", {**TINY, "epochs": "12"})
    return job_id, JobProcess(det_project, job_id).start().run()


def test_detection_trains_registers_and_oversamples_critical_images(det_project, trained):
    import torch

    from core.pipelines.detection.train import build_model

    job_id, final = trained
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
        # the recall of each critical class the validation images hold, every epoch
        critical = [c for c in project.classes.list() if c.critical]
        held = {a.class_id for im in project.images.list("val") for a in project.annotations.for_image(im.id)}
        in_val = [c.name for c in critical if c.id in held]
        assert in_val, "the small demo's validation split holds a critical class"
        for epoch in history.values():
            assert {f"val_recall_{n}" for n in in_val} | {"val_critical_recall"} <= set(epoch)
            assert 0.0 <= epoch["val_critical_recall"] <= 1.0
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


def test_a_new_job_starts_from_the_models_weights(det_project, trained):
    """ultralytics builds its own network when training starts: the model's
    weights must reach it (one epoch at a tiny learning rate leaves them)."""
    import torch

    with Project.open(det_project) as project:
        model = project.jobs.model(trained[1].get("model"))
        job_id = create_job(project, "detection", {**TINY, "epochs": "1", "learning_rate": "1e-7"},
                            from_model=model.id)
    final = JobProcess(det_project, job_id).start().run()
    assert final.type == "completed", final.data
    start = load_checkpoint(model.path)["state_dict"]
    with Project.open(det_project) as project:
        end = load_checkpoint(project.jobs.model(final.get("model")).path)["state_dict"]
    convs = [k for k in start if k.endswith("conv.weight")]
    assert len(convs) > 50
    for key in convs:
        assert torch.allclose(start[key], end[key], atol=1e-4), key


def test_scoring_ranks_the_pool_by_a_real_models_uncertainty(det_project, trained, capsys):
    import json

    from core.active.scoring import ScoreOptions, pool, score_pool
    from core.cli.main import main

    model_id = trained[1].get("model")
    with Project.open(det_project) as project:
        empty = [im.id for im in project.images.list() if not project.annotations.for_image(im.id)]
        assert pool(project) == empty and empty  # the demo's empty-water images
        val = [im.id for im in project.images.list("val")]
        run = score_pool(project, model_id, ScoreOptions("entropy", conf=0.05), "split=val")
        items = project.queue.items()
        assert [i.image_id for i in items] == [i for i, _, _ in sorted(run.scored, key=lambda s: -s[1])]
        assert sorted(i.image_id for i in items) == sorted(val) and [i.rank for i in items] == list(range(1, len(val) + 1))
        scores = [i.score for i in items]
        assert scores == sorted(scores, reverse=True) and all(0.0 <= s <= 1.0 for s in scores)
        for item in items:
            d = item.details
            assert 0 <= d["confidence_below"] <= d["boxes"] and d["uncertainty"] == "entropy"
            if d["boxes"] == 0:
                assert item.score == 1.0  # nothing found: a person should look
        # the sum of per-box scores is never below their max
        total = score_pool(project, model_id, ScoreOptions("entropy", "sum", conf=0.05), "split=val")
        most = dict((i, s) for i, s, _ in run.scored)
        assert all(s >= most[i] - 1e-9 for i, s, d in total.scored if d["boxes"])
        # hybrid: k picks first, all among the 3k most uncertain
        picks = score_pool(project, model_id, ScoreOptions("hybrid", top=2, conf=0.05), "split=train")
        order = [i for i, _, _ in sorted(picks.scored, key=lambda s: -s[1])]
        assert len(picks.ranking) == 2 and set(picks.ranking) <= set(order[:6])
        assert [q.image_id for q in project.queue.items()][:2] == picks.ranking
        assert all(q.details["selected"] == (q.image_id in picks.ranking) for q in project.queue.items())
        # an image whose annotations are gone joins the unlabeled pool
        first = next(i for i in val if i not in empty)
        project.annotations.delete([a.id for a in project.annotations.for_image(first)])
    assert main(["score", str(det_project), "--model", str(model_id), "--method", "coreset", "--top", "2",
                 "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["scored"] == len(empty) + 1 and [r["selected"] for r in out["ranked"]] == [True, True]
    assert main(["queue", str(det_project), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert sorted(r["image_id"] for r in rows) == sorted(empty + [first])
    assert [r["selected"] for r in rows] == [True, True] + [False] * (len(rows) - 2)


def test_one_round_of_hard_negative_mining(det_project, trained):
    import json

    with Project.open(det_project) as project:
        job_id = create_job(project, "detection-mining",
                            {**TINY, "rounds": "1", "round_epochs": "2", "conf": "0.001"},
                            from_model=trained[1].get("model"))
        assert project.jobs.get(job_id).config["epochs"] == 2
    final = JobProcess(det_project, job_id).start().run()
    assert final.type == "completed", final.data
    with Project.open(det_project) as project:
        model = project.jobs.model(final.get("model"))
        assert model.pipeline == "detection"  # predicted, scored and exported like any detection model
        history = project.jobs.history(job_id)
        run = project.runs_dir / f"job-{job_id:04d}"
    report = json.loads((run / "mining_report.json").read_text())
    assert [r["round"] for r in report] == [1, "after"]
    assert report[0]["false_positives"] > 0  # a young model at conf 0.001 is wrong somewhere
    assert history[2]["false_positives"] == report[0]["false_positives"]
    assert {"val_map50", "val_map50_95"} <= set(report[0])
    crops = report[0]["negatives"]["crops"]
    for crop in crops:  # background crops, each with its empty label file
        assert (run / "negatives" / "labels" / (crop.rsplit("/", 1)[1][:-4] + ".txt")).read_text() == ""
    train_list = (run / "dataset" / "train.txt").read_text().split()
    assert all(c in train_list for c in crops)
    assert len(train_list) >= len(project_train(det_project)) + len(report[0]["negatives"]["images"])


def project_train(root):
    with Project.open(root) as project:
        return [im for im in project.images.list("train")]
