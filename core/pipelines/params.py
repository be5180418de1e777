"""Pipeline parameters, declared once: the command line (``--set k=v``), job
validation and the GUI's job form are all derived from these declarations."""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any, Iterable, Sequence

from ..errors import TesseraError

GROUPS = ("data", "model", "mining", "optimisation", "advanced")
_TYPES = {"int": int, "float": float, "str": str, "bool": bool}


class ParamError(TesseraError):
    """A job configuration value that the pipeline's declaration refuses."""


@dataclass(frozen=True)
class Param:
    name: str
    type: str  # int, float, str, bool
    default: Any
    help: str
    group: str = "advanced"
    min: float | None = None
    max: float | None = None
    choices: Sequence[Any] | None = None
    optional: bool = False  # None allowed (e.g. from_model)
    pattern: str | None = None  # a regular expression a str value must match whole

    def __post_init__(self):
        if self.type not in _TYPES:
            raise ValueError(f"parameter {self.name}: unknown type {self.type}")
        if self.group not in GROUPS:
            raise ValueError(f"parameter {self.name}: unknown group {self.group}")

    def convert(self, value: Any, pipeline: str) -> Any:
        """``value`` (a string from the command line, or a JSON value) as this
        parameter's type, checked against its range and choices."""
        where = f"{pipeline}: {self.name}"
        if value is None or (isinstance(value, str) and value.strip().lower() in ("", "none", "null")
                             and self.optional):
            if self.optional:
                return None
            raise ParamError(f"{where} needs a value")
        try:
            if self.type == "bool":
                if isinstance(value, str):
                    low = value.strip().lower()
                    if low not in ("1", "0", "true", "false", "yes", "no", "on", "off"):
                        raise ValueError
                    value = low in ("1", "true", "yes", "on")
                elif not isinstance(value, bool):
                    raise ValueError
            elif self.type == "int":
                if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                    raise ValueError
                value = int(value)
            elif self.type == "float":
                if isinstance(value, bool):
                    raise ValueError
                value = float(value)
            else:
                value = str(value)
        except (TypeError, ValueError):
            raise ParamError(f"{where} must be {'an' if self.type == 'int' else 'a'} {self.type}, got {value!r}") from None
        if self.pattern is not None and not re.fullmatch(self.pattern, value):
            raise ParamError(f"{where} = {value!r} is not valid ({self.help})")
        if self.choices is not None and value not in self.choices:
            raise ParamError(f"{where} must be one of {', '.join(map(str, self.choices))}; got {value!r}")
        if self.min is not None and value < self.min or self.max is not None and value > self.max:
            raise ParamError(f"{where} = {value} is out of range {self.min:g}..{self.max:g}")
        return value

    def describe(self) -> dict:
        d = asdict(self)
        d["choices"] = list(self.choices) if self.choices is not None else None
        return d


SEED = Param("seed", "int", 0, min=0, max=2**31 - 1, group="advanced", help="random seed")


def device_param(processes: bool = True) -> Param:
    one = "auto (CUDA when present, else CPU), cpu, cuda (the first GPU) or cuda:N"
    if not processes:
        return Param("device", "str", "auto", group="advanced", pattern=r"auto|cpu|cuda(:\d+)?",
                     help=one + "; one device per job")
    from ..jobs.distributed import DEVICE_PATTERN

    return Param("device", "str", "auto", group="advanced", pattern=DEVICE_PATTERN,
                 help=one + "; several GPUs: cuda:0,1,.. or cuda:all (one process each, DDP); "
                            "cpu:N (N processes, DDP over gloo)")


def common_params(architectures: Sequence[str], default_architecture: str, image_size: int,
                  main_metric: str, processes: bool = True) -> list[Param]:
    """The parameters every training pipeline shares, with the defaults users know.
    ``processes``: whether a job may train in several processes (DDP)."""
    return [
        Param("training_set", "str", "splits", group="data",
              help="what to train on: 'splits' (images of the train split, validated on val) or "
                   "'tiles:NAME' (the annotated tiles of tile set NAME, split by their image's split)"),
        Param("from_model", "int", None, optional=True, group="model", min=1,
              help="start from the weights of an earlier model of this project (same pipeline)"),
        Param("architecture", "str", default_architecture, choices=tuple(architectures), group="model",
              help="network architecture"),
        Param("epochs", "int", 10, min=1, max=10000, group="optimisation", help="passes over the training set"),
        Param("batch_size", "int", 8, min=1, max=1024, group="optimisation", help="images per step"),
        Param("learning_rate", "float", 0.001, min=1e-7, max=10.0, group="optimisation",
              help="initial learning rate"),
        Param("image_size", "int", image_size, min=32, max=4096, group="data",
              help="training crop / resize side in pixels"),
        Param("scheduler", "str", "poly", choices=("poly", "cosine", "step"), group="optimisation",
              help="learning-rate schedule after warm-up"),
        Param("warmup_epochs", "int", 0, min=0, max=100, group="optimisation",
              help="epochs of linear learning-rate warm-up"),
        device_param(processes),
        SEED,
        Param("save_every", "int", 10, min=1, max=10000, group="advanced",
              help="keep a numbered checkpoint every this many epochs"),
        Param("keep_last", "int", 3, min=1, max=1000, group="advanced",
              help="how many numbered checkpoints to keep"),
        Param("workers", "int", 2, min=0, max=64, group="advanced", help="data-loading processes"),
    ]


def parse_assignments(items: Iterable[str]) -> dict[str, str]:
    """``["epochs=3", "architecture=unet"]`` -> ``{"epochs": "3", ...}``."""
    out = {}
    for item in items:
        if "=" not in item:
            raise ParamError(f"--set expects key=value, got {item!r}")
        key, value = item.split("=", 1)
        out[key.strip()] = value.strip()
    return out


def validate(pipeline: str, params: Sequence[Param], values: dict[str, Any]) -> dict[str, Any]:
    """A complete configuration: defaults filled in, every value converted and
    checked; unknown names refused with the list of known ones."""
    known = {p.name: p for p in params}
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ParamError(f"{pipeline}: unknown parameter {unknown[0]!r}; known: {', '.join(sorted(known))}")
    out = {}
    for p in params:
        out[p.name] = p.convert(values[p.name], pipeline) if p.name in values else p.default
    return out
