"""The export dialog: a real export of a tiny model through the Models
panel, its progress and its validation report."""
import pytest

from core.jobs.runner import JobProcess, create_job
from core.project import Project

pytestmark = pytest.mark.slow


@pytest.fixture
def window_with_model(qtbot, demo_copy):
    from studio.main_window import MainWindow

    root = demo_copy.root
    job_id = create_job(demo_copy, "classification", {"architecture": "resnet18", "image_size": "32", "epochs": "1",
                                                      "batch_size": "8", "workers": "0"})
    demo_copy.close()
    final = JobProcess(root, job_id).start().run()
    assert final.type == "completed", final.data
    w = MainWindow(root)
    w.resize(1200, 800)
    qtbot.addWidget(w)
    w.show()
    yield w, int(final.get("model"))
    w.close()


def test_export_dialog_runs_the_export_and_shows_the_gate(window_with_model, qtbot, tmp_path):
    window, model_id = window_with_model
    panel = window.models
    panel.refresh()
    panel.select([model_id])
    assert panel.export_button.isEnabled()
    panel.export_button.click()
    dialog = panel.export_dialog
    assert dialog is not None and dialog.isVisible()
    assert ("not installed" in dialog.trt_label.text()) != dialog.trt_ok
    dialog.format.setCurrentIndex(1)  # ONNX + FP16
    assert not dialog.tta["flip"].isEnabled()  # a classifier: no test-time augmentation
    dialog.calibrate.setChecked(True)
    dialog.folder.setText(str(tmp_path / "pkg"))
    assert dialog.command()[-2:] == ["--calibrated", "per-class"] and "--tta" not in dialog.command()
    fractions = []
    dialog.start_button.click()
    dialog.task.fraction.connect(lambda d, t, m: fractions.append((d, t, m)))
    qtbot.waitUntil(lambda: dialog.task is None, timeout=300_000)
    assert dialog.summary is not None, dialog.status.text()
    assert dialog.summary["passed"] and (tmp_path / "pkg" / "model.json").is_file()
    text = dialog.report.toPlainText()
    assert "onnx-fp16" in text and "PASS" in text and "FAIL" not in text
    assert "expected calibration error" in text
    assert dialog.open_button.isEnabled() and fractions
    with Project.open(window.project.root) as project:
        assert [e.model_id for e in project.exports.list()] == [model_id]


def test_tta_and_calibration_choices_become_export_options(qtbot, demo_copy):
    from studio.training.export_dialog import ExportDialog

    model_id = demo_copy.jobs.register_model(None, "detection", str(demo_copy.root / "none.pt"), "yolov8n", [], {})
    dialog = ExportDialog(demo_copy, model_id)
    qtbot.addWidget(dialog)
    assert all(box.isEnabled() for box in dialog.tta.values())
    assert "--tta" not in dialog.command() and "--calibrated" not in dialog.command()
    dialog.tta["flip"].setChecked(True)
    dialog.tta["scale"].setChecked(True)
    assert not dialog.calibration_mode.isEnabled()
    dialog.calibrate.setChecked(True)
    assert dialog.calibration_mode.isEnabled()
    dialog.calibration_mode.setCurrentIndex(1)
    command = dialog.command()
    assert command[command.index("--tta") + 1] == "flip,scale"
    assert command[command.index("--calibrated") + 1] == "critical"
