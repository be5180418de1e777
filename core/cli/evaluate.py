"""``tessera evaluate`` and ``tessera benchmark``."""
from __future__ import annotations

import json


def add_parsers(sub) -> None:
    p = sub.add_parser("evaluate", help="accuracy and efficiency of a model on its validation images")
    p.add_argument("dir")
    p.add_argument("--model", type=int, required=True)
    p.add_argument("--device", default="cpu", help="cpu (default) or cuda[:N]")
    p.add_argument("--no-efficiency", action="store_true", help="skip the latency / FLOPs measurements")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("benchmark", help="compare models side by side in an HTML / Markdown report")
    p.add_argument("dir")
    p.add_argument("--models", required=True, help="model ids, comma-separated")
    p.add_argument("--out", required=True, help="report folder")
    p.add_argument("--device", default="cpu")
    p.add_argument("--overlays", type=int, default=3, help="validation images drawn with predictions per model")

    p = sub.add_parser("predict", help="run a model on one image of a project (its predictions become the image's "
                                       "prediction layer), or a deployment package on image files (--package)",
                       usage="tessera predict DIR --model ID --image NAME | tessera predict --package PKG IMAGES... "
                             "--out OUT")
    p.add_argument("paths", nargs="*", metavar="DIR | IMAGES", help="the project folder; with --package, image files")
    p.add_argument("--model", type=int)
    p.add_argument("--image", help="image id or name")
    p.add_argument("--package", help="a deployment package (folder or ZIP from 'tessera export-model'): run with "
                                     "onnxruntime alone, no PyTorch")
    p.add_argument("--out", help="with --package: the folder for predictions.json (and masks)")
    p.add_argument("--format", default="onnx", choices=("onnx", "onnx-fp16", "tensorrt"),
                   help="with --package: which of its model files to run")
    p.add_argument("--boxes", help="with --package of a pair model: a COCO file of the person boxes")
    p.add_argument("--conf", type=float, help="lowest detection score kept (default 0.25, or the package's)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--json", action="store_true")


COMMANDS = ("evaluate", "benchmark", "predict")


def run(args) -> int | None:
    if args.command not in COMMANDS:
        return None
    if args.command == "predict" and args.package:
        from .deploy import predict_package

        return predict_package(args)
    from ..evaluate import evaluate_model
    from ..progress import cli_progress
    from ..project import Project

    if args.command == "predict":
        from ..errors import TesseraError
        from ..predict import predict_image

        if len(args.paths) != 1 or args.model is None or args.image is None:
            raise TesseraError("predict takes a project folder with --model ID --image NAME "
                               "(or --package PKG with image files)")
        with Project.open(args.paths[0]) as project:
            image = project.images.find(args.image)
            n = predict_image(project, args.model, image.id, 0.25 if args.conf is None else args.conf, args.device)
        print(json.dumps({"model": args.model, "image": image.id, "predictions": n}) if args.json
              else f"{n} predictions of model {args.model} on {image.name} (press H in the studio to show or hide them)")
        return 0
    if args.command == "benchmark":
        from ..errors import TesseraError
        from ..evaluate.report import build_report

        try:
            ids = [int(v) for v in args.models.split(",") if v.strip()]
        except ValueError:
            raise TesseraError(f"--models takes model ids separated by commas, got {args.models!r}") from None
        with Project.open(args.dir) as project:
            progress = cli_progress()
            path = build_report(project, ids, args.out, args.device, args.overlays, progress)
            progress.close()
        print(f"report: {path} (and report.md, report.json beside it)")
        return 0
    with Project.open(args.dir) as project:
        progress = cli_progress()
        result = evaluate_model(project, args.model, progress, args.device, not args.no_efficiency)
        progress.close()
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"model {result['model']} ({result['pipeline']}, {result['architecture']}) on {result['images']} images")
    for key in ("miou", "map50", "map50_95", "accuracy", "macro_f1"):
        if key in result:
            print(f"  {key:12s} {result[key]:.4f}")
    per_class = result["metrics"].get("per_class_iou") or result["metrics"].get("per_class_ap50_95") or {}
    for name, value in per_class.items():
        print(f"    {name:20s} {'-' if value is None else f'{value:.4f}'}")
    eff = result.get("efficiency")
    if eff:
        print(f"  parameters   {eff['parameters']:,}   FLOPs {eff['flops'] / 1e9:.2f} G at {eff['input_size']}px")
        for key, v in eff.items():
            if key.startswith("batch_"):
                print(f"  batch {v['batch']:<4d}   {v['latency_ms']:.1f} ms, {v['fps']:.1f} images/s ({eff['device']})")
        print(f"  peak memory  {eff['peak_memory_mb']:.0f} MB ({eff['memory_kind']})")
    return 0
