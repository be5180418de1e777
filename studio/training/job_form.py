"""The New-job form, generated from a pipeline's parameter declarations:
one field per parameter, grouped, with its default, range, choices and help;
every value checked by the declaration itself as it is typed."""
from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (QCheckBox, QComboBox, QFormLayout, QGroupBox, QLabel, QLineEdit, QVBoxLayout,
                               QWidget)

from core.pipelines.params import GROUPS, Param, ParamError
from core.pipelines.registry import PipelineSpec

NO_MODEL = "none (fresh weights)"


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


class _Field:
    """One parameter's editor and its error line."""

    def __init__(self, param: Param, widget: QWidget, read, error: QLabel):
        self.param, self.widget, self.read, self.error = param, widget, read, error


class JobForm(QWidget):
    """``values()`` gives the entered values as the command line would
    (strings); ``valid`` says whether every field passes its declaration;
    ``validityChanged(bool)`` follows it, ``changed`` fires on every edit."""

    validityChanged = Signal(bool)
    changed = Signal()  # any value changed

    def __init__(self, spec: PipelineSpec, project, parent=None):
        super().__init__(parent)
        self.spec = spec
        self.fields: dict[str, _Field] = {}
        self._valid = True
        self._architectures: dict[int, str] = {}
        self._backbones: dict[int, str] = {}  # backbone model id -> its architecture
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        title = QLabel(f"<b>{spec.name}</b> — {spec.description}")
        title.setWordWrap(True)
        layout.addWidget(title)
        for group in GROUPS:
            params = [p for p in spec.params if p.group == group]
            if not params:
                continue
            box = QGroupBox(group.capitalize())
            form = QFormLayout(box)
            for param in params:
                widget, read = self._editor(param, project)
                widget.setToolTip(param.help)
                widget.setObjectName(f"param-{param.name}")
                error = QLabel()
                error.setStyleSheet("color: #e0564c")
                error.setWordWrap(True)
                error.hide()
                column = QVBoxLayout()
                column.setSpacing(1)
                column.addWidget(widget)
                column.addWidget(error)
                label = QLabel(param.name.replace("_", " "))
                label.setToolTip(param.help)
                form.addRow(label, column)
                self.fields[param.name] = _Field(param, widget, read, error)
            layout.addWidget(box)
        layout.addStretch(1)
        if spec.needs_model and "from_model" in self.fields:
            self._model_chosen(self.fields["from_model"].widget.currentData())
        self.check()

    # -- editors -------------------------------------------------------------
    def _editor(self, param: Param, project):
        if param.name == "training_set":
            box = QComboBox(editable=True)
            box.addItems(["splits"] + [f"tiles:{n}" for n in project.tiles.names()])
            box.setCurrentText(_text(param.default))
            box.currentTextChanged.connect(self.check)
            return box, box.currentText
        if param.name == "from_model":
            box = QComboBox()
            if not self.spec.needs_model:
                box.addItem(NO_MODEL, None)
            for pipeline in self.spec.start_pipelines():  # the models a job of this pipeline can start from
                for model in project.jobs.models(pipeline):
                    metric = model.metrics.get(self.spec.main_metric)
                    shown = f" {self.spec.main_metric} {metric:.3f}" if isinstance(metric, (int, float)) else ""
                    box.addItem(f"model {model.id}: {pipeline} {model.architecture}{shown}", model.id)
                    self._architectures[model.id] = model.architecture
            if self.spec.needs_model and box.count() == 0:
                box.addItem(f"no {self.spec.start_pipelines()[0]} model yet: train that first", None)
            box.currentIndexChanged.connect(lambda *_: self._model_chosen(box.currentData()))
            return box, lambda: _text(box.currentData())
        if param.name == "encoder_from":
            box = QComboBox()
            box.addItem("none (fresh encoder)", None)
            for model in project.jobs.models("ssl-pretrain"):
                knn = model.metrics.get("val_knn_accuracy")
                shown = f", k-NN accuracy {knn:.3f}" if isinstance(knn, (int, float)) else ""
                box.addItem(f"backbone {model.id}: {model.architecture}{shown}", model.id)
                self._backbones[model.id] = model.architecture
            box.currentIndexChanged.connect(lambda *_: self._backbone_chosen(box.currentData()))
            return box, lambda: _text(box.currentData())
        if param.type == "bool":
            check = QCheckBox()
            check.setChecked(bool(param.default))
            check.toggled.connect(self.check)
            return check, lambda: _text(check.isChecked())
        if param.choices is not None:
            box = QComboBox()
            box.addItems([_text(c) for c in param.choices])
            box.setCurrentText(_text(param.default))
            box.currentTextChanged.connect(self.check)
            return box, box.currentText
        edit = QLineEdit(_text(param.default))
        if param.min is not None and param.max is not None:
            edit.setPlaceholderText(f"{param.min:g} … {param.max:g}")
        edit.textChanged.connect(self.check)
        return edit, edit.text

    def _model_chosen(self, model_id) -> None:
        """A start model fixes the backbone: the architecture follows it."""
        architecture = self._architectures.get(model_id)
        if architecture and "architecture" in self.fields:
            self.set_value("architecture", architecture)
        self.check()

    def _backbone_chosen(self, model_id) -> None:
        """A pre-trained backbone fixes the encoder (segmentation) or architecture."""
        from core.pipelines.backbones import SMP_NATIVE

        name = self._backbones.get(model_id)
        if name and "encoder" in self.fields:
            self.set_value("encoder", name if name in SMP_NATIVE else f"tu-{name}")
        elif name and "architecture" in self.fields:
            self.set_value("architecture", name)
        self.check()

    def add_section(self, widget: QWidget) -> None:
        """A further section under the parameter groups (e.g. the pair sampling preview)."""
        layout = self.layout()
        layout.insertWidget(layout.count() - 1, widget)

    # -- values ------------------------------------------------------------------
    def set_value(self, name: str, value) -> None:
        widget = self.fields[name].widget
        if isinstance(widget, QCheckBox):
            widget.setChecked(str(value).lower() in ("1", "true", "yes", "on"))
        elif isinstance(widget, QComboBox):
            by_data = name in ("from_model", "encoder_from")
            index = widget.findData(value) if by_data else widget.findText(_text(value))
            if index >= 0:
                widget.setCurrentIndex(index)
            elif widget.isEditable():
                widget.setCurrentText(_text(value))
        else:
            widget.setText(_text(value))

    def values(self) -> dict[str, str]:
        """Every value that differs from its default, as text (from_model: the id or empty)."""
        out = {}
        for name, f in self.fields.items():
            text = f.read()
            if text != _text(f.param.default):
                out[name] = text
        return out

    def errors(self) -> dict[str, str]:
        out = {}
        for name, f in self.fields.items():
            try:
                f.param.convert(f.read(), self.spec.name)
            except ParamError as exc:
                out[name] = str(exc).split(": ", 1)[-1]
        if self.spec.needs_model and "from_model" in self.fields and not self.fields["from_model"].read():
            out["from_model"] = f"a finished {self.spec.start_pipelines()[0]} model is required"
        backbone = self._backbones.get(self.fields["encoder_from"].widget.currentData()) \
            if "encoder_from" in self.fields else None
        if backbone and "encoder_from" not in out:
            from core.errors import TesseraError
            from core.pipelines.backbones import needed

            try:
                want = needed(self.spec.name, {n: f.read() for n, f in self.fields.items()})
                if want != backbone:
                    out["encoder_from"] = f"a {backbone} backbone; this network needs a {want} one"
            except TesseraError as exc:
                out["encoder_from"] = str(exc)
        return out

    @property
    def valid(self) -> bool:
        return self._valid

    def check(self, *_) -> bool:
        """Show each field's problem under it; returns (and signals) whether all pass."""
        errors = self.errors()
        for name, f in self.fields.items():
            f.error.setText(errors.get(name, ""))
            f.error.setVisible(name in errors)
        valid = not errors
        self.changed.emit()
        if valid != self._valid:
            self._valid = valid
            self.validityChanged.emit(valid)
        return valid
