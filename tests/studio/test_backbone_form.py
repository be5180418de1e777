"""The job forms offer the project's pre-trained backbones (encoder_from),
set the encoder to fit the chosen one and flag one that cannot fit."""
import pytest

pytest.importorskip("PySide6")


def test_forms_offer_backbones_and_flag_a_mismatch(window, tmp_path):
    project = window.project
    bid = project.jobs.register_model(None, "ssl-pretrain", str(tmp_path / "b.ckpt"), "convnext_atto", [],
                                      {"val_knn_accuracy": 0.5}, kind="backbone")
    panel = window.training
    form = panel.new_job("ssl-pretrain")
    assert {"architecture", "images", "temperature", "momentum", "window"} <= set(form.fields)
    assert form.valid

    form = panel.new_job("segmentation")
    box = form.fields["encoder_from"].widget
    assert [box.itemData(i) for i in range(box.count())] == [None, bid]
    assert "k-NN accuracy 0.500" in box.itemText(1)
    form.set_value("encoder_from", bid)
    assert form.fields["encoder"].read() == "tu-convnext_atto" and form.valid
    assert form.values()["encoder_from"] == str(bid)
    form.set_value("encoder", "resnet18")
    assert "needs a resnet18 one" in form.errors()["encoder_from"] and not form.valid

    form = panel.new_job("detection")
    form.fields["encoder_from"].widget.setCurrentIndex(1)
    assert "needs" in form.errors()["encoder_from"]  # YOLO needs a YOLO backbone: convnext is not one


def test_a_backbone_in_the_models_panel_cannot_be_evaluated_run_or_exported(window, tmp_path):
    bid = window.project.jobs.register_model(None, "ssl-pretrain", str(tmp_path / "b.ckpt"), "resnet18", [],
                                             {"train_loss": 2.0}, kind="backbone")
    panel = window.models
    panel.refresh()
    panel.select([bid])
    assert panel.selected_ids() == [bid]
    assert not any(b.isEnabled() for b in (panel.evaluate_button, panel.compare_button, panel.predict_button,
                                           panel.export_button, panel.mine_button))
