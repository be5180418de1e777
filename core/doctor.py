"""``tessera doctor``: what this installation runs on — Python and the
libraries that matter, CUDA devices, TensorRT, free disk, the app's folders —
and what looks wrong.  The studio shows the same in Help → About.

Never imports Qt (the Qt binding's version comes from its package metadata)."""
from __future__ import annotations

import json
import os
import platform
import shutil
import sys
from importlib import import_module, metadata
from pathlib import Path

from .appdirs import config_dir, data_dir

#: (what is shown, import name, distribution name(s))
LIBRARIES = (
    ("torch", "torch", "torch"),
    ("torchvision", "torchvision", "torchvision"),
    ("ultralytics", "ultralytics", "ultralytics"),
    ("smp", "segmentation_models_pytorch", "segmentation-models-pytorch"),
    ("lightning", "lightning", "lightning"),
    ("timm", "timm", "timm"),
    ("onnx", "onnx", "onnx"),
    ("onnxruntime", "onnxruntime", "onnxruntime"),
    ("Qt (PySide6)", None, ("PySide6", "PySide6-Essentials")),
)
#: below this much free space in the project folder, training and export may fail
LOW_DISK_GB = 5.0


def _version(dist: str | tuple[str, ...]) -> str | None:
    for name in (dist,) if isinstance(dist, str) else dist:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return None


def _app_version() -> str:
    return _version("tessera-studio") or "source"


def libraries() -> dict[str, str | None]:
    out = {}
    for shown, module, dist in LIBRARIES:
        version = _version(dist)
        if version is None and module is not None:  # a frozen build keeps modules, not always their metadata
            try:
                version = getattr(import_module(module), "__version__", "installed")
            except Exception:  # noqa: BLE001 - any failure to import means "not usable"
                version = None
        out[shown] = version
    return out


def cuda() -> dict:
    try:
        import torch
    except Exception as exc:  # noqa: BLE001
        return {"available": False, "reason": f"torch does not import: {exc}"}
    info: dict = {"available": torch.cuda.is_available(), "torch_cuda": torch.version.cuda, "devices": []}
    if not info["available"]:
        info["reason"] = ("this torch build has no CUDA" if torch.version.cuda is None
                          else "no NVIDIA GPU or driver found")
        return info
    for i in range(torch.cuda.device_count()):
        p = torch.cuda.get_device_properties(i)
        free, total = torch.cuda.mem_get_info(i)
        info["devices"].append({"index": i, "name": p.name, "memory_gb": round(total / 2**30, 1),
                                "free_gb": round(free / 2**30, 1), "capability": f"{p.major}.{p.minor}"})
    return info


def tensorrt() -> dict:
    try:
        trt = import_module("tensorrt")
    except Exception as exc:  # noqa: BLE001
        return {"available": False, "reason": f"not importable ({type(exc).__name__}): TensorRT engines cannot be "
                                              "built here; ONNX and FP16 export still work"}
    return {"available": True, "version": getattr(trt, "__version__", "unknown")}


def disk(folder: Path) -> dict:
    folder = Path(folder).resolve()
    probe = folder
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    usage = shutil.disk_usage(probe)
    return {"folder": str(folder), "free_gb": round(usage.free / 1e9, 1), "total_gb": round(usage.total / 1e9, 1)}


def folders() -> dict[str, str]:
    return {"data": str(data_dir()), "config": str(config_dir()),
            "ultralytics": os.environ.get("YOLO_CONFIG_DIR", ""), "matplotlib": os.environ.get("MPLCONFIGDIR", ""),
            "cache": os.environ.get("XDG_CACHE_HOME", "")}


def build() -> dict | None:
    """What a packaged app was built with (``build-info.json`` beside its
    modules, written by ``packaging/tessera.spec``); None when run from source."""
    if not getattr(sys, "frozen", False):
        return None
    path = Path(getattr(sys, "_MEIPASS", Path(sys.executable).parent)) / "build-info.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {"variant": "unknown"}


def diagnose(project_dir: str | Path | None = None) -> dict:
    """Everything ``tessera doctor`` prints, and the problems it sees."""
    libs = libraries()
    report = {"app": _app_version(), "frozen": bool(getattr(sys, "frozen", False)), "build": build(),
              "python": platform.python_version(), "executable": sys.executable,
              "platform": platform.platform(), "cpu_count": os.cpu_count(), "libraries": libs, "cuda": cuda(),
              "tensorrt": tensorrt(), "disk": disk(project_dir or Path.cwd()), "folders": folders()}
    problems = [f"{name} is not installed" for name, version in libs.items() if version is None]
    if report["disk"]["free_gb"] < LOW_DISK_GB:
        problems.append(f"only {report['disk']['free_gb']} GB free in {report['disk']['folder']}: training "
                        "checkpoints and exports need several GB")
    report["problems"] = problems
    return report


def text(report: dict) -> str:
    """The report as aligned lines for people."""
    built = report.get("build")
    lines = [f"Tessera Studio {report['app']}" + (f" (packaged, {built.get('variant')} build)" if built else ""),
             f"  python        {report['python']}  ({report['executable']})",
             f"  platform      {report['platform']}, {report['cpu_count']} CPUs"]
    for name, version in report["libraries"].items():
        lines.append(f"  {name:13s} {version or 'MISSING'}")
    c = report["cuda"]
    if c["available"]:
        lines.append(f"  CUDA          {c['torch_cuda']}, {len(c['devices'])} device(s)")
        for d in c["devices"]:
            lines.append(f"    cuda:{d['index']}      {d['name']}, {d['memory_gb']} GB ({d['free_gb']} GB free), "
                         f"compute {d['capability']}")
    else:
        lines.append(f"  CUDA          none: {c.get('reason')}; training runs on the CPU")
    t = report["tensorrt"]
    lines.append(f"  TensorRT      {t['version'] if t['available'] else t['reason']}")
    d = report["disk"]
    lines.append(f"  free disk     {d['free_gb']} GB of {d['total_gb']} GB in {d['folder']}")
    lines.append("  folders")
    for name, path in report["folders"].items():
        lines.append(f"    {name:11s} {path}")
    lines += [f"problem: {p}" for p in report["problems"]] or ["no problems found"]
    return "\n".join(lines)
