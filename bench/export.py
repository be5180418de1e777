"""Latency and throughput of each pipeline's model in PyTorch, ONNX FP32,
ONNX FP16 (and TensorRT where it is available), at batch 1 and 8, as ratios
to PyTorch in the same run.

    python bench/export.py [--project demo-project] [--models 1,3,4] [--device cpu|cuda]
                           [--runs 20] [--out bench-out/export]

Models default to the newest of each pipeline in the project.  Each is
exported to a temporary folder (ONNX, FP16 ONNX, engine), then every
runtime is timed on the same random inputs of the model's input size
(segmentation: its training size): the median of ``--runs`` forward passes
after warm-up, PyTorch and onnxruntime on the same number of CPU threads.  Not a test: run by hand and record the figures."""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
from pathlib import Path


sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.appdirs import configure_environment  # noqa: E402


def bench_model(project, model_id: int, device: str, runs: int, folder: Path, threads: int) -> dict:
    import torch

    from core.export import tensorrt
    from core.export.fp16 import to_fp16
    from core.export.onnx_export import example_inputs, export_onnx, load_net, task_of, torch_outputs
    from core.export.package import _profile
    from core.export.runtime import OrtBackend
    from core.export.validate import latency_ms

    model = project.jobs.model(model_id)
    task = task_of(model.pipeline)
    info = export_onnx(model, folder / "model.onnx")
    to_fp16(folder / "model.onnx", folder / "model-fp16.onnx")
    net, state = load_net(model)
    net = net.to(device)
    runtimes = {"pytorch": lambda *a: torch_outputs(task, net, a, device),
                "onnx": OrtBackend(folder / "model.onnx", device, threads),
                "onnx-fp16": OrtBackend(folder / "model-fp16.onnx", device, threads)}
    usable, why = tensorrt.availability()
    if usable:
        from core.export.tensorrt import EngineBackend

        tensorrt.build_engine(folder / "model.onnx", folder / "model-fp16.onnx", folder / "model.engine",
                              _profile(info))
        runtimes["tensorrt"] = EngineBackend(folder / "model.engine")
    out = {"model": model_id, "pipeline": model.pipeline, "architecture": model.architecture,
           "input_size": state.get("image_size"), "tensorrt": why, "batches": {}}
    for batch in (1, 8):
        inputs = example_inputs(task, state, batch)
        row = {}
        with torch.inference_mode():
            for name, fn in runtimes.items():
                ms = latency_ms(fn, inputs, runs)
                row[name] = {"latency_ms": round(ms, 2), "images_per_s": round(batch * 1000 / ms, 1)}
        base = row["pytorch"]["latency_ms"]
        for name in row:
            row[name]["speedup_vs_pytorch"] = round(base / row[name]["latency_ms"], 3)
        out["batches"][str(batch)] = row
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--project", default="demo-project")
    parser.add_argument("--models", help="model ids, comma-separated (default: the newest of each pipeline)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--out", default="bench-out/export")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1,
                        help="CPU threads for PyTorch and onnxruntime alike (default: every core)")
    args = parser.parse_args()
    configure_environment()
    import onnxruntime
    import torch

    torch.set_num_threads(args.threads)

    from core.project import Project

    with Project.open(args.project) as project:
        if args.models:
            ids = [int(v) for v in args.models.split(",")]
        else:
            newest = {}
            for m in project.jobs.models():
                if m.pipeline in ("segmentation", "detection", "classification", "pairs-stage1", "pairs-stage2"):
                    newest[m.pipeline] = m.id
            ids = sorted(newest.values())
        results = []
        with tempfile.TemporaryDirectory(prefix="tessera-bench-export-") as tmp:
            for model_id in ids:
                folder = Path(tmp) / str(model_id)
                folder.mkdir()
                results.append(bench_model(project, model_id, args.device, args.runs, folder, args.threads))
    report = {"device": args.device if args.device == "cpu" else torch.cuda.get_device_name(0),
              "cpu": platform.processor() or platform.machine(), "threads": args.threads,
              "torch": torch.__version__, "onnxruntime": onnxruntime.__version__, "runs": args.runs,
              "models": results}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "export.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
