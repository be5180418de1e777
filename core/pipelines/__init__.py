"""Training pipelines: declarations (importable without torch) and their trainers."""
from .params import Param, ParamError, parse_assignments
from .registry import PipelineSpec, all_pipelines, get_pipeline

__all__ = ["Param", "ParamError", "parse_assignments", "PipelineSpec", "all_pipelines", "get_pipeline"]
