"""``tessera``: the command line over the core engine.

Every error a user can cause prints one line naming the file and the problem
and exits with status 2; long work draws a progress bar on stderr."""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from ..appdirs import configure_environment
from ..errors import TesseraError

EXIT_USAGE = 2


def build_parser() -> argparse.ArgumentParser:
    from ..demo import KINDS, SIZES
    from ..formats import EXPORT_FORMATS, IMPORT_FORMATS

    parser = argparse.ArgumentParser(prog="tessera", description="Tessera Studio: annotate, train, export.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("init", help="create a project folder")
    p.add_argument("dir", type=Path)
    p.add_argument("--name", help="project name (default: the folder's name)")

    p = sub.add_parser("import", help="import a dataset into a project")
    p.add_argument("dir", type=Path)
    p.add_argument("--format", required=True, choices=IMPORT_FORMATS)
    p.add_argument("source", type=Path, help="COCO: the JSON file; YOLO: data.yaml or its folder; others: the folder")
    p.add_argument("--images", type=Path, help="COCO: the images folder (default: the JSON's folder)")
    p.add_argument("--split", help="put every imported image in this split")
    p.add_argument("--json", action="store_true", help="print the import report as JSON")

    p = sub.add_parser("export", help="export a project to a dataset format")
    p.add_argument("dir", type=Path)
    p.add_argument("--format", required=True, choices=EXPORT_FORMATS)
    p.add_argument("out", type=Path)
    p.add_argument("--yolo-task", choices=("auto", "detect", "segment"), default="auto",
                   help="YOLO: detection boxes or segmentation polygons (auto: polygons when there are any)")
    p.add_argument("--json", action="store_true", help="print the export report as JSON")

    p = sub.add_parser("info", help="what a project holds")
    p.add_argument("dir", type=Path)
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("split", help="divide images into train/val/test")
    p.add_argument("dir", type=Path)
    p.add_argument("--ratios", default="0.7,0.15,0.15", help="train,val,test (default 0.7,0.15,0.15)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--all", action="store_true", help="reassign every image, not only those without a split")

    p = sub.add_parser("tiles", help="cut images into a training tile set")
    p.add_argument("dir", type=Path)
    p.add_argument("--size", type=int, default=512, help="tile side in pixels (default 512)")
    p.add_argument("--overlap", type=int, default=64, help="pixels shared by neighbours (default 64)")
    p.add_argument("--name", help="tile set name (default tiles-SIZE)")
    p.add_argument("--min-side", type=int, default=0,
                   help="only images wider or higher than this (default: all)")

    p = sub.add_parser("demo", help="create a project with synthetic demo data")
    p.add_argument("dir", type=Path)
    p.add_argument("--kind", default="all", choices=KINDS + ("all",))
    p.add_argument("--size", default="small", choices=SIZES)
    p.add_argument("--seed", type=int, default=0)

    p = sub.add_parser("gui", help="open the studio window on a project (without one: the welcome page)")
    p.add_argument("dir", nargs="?", help="project folder")
    p.add_argument("--screenshot", help=argparse.SUPPRESS)
    p.add_argument("--image", help=argparse.SUPPRESS)
    p.add_argument("--zoom", type=float, help=argparse.SUPPRESS)
    p.add_argument("--center", help=argparse.SUPPRESS)
    p.add_argument("--select", type=int, help=argparse.SUPPRESS)  # an annotation id (screenshots)
    p.add_argument("--shortcuts", action="store_true", help=argparse.SUPPRESS)  # the F1 overlay (screenshots)
    p.add_argument("--training", action="store_true", help=argparse.SUPPRESS)  # the training panel, large
    p.add_argument("--train", metavar="PIPELINE", help=argparse.SUPPRESS)  # start a job through the form
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help=argparse.SUPPRESS)
    p.add_argument("--shot-epochs", type=int, default=0, help=argparse.SUPPRESS)  # screenshot after N epochs
    p.add_argument("--compare-newest", type=int, default=0, help=argparse.SUPPRESS)  # models panel comparison
    p.add_argument("--queue", action="store_true", help=argparse.SUPPRESS)  # the queue dock, large, after Next
    p.add_argument("--export-model", type=int, default=0, help=argparse.SUPPRESS)  # the export dialog, run, shot
    p.add_argument("--about", action="store_true", help=argparse.SUPPRESS)  # Help → About (screenshots)

    p = sub.add_parser("doctor", help="versions, CUDA devices, TensorRT, free disk and the app's folders: what this "
                                      "installation runs on, and what looks wrong")
    p.add_argument("dir", nargs="?", type=Path, help="a project folder (its free disk space; default: here)")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("torchrun", add_help=False,
                       help="PyTorch's torchrun, as bundled with the app: starts a job's worker in several processes "
                            "(DDP; see docs/multi_gpu.md); every argument goes to torchrun")
    p.add_argument("args", nargs=argparse.REMAINDER)

    from . import active, deploy, evaluate, train
    train.add_parsers(sub)
    evaluate.add_parsers(sub)
    active.add_parsers(sub)
    deploy.add_parsers(sub)
    return parser


def _progress():
    from ..progress import cli_progress

    return cli_progress()


def _print_report(report, as_json: bool) -> None:
    if as_json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        print(report.summary())
    for issue in report.skipped:
        print(f"skipped: {issue}", file=sys.stderr)
    for issue in report.warnings:
        print(f"warning: {issue}", file=sys.stderr)


def _summary_text(s: dict) -> str:
    lines = [f"{s['project']}  ({s['path']})",
             f"  images       {s['images']}   splits: " + ", ".join(f"{k} {v}" for k, v in sorted(s["splits"].items())),
             f"  annotations  {s['annotations']}   " + ", ".join(f"{k} {v}" for k, v in sorted(s["annotations_by_kind"].items())),
             f"  masks        {s['masks']}",
             f"  relations    {s['relations']} pairs, {s['groups']} groups",
             f"  classes      {len(s['classes'])}: " + ", ".join(
                 c + (" (critical)" if c in s["critical_classes"] else "") for c in s["classes"])]
    if s["tile_sets"]:
        lines.append("  tile sets    " + ", ".join(f"{k} ({v} tiles)" for k, v in s["tile_sets"].items()))
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from ..project import Project
    from . import active, deploy, evaluate, train

    if args.command == "gui":  # the GUI lives in studio/; core itself never imports Qt
        import importlib

        center = tuple(float(v) for v in args.center.split(",")) if args.center else None
        from ..pipelines import parse_assignments

        training = {"show": args.training or bool(args.train), "pipeline": args.train,
                    "values": parse_assignments(args.set), "shot_epochs": args.shot_epochs,
                    "compare_newest": args.compare_newest, "queue": args.queue,
                    "export_model": args.export_model, "about": args.about}
        return importlib.import_module("studio.app").main(args.dir, args.screenshot, args.image, args.zoom, center,
                                                            args.select, args.shortcuts, training)
    for module in (train, evaluate, active, deploy):
        handled = module.run(args)
        if handled is not None:
            return handled

    if args.command == "doctor":
        from ..doctor import diagnose, text

        report = diagnose(args.dir)
        print(json.dumps(report, indent=2) if args.json else text(report))
        return 0
    if args.command == "init":
        with Project.init(args.dir, name=args.name) as project:
            print(f"created project {project.name} in {project.root}")
        return 0
    if args.command == "demo":
        from ..demo import build_demo

        progress = _progress()
        project, reports = build_demo(args.dir, args.kind, args.size, args.seed, progress=progress)
        progress.close()
        for r in reports:
            print(r.summary())
        print(_summary_text(project.summary()))
        project.close()
        return 0
    with Project.open(args.dir) as project:
        if args.command == "import":
            from ..formats import import_dataset

            progress = _progress()
            report = import_dataset(project, args.format, args.source, images=args.images,
                                    split=args.split, progress=progress)
            progress.close()
            _print_report(report, args.json)
            if report.nothing_done and (report.skipped or not report.images):
                print(f"tessera: error: nothing could be imported from {args.source}", file=sys.stderr)
                return EXIT_USAGE
            return 0
        if args.command == "export":
            from ..formats import export_dataset

            options = {"task": args.yolo_task} if args.format == "yolo" else {}
            progress = _progress()
            report = export_dataset(project, args.format, args.out, progress=progress, **options)
            progress.close()
            _print_report(report, args.json)
            return 0
        if args.command == "info":
            summary = project.summary()
            print(json.dumps(summary, indent=2) if args.json else _summary_text(summary))
            return 0
        if args.command == "split":
            from ..project.splits import assign_splits, parse_ratios

            counts = assign_splits(project, parse_ratios(args.ratios), args.seed, reassign=args.all)
            print("splits: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
            return 0
        if args.command == "tiles":
            ids = [im.id for im in project.images.list()
                   if max(im.width, im.height) > args.min_side]
            name = args.name or f"tiles-{args.size}"
            progress = _progress()
            project.tiles.create(name, args.size, args.overlap, image_ids=ids, progress=progress)
            progress.close()
            tiles = project.tiles.tiles(name)
            print(f"tile set {name}: {len(tiles)} tiles from {len(ids)} images, "
                  f"{sum(t.annotated for t in tiles)} annotated")
            return 0
    raise AssertionError(f"unhandled command {args.command}")


def torchrun(argv: list[str]) -> int:
    """torchrun itself (the packaged app has no ``python -m torch.distributed.run``)."""
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import main as run

    try:
        run(argv)
    except ChildFailedError:  # torchrun has printed which rank failed and why
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    configure_environment()
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["torchrun"]:  # its own options, which argparse would take for ours
        return torchrun(argv[1:])
    if argv[:1] == ["tile-worker"]:  # the studio's tile drawing process (quick to start: no argparse)
        from ..imagery.workers import serve

        return serve(argv[1])
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return run(args)
    except TesseraError as exc:
        print(f"tessera: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:  # output piped into `head` and closed early
        sys.stdout = open(os.devnull, "w")
        return 0
    except OSError as exc:  # disk full, permission denied, a file where a folder should be
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"tessera: error: {where}{exc.strerror or exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("tessera: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
