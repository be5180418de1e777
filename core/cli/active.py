"""``tessera score / queue / package / receive``: active learning from a terminal."""
from __future__ import annotations

import json

COMMANDS = ("score", "queue", "package", "receive")


def add_parsers(sub) -> None:
    from ..active.scoring import DEFAULT_SELECTION, METHODS
    from ..active.uncertainty import AGGREGATES, CONFIDENCE_THRESHOLD
    from ..active.uncertainty import METHODS as UNCERTAINTY

    p = sub.add_parser("score", help="score a pool of images with a model; the ranking becomes the queue")
    p.add_argument("dir")
    p.add_argument("--model", type=int, required=True)
    p.add_argument("--method", required=True, choices=METHODS,
                   help="an uncertainty, or a diversity selection: coreset (k-center greedy on backbone embeddings) "
                        "or hybrid (the most uncertain candidates, then a diverse subset of them)")
    p.add_argument("--subset", default="unlabeled",
                   help="which images: unlabeled (default), all, split=NAME, ids=1,2,3 or names=a.jpg,b.jpg "
                        "(names may be patterns: names='dive*')")
    p.add_argument("--top", type=int, help=f"show only the first K; coreset / hybrid select K "
                                           f"(default {DEFAULT_SELECTION})")
    p.add_argument("--aggregate", default="max", choices=AGGREGATES, help="detection: per-box scores to one per image")
    p.add_argument("--uncertainty", default="entropy", choices=UNCERTAINTY, help="hybrid: the uncertainty it ranks by")
    p.add_argument("--conf", type=float, default=0.25, help="detection: boxes under this score are not detections")
    p.add_argument("--threshold", type=float, default=CONFIDENCE_THRESHOLD,
                   help="detection: boxes under this confidence are counted as doubtful (confidence_below)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("queue", help="the active-learning queue, ranked")
    p.add_argument("dir")
    p.add_argument("--state", choices=("pending", "exported", "annotated", "skipped"))
    p.add_argument("--top", type=int)
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("package", help="write the queue's images as an annotation package (ZIP)")
    p.add_argument("dir")
    p.add_argument("--out", required=True, help="the package file, PKG.zip")
    p.add_argument("--top", type=int, help="only the K highest-ranked pending images")
    p.add_argument("--images", help="these image names or ids instead of the queue, comma-separated")
    p.add_argument("--prelabels", action="store_true", help="add the queue model's predictions as suggestions")
    p.add_argument("--conf", type=float, default=0.25, help="pre-labels: lowest detection score kept")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("receive", help="import an annotated package (checked whole before anything is written)")
    p.add_argument("dir")
    p.add_argument("package")
    p.add_argument("--json", action="store_true")


def _image_ids(project, text: str) -> list[int]:
    return [project.images.find(item).id for item in (v.strip() for v in text.split(",") if v.strip())]


def run(args) -> int | None:
    if args.command not in COMMANDS:
        return None
    from ..progress import cli_progress
    from ..project import Project

    with Project.open(args.dir) as project:
        if args.command == "score":
            from ..active.scoring import ScoreOptions, score_pool

            options = ScoreOptions(args.method, args.aggregate, args.uncertainty, args.top, args.conf,
                                   args.threshold, args.seed, args.device)
            progress = cli_progress()
            run = score_pool(project, args.model, options, args.subset, progress)
            progress.close()
            summary = run.summary(project, args.top)
            if args.json:
                print(json.dumps(summary, indent=2))
            else:
                print(f"scored {summary['scored']} images with model {args.model} ({args.method}); the queue:")
                _print_ranked(summary["ranked"])
            for line in run.skipped:
                print(f"skipped: {line}", file=__import__("sys").stderr)
            return 0
        if args.command == "queue":
            items = project.queue.items(args.state, args.top)
            rows = [{"rank": i.rank, "image_id": i.image_id, "image": project.images.get(i.image_id).name,
                     "score": round(i.score, 6), "state": i.state, "model": i.model_id, "method": i.method,
                     **i.details} for i in items]
            if args.json:
                print(json.dumps(rows, indent=2))
            elif not rows:
                print("the queue is empty" + (f" of {args.state} images" if args.state else
                                              ": score a pool with 'tessera score'"))
            else:
                print(f"queue by model {rows[0]['model']} ({rows[0]['method']}):")
                _print_ranked(rows)
            return 0
        if args.command == "package":
            from ..active.package import write_package

            ids = _image_ids(project, args.images) if args.images else None
            progress = cli_progress()
            result = write_package(project, args.out, ids, args.top, args.prelabels, args.conf, progress)
            progress.close()
            print(json.dumps(result, indent=2) if args.json else
                  f"package {result['package']}: {result['images']} images, {result['annotations']} annotations"
                  + (f" ({result['suggestions']} suggestions)" if result["suggestions"] else ""))
            return 0
        if args.command == "receive":
            import sys

            from ..active.package import receive_package

            progress = cli_progress()
            report = receive_package(project, args.package, progress)
            progress.close()
            print(json.dumps(report.to_dict(), indent=2) if args.json else report.summary())
            for line in report.rejected:
                print(f"rejected: {line}", file=sys.stderr)
            for line in report.warnings:
                print(f"warning: {line}", file=sys.stderr)
            return 0
    raise AssertionError(args.command)


def _print_ranked(rows: list[dict]) -> None:
    for row in rows:
        extra = ""
        if "confidence_below" in row:
            extra = f"  {row['boxes']} boxes, {row['confidence_below']} doubtful"
        elif "predicted" in row:
            extra = f"  {row['predicted']} {row['probability']:.2f}"
        state = f"  [{row['state']}]" if "state" in row else ""
        mark = " *" if row.get("selected") else ""
        print(f"  {row['rank']:4d}  {row['score']:.4f}  {row['image']}{extra}{state}{mark}")
