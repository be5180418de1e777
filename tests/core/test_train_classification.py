"""Real (tiny) crop classification on the demo underwater set, on CPU."""
import numpy as np
import pytest

from core.jobs.runner import JobProcess, create_job
from core.project import Project

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def trained(module_tmp):
    from core.demo import build_demo

    project, _ = build_demo(module_tmp / "p", "detection")
    with project:
        job_id = create_job(project, "classification", {
            "architecture": "resnet18", "image_size": "48", "epochs": "5", "batch_size": "8", "workers": "0",
            "learning_rate": "0.002", "mixup": "0.2"})
    final = JobProcess(project.root, job_id).start().run()
    return project.root, job_id, final


def test_classification_trains_and_registers(trained):
    root, job_id, final = trained
    assert final.type == "completed", final.data
    with Project.open(root) as project:
        history = project.jobs.history(job_id)
        assert list(history) == [1, 2, 3, 4, 5]
        assert history[5]["train_loss"] < history[1]["train_loss"]
        assert 0 < history[4]["lr"] < history[1]["lr"]  # the schedule decays from a real rate
        assert {"val_accuracy", "val_f1", "train_accuracy", "val_loss"} <= set(history[5])
        model = project.jobs.model(final.get("model"))
        assert model.pipeline == "classification" and len(model.classes) >= 2
        snapshot = project.jobs.get(job_id).config["snapshot"]
        assert len(snapshot["train"]) == sum(
            1 for im in project.images.list() if im.split == "train" for a in project.annotations.for_image(im.id))


def test_classification_evaluation_matches_direct_counts(trained):
    from core.evaluate import evaluate_model, validation_items
    from core.evaluate.classification import evaluate_classification
    from core.imagery import open_image
    from core.pipelines.classification.data import padded
    from core.pipelines.classification.infer import load_model, predict_proba

    root, job_id, final = trained
    with Project.open(root) as project:
        model = project.jobs.model(final.get("model"))
        items = validation_items(project, model)
        result = evaluate_classification(project, model, items)
        net, state = load_model(model.path)
        index = {c["id"]: i for i, c in enumerate(state["classes"])}
        correct = 0
        for item in items:
            image = project.images.get(item[0])
            x, y, w, h = padded(item, image.width, image.height, state["crop_padding"])
            with open_image(image.file(project.root)) as src:
                p = predict_proba(net, [src.read_region(x, y, w, h)], state["image_size"])
            correct += int(p.argmax() == index[item[5]])
        assert result["accuracy"] == pytest.approx(correct / len(items))
        assert np.asarray(result["confusion_matrix"]).sum() == len(items)
        assert evaluate_model(project, model.id, efficiency=False)["accuracy"] == pytest.approx(result["accuracy"])
