"""An ONNX model in float16: weights and compute in half precision, inputs
and outputs kept float32 (so a package feeds both files the same arrays).
The conversion is onnxruntime's own (``onnxruntime.transformers.float16``);
ops it knows to be unsafe in half precision stay float32 behind casts."""
from __future__ import annotations

from pathlib import Path

from ..errors import TesseraError


def to_fp16(src: str | Path, dst: str | Path) -> Path:
    import onnx
    from onnxruntime.transformers.float16 import convert_float_to_float16

    src, dst = Path(src), Path(dst)
    try:
        model = convert_float_to_float16(onnx.load(str(src)), keep_io_types=True)
    except Exception as exc:  # the converter raises bare exceptions on graphs it cannot handle
        raise TesseraError(f"FP16 conversion failed ({str(exc).splitlines()[0][:160]})", src) from None
    _topological_order(model.graph)
    onnx.save(model, str(dst))
    onnx.checker.check_model(str(dst), full_check=True)
    return dst


def _topological_order(graph) -> None:
    """The converter appends the input casts after the nodes that read them;
    ONNX wants every node after its producers (a stable Kahn ordering)."""
    available = {i.name for i in graph.input} | {t.name for t in graph.initializer} | {""}
    pending, ordered = list(graph.node), []
    while pending:
        ready = [n for n in pending if all(i in available for i in n.input)]
        if not ready:  # a cycle or a dangling input: leave the rest as it was for the checker to name
            ordered += pending
            break
        for n in ready:
            available.update(n.output)
        ordered += ready
        pending = [n for n in pending if n not in ready]
    del graph.node[:]
    graph.node.extend(ordered)
