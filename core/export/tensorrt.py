"""TensorRT engines: built from the ONNX file with one optimisation profile
for the shapes a package uses, FP16, and run by tensor name.

- TensorRT 10: a network from the FP32 ONNX with the FP16 builder flag
  (TensorRT picks per layer).
- TensorRT 11 (strongly typed networks only): the network keeps the types
  its ONNX declares, so it is built from the FP16 ONNX.

Where TensorRT or a CUDA device is missing, :func:`availability` says so in
one line and the export goes on without an engine."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import TesseraError

WORKSPACE = 2 << 30


def availability() -> tuple[bool, str]:
    """(usable, a line saying which TensorRT on which GPU, or why not)."""
    try:
        import tensorrt as trt
    except Exception as exc:  # absent, or the PyPI stub that fails without its libraries
        return False, f"TensorRT is not installed ({type(exc).__name__}: {str(exc).splitlines()[0][:120] if str(exc) else 'no module'})"
    device = _cuda_device()
    if device is None:
        return False, f"TensorRT {trt.__version__} is installed but no CUDA device is visible"
    return True, f"TensorRT {trt.__version__} on {device}"


def _cuda_device() -> str | None:
    try:
        import torch

        return torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    except Exception:
        pass
    try:
        from cuda.bindings import runtime as cudart

        err, count = cudart.cudaGetDeviceCount()
        return "CUDA device 0" if int(err) == 0 and count > 0 else None
    except Exception:
        return None


def major_version() -> int:
    import tensorrt as trt

    return int(trt.__version__.split(".")[0])


def build_engine(onnx_fp32: str | Path, onnx_fp16: str | Path | None, engine: str | Path,
                 shapes: dict[str, tuple[tuple, tuple, tuple]]) -> Path:
    """Build and write ``engine``; ``shapes`` maps each input to its
    (min, opt, max) shape for the optimisation profile."""
    import tensorrt as trt

    ok, why = availability()
    if not ok:
        raise TesseraError(why)
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    strongly_typed = major_version() >= 11
    source = Path(onnx_fp16 if strongly_typed and onnx_fp16 else onnx_fp32)
    flags = 0
    if strongly_typed and hasattr(trt.NetworkDefinitionCreationFlag, "STRONGLY_TYPED"):
        flags |= 1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED)
    network = builder.create_network(flags)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(str(source)):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise TesseraError(f"TensorRT cannot parse the ONNX model ({errors[:300]})", source)
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, WORKSPACE)
    if not strongly_typed:
        config.set_flag(trt.BuilderFlag.FP16)
    profile = builder.create_optimization_profile()
    for name, (lo, opt, hi) in shapes.items():
        profile.set_shape(name, lo, opt, hi)
    config.add_optimization_profile(profile)
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise TesseraError("TensorRT could not build an engine (see the log above)", source)
    engine = Path(engine)
    engine.write_bytes(bytes(serialized))
    return engine


class EngineBackend:
    """A serialised engine run by tensor name.  Its device buffers are
    torch CUDA tensors: running an engine needs torch with CUDA next to
    TensorRT, where the package's ONNX files need onnxruntime alone."""

    def __init__(self, path: str | Path):
        import tensorrt as trt

        ok, why = availability()
        if not ok:
            raise TesseraError(why, Path(path))
        self.trt = trt
        runtime = trt.Runtime(trt.Logger(trt.Logger.WARNING))
        self.engine = runtime.deserialize_cuda_engine(Path(path).read_bytes())
        if self.engine is None:
            raise TesseraError("not a TensorRT engine for this TensorRT version or GPU", Path(path))
        self.context = self.engine.create_execution_context()
        names = [self.engine.get_tensor_name(i) for i in range(self.engine.num_io_tensors)]
        self.inputs = [n for n in names if self.engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT]
        self.outputs = [n for n in names if self.engine.get_tensor_mode(n) == trt.TensorIOMode.OUTPUT]

    def __call__(self, *arrays: np.ndarray) -> list[np.ndarray]:
        import torch

        stream = torch.cuda.current_stream()
        keep = []
        for name, array in zip(self.inputs, arrays):
            dtype = self.trt.nptype(self.engine.get_tensor_dtype(name))
            t = torch.from_numpy(np.ascontiguousarray(array, dtype=dtype)).cuda()
            self.context.set_input_shape(name, tuple(t.shape))
            self.context.set_tensor_address(name, t.data_ptr())
            keep.append(t)
        outs = []
        for name in self.outputs:
            shape = tuple(self.context.get_tensor_shape(name))
            dtype = torch.from_numpy(np.zeros(0, self.trt.nptype(self.engine.get_tensor_dtype(name)))).dtype
            t = torch.empty(shape, dtype=dtype, device="cuda")
            self.context.set_tensor_address(name, t.data_ptr())
            outs.append(t)
        if not self.context.execute_async_v3(stream.cuda_stream):
            raise TesseraError("TensorRT execution failed")
        stream.synchronize()
        return [o.float().cpu().numpy() for o in outs]
