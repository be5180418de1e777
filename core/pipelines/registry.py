"""The registry of training pipelines.

A pipeline's declaration (name, description, parameters, main metric) is
importable without torch; its training code is imported only in the worker."""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from ..errors import TesseraError
from .params import Param, validate


@dataclass(frozen=True)
class PipelineSpec:
    name: str
    description: str
    task: str
    params: Sequence[Param]
    main_metric: str  # validation metric that picks the best checkpoint
    mode: str  # "max" or "min"
    trainer: str  # "module:function" run by the worker with a JobContext
    check: Callable[[Any, dict], None] | None = None  # data checks before any work starts
    start_from: tuple[str, ...] = ()  # other pipelines whose models from_model may name
    needs_model: bool = False  # from_model is required (a second stage)
    registers_as: str | None = None  # the pipeline its models belong to, when not its own (mining: detection)
    model_kind: str = "model"  # what its result is registered as ("backbone": a start for other pipelines)

    @property
    def model_pipeline(self) -> str:
        return self.registers_as or self.name

    def accepts_model_of(self, pipeline: str) -> bool:
        return pipeline == self.name or pipeline in self.start_from

    def start_pipelines(self) -> tuple[str, ...]:
        """The pipelines whose models this one can start from (the first stage first)."""
        return self.start_from + (self.name,) if self.needs_model else (self.name,) + self.start_from

    def validate(self, values: dict) -> dict:
        return validate(self.name, self.params, values)

    def param(self, name: str) -> Param:
        return next(p for p in self.params if p.name == name)

    def train_function(self):
        module, func = self.trainer.split(":")
        return getattr(importlib.import_module(module), func)

    def describe(self) -> dict:
        return {"name": self.name, "description": self.description, "task": self.task,
                "main_metric": self.main_metric, "mode": self.mode,
                "params": [p.describe() for p in self.params]}


_REGISTRY: dict[str, PipelineSpec] = {}


def register(spec: PipelineSpec) -> PipelineSpec:
    _REGISTRY[spec.name] = spec
    return spec


def _load() -> None:
    from . import classification, detection, pairs, segmentation, ssl  # noqa: F401  (each registers itself)


def all_pipelines() -> list[PipelineSpec]:
    _load()
    return list(_REGISTRY.values())


def get_pipeline(name: str) -> PipelineSpec:
    _load()
    if name not in _REGISTRY:
        raise TesseraError(f"unknown pipeline {name!r}; available: {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[name]
