"""``tessera export-model`` and ``tessera predict --package``: deployment
from a terminal."""
from __future__ import annotations

import json
import sys

COMMANDS = ("export-model",)


def add_parsers(sub) -> None:
    p = sub.add_parser("export-model", help="export a model for deployment (ONNX, FP16 ONNX, TensorRT), validated "
                                            "against the PyTorch model, as a folder and a ZIP")
    p.add_argument("dir")
    p.add_argument("--model", type=int, required=True)
    p.add_argument("--format", default="all", choices=("onnx", "onnx-fp16", "tensorrt", "all"),
                   help="what the package holds (the FP32 ONNX always; tensorrt adds FP16 ONNX and the engine)")
    p.add_argument("--out", help="the package folder (default: exports/model-ID-TIME in the project); "
                                 "a ZIP of it is written beside it")
    p.add_argument("--threshold", action="append", default=[], metavar="FORMAT=DROP",
                   help="largest allowed change of the metric, e.g. onnx-fp16=0.02 (defaults: onnx 0.001, "
                        "onnx-fp16 0.01, tensorrt 0.01)")
    p.add_argument("--tta", nargs="?", const="flip", default=None, metavar="KINDS",
                   help="test-time augmentation in the package (segmentation, detection): any of flip, rotate, "
                        "scale, comma-separated, or all (default when given alone: flip); the report gives the "
                        "metric with and without it")
    p.add_argument("--calibrated", nargs="?", const="per-class", default=None, choices=("per-class", "critical"),
                   help="fit a confidence temperature on half the validation items and report the calibration "
                        "error before and after on the other half; detection: a temperature per class (default) "
                        "or for the critical classes only")
    p.add_argument("--device", default="cpu")
    p.add_argument("--json", action="store_true")


def _thresholds(items: list[str]) -> dict:
    from ..errors import TesseraError
    from ..export.card import FORMATS

    out = {}
    for item in items:
        fmt, _, value = item.partition("=")
        try:
            if fmt not in FORMATS:
                raise ValueError
            out[fmt] = float(value)
        except ValueError:
            raise TesseraError(f"--threshold takes FORMAT=DROP with FORMAT one of {', '.join(FORMATS)}, "
                               f"got {item!r}") from None
    return out


def run(args) -> int | None:
    if args.command not in COMMANDS:
        return None
    from ..export.package import export_model
    from ..progress import cli_progress
    from ..project import Project

    with Project.open(args.dir) as project:
        progress = cli_progress()
        result = export_model(project, args.model, args.format, args.out, _thresholds(args.threshold),
                              args.device, progress, tta=args.tta, calibration=args.calibrated)
        progress.close()
    if args.json:
        print(json.dumps(result.summary(), indent=2))
    else:
        print(report_text(result.report))
        print(f"package: {result.folder}\nzip:     {result.archive}")
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    return 0 if result.report["passed"] else 1


def report_text(report: dict) -> str:
    """The validation report as a table: one line per format."""
    metric = report["metric"]
    ref = report["pytorch"]
    lines = [f"validation of model {report['model']} ({report['task']}) on its validation images, {metric}:",
             f"  {'pytorch':<10} {ref[metric]:.4f}" + (f"   {ref['latency_ms']:.1f} ms" if "latency_ms" in ref else "")]
    for fmt, e in report["formats"].items():
        lines.append(f"  {fmt:<10} {e[metric]:.4f}  change {e['change']:+.4f} (allowed ±{e['threshold']})  "
                     f"max |diff| {e['max_abs_difference']:.2e}  "
                     + (f"{e['latency_ms']:.1f} ms  " if "latency_ms" in e else "")
                     + ("PASS" if e["passed"] else "FAIL"))
    if report.get("tta"):
        t = report["tta"]
        lines.append(f"  with test-time augmentation ({', '.join(t['kinds'])}: {len(t['views'])} views): "
                     f"{t[metric]:.4f}, {t['change']:+.4f} against the same package without it")
    if report.get("calibration"):
        lines.append("  calibration: " + calibration_text(report["calibration"], metric))
    lines.append("passed" if report["passed"] else "FAILED: an export falls below its threshold")
    return "\n".join(lines)


def calibration_text(c: dict, metric: str) -> str:
    """One line on the package's calibration (the report and the studio's dialog)."""
    if c.get("ece_before") is None:
        return f"not calibrated: {c.get('note', '')}"
    line = f"expected calibration error {c['ece_before']:.4f} → {c['ece_after']:.4f} on held-out items"
    if not c.get("applied", True):
        return line + "; not lowered, so not applied"
    return line + (f"; {metric} with it {c[metric]:.4f} ({c['change']:+.4f})" if metric in c else "; applied")


def predict_package(args) -> int:
    """Runs with onnxruntime and numpy alone: nothing here imports torch."""
    from ..errors import TesseraError
    from ..export.predict_files import predict_files
    from ..progress import cli_progress

    if not args.paths or not args.out:
        raise TesseraError("predict --package PKG needs image files and --out OUT")
    progress = cli_progress()
    summary = predict_files(args.package, args.paths, args.out, args.format, args.conf, args.boxes, args.device,
                            progress)
    progress.close()
    print(json.dumps(summary, indent=2) if args.json else
          f"{summary['images']} images, {summary['predictions']} predictions → {summary['written']}")
    for line in summary["errors"]:
        print(f"skipped: {line}", file=sys.stderr)
    return 0
