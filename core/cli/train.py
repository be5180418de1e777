"""``tessera train / jobs / stop / pipelines``: the training engine from a terminal."""
from __future__ import annotations

import json
import signal
import sys
from pathlib import Path

from ..errors import TesseraError


def add_parsers(sub) -> None:
    p = sub.add_parser("train", help="train a model (runs in a worker process)")
    p.add_argument("dir")
    p.add_argument("--pipeline", help="pipeline name (see 'tessera pipelines')")
    p.add_argument("--set", dest="values", action="append", default=[], metavar="KEY=VALUE",
                   help="a pipeline parameter; repeat for several")
    p.add_argument("--from-model", type=int, help="start from the weights of this model")
    p.add_argument("--resume", type=int, metavar="JOB", help="resume a stopped or interrupted job")
    p.add_argument("--json-events", action="store_true", help="print the worker's events as JSON lines")
    p.add_argument("--create-only", action="store_true",
                   help="store the job without starting it and print the command that runs it (e.g. under torchrun "
                        "on a cluster: docs/multi_gpu.md)")

    p = sub.add_parser("mine", help="hard-negative mining: rounds of predict, collect false positives, retrain "
                                    "(a detection-mining job)")
    p.add_argument("dir")
    p.add_argument("--model", type=int, required=True, help="the detection model to start from")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--conf", type=float, default=0.25, help="lowest prediction score that counts as a detection")
    p.add_argument("--set", dest="values", action="append", default=[], metavar="KEY=VALUE",
                   help="any other detection-mining parameter (round_epochs, negatives, image_size, ...)")
    p.add_argument("--json-events", action="store_true")

    p = sub.add_parser("jobs", help="every job of a project with its state")
    p.add_argument("dir")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("stop", help="stop a running job (it saves a checkpoint first)")
    p.add_argument("dir")
    p.add_argument("job", type=int)

    p = sub.add_parser("pipelines", help="the training pipelines and their parameters")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("pairs-preview", help="the pair sampling report of the training frames, before training")
    p.add_argument("dir")
    p.add_argument("--set", dest="values", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("worker", help="run one job (how the app starts its workers)")
    p.add_argument("--project", required=True)
    p.add_argument("--job", type=int, required=True)
    p.add_argument("--resume", action="store_true")


COMMANDS = ("train", "mine", "jobs", "stop", "pipelines", "worker", "pairs-preview")


def run(args) -> int | None:
    """Handle a training command; ``None`` for commands that are not ours."""
    if args.command not in COMMANDS:
        return None
    if args.command == "pipelines":
        return _pipelines(args.json)
    if args.command == "worker":
        from ..jobs.worker import run_job

        return run_job(args.project, args.job, args.resume)
    from ..project import Project

    if args.command == "train":
        return _train(args)
    if args.command == "mine":
        args.values = [f"rounds={args.rounds}", f"conf={args.conf}", *args.values]
        args.pipeline, args.from_model, args.resume = "detection-mining", args.model, None
        return _train(args)
    with Project.open(args.dir) as project:
        if args.command == "pairs-preview":
            from ..pipelines import parse_assignments
            from ..pipelines.pairs.frames import preview

            report = preview(project, parse_assignments(args.values))
            if args.json:
                print(json.dumps(report, indent=2))
            else:
                for key, value in report.items():
                    print(f"{key:36s} {value:.3f}" if isinstance(value, float) else f"{key:36s} {value}")
            return 0
        if args.command == "jobs":
            project.jobs.mark_vanished()
            jobs = project.jobs.list()
            if args.json:
                print(json.dumps([{**_job_dict(j), "history": project.jobs.history(j.id)} for j in jobs], indent=2))
            else:
                for j in jobs:
                    line = f"{j.id:4d}  {j.pipeline:14s} {j.state:11s} epoch {j.epoch}/{j.config.get('epochs', '?')}"
                    print(line + (f"  {j.error}" if j.error else ""))
            return 0
        if args.command == "stop":
            from ..jobs.runner import stop_job

            stop_job(project, args.job)
            print(f"job {args.job}: stop requested; it saves and ends after its current batch")
            return 0
    return None


def _job_dict(j) -> dict:
    return {"id": j.id, "pipeline": j.pipeline, "state": j.state, "epoch": j.epoch, "error": j.error,
            "config": {k: v for k, v in j.config.items() if k != "snapshot"}, "created_at": j.created_at,
            "started_at": j.started_at, "ended_at": j.ended_at, "progress": j.progress}


def _pipelines(as_json: bool) -> int:
    from ..pipelines import all_pipelines

    specs = all_pipelines()
    if as_json:
        print(json.dumps([s.describe() for s in specs], indent=2))
        return 0
    for s in specs:
        print(f"{s.name}: {s.description} (best by {s.main_metric})")
        for p in s.params:
            rng = f" [{p.min:g}..{p.max:g}]" if p.min is not None and p.max is not None else ""
            ch = f" {{{', '.join(map(str, p.choices))}}}" if p.choices else ""
            print(f"  {p.name:18s} {p.type:5s} = {p.default!r}{rng}{ch}  ({p.group}) {p.help}")
    return 0


def _train(args) -> int:
    from ..jobs.runner import JobProcess, create_job
    from ..pipelines import parse_assignments
    from ..project import Project

    with Project.open(args.dir) as project:
        if args.resume is not None:
            project.jobs.mark_vanished()
            job_id, resume = args.resume, True
            job = project.jobs.get(job_id)
            if args.pipeline and args.pipeline != job.pipeline:
                raise TesseraError(f"job {job_id} is a {job.pipeline} job, not {args.pipeline}")
        else:
            if not args.pipeline:
                raise TesseraError("--pipeline is required (see 'tessera pipelines')")
            job_id = create_job(project, args.pipeline, parse_assignments(args.values), args.from_model)
            resume = False
        epochs = project.jobs.get(job_id).config["epochs"]
    if getattr(args, "create_only", False):
        worker = f"tessera worker --project {Path(args.dir).resolve()} --job {job_id}" + (" --resume" if resume else "")
        print(f"job {job_id} stored (queued); run it with\n  {worker}\nor in several processes on every node of a "
              f"cluster (docs/multi_gpu.md):\n  tessera torchrun --nnodes N --nproc-per-node G --rdzv-backend c10d "
              f"--rdzv-endpoint HOST:29500 --no-python {worker}")
        return 0
    process = JobProcess(args.dir, job_id, resume=resume).start()
    print(f"job {job_id} started (log: {process.log_path})", file=sys.stderr)
    stopping = {"asked": False}

    def on_sigint(*_):
        if not stopping["asked"]:
            stopping["asked"] = True
            print("\nstopping: finishing the batch and saving (Ctrl-C again to kill)", file=sys.stderr)
            process.stop()
        else:
            process.kill()

    old = signal.signal(signal.SIGINT, on_sigint)
    bar = None
    try:
        if args.json_events:
            final = process.run(lambda e: print(json.dumps({"v": 1, "type": e.type, **e.data}), flush=True))
        else:
            from tqdm import tqdm

            bar = tqdm(total=epochs, unit="epoch", file=sys.stderr, dynamic_ncols=True)
            final = process.run(lambda e: _draw(bar, e))
    finally:
        signal.signal(signal.SIGINT, old)
        if bar is not None:
            bar.close()
    if final.type == "completed":
        print(f"job {job_id} completed: model {final.get('model')} ({final.get('path')})")
        _print_mining(Path(args.dir), job_id)
        return 0
    if final.type == "stopped":
        print(f"job {job_id} stopped after epoch {final.get('epoch')}; resume with: "
              f"tessera train {args.dir} --resume {job_id}")
        return 0
    print(f"tessera: job {job_id} failed: {final.get('error')}", file=sys.stderr)
    return 1


def _print_mining(root: Path, job_id: int) -> None:
    path = root / "runs" / f"job-{job_id:04d}" / "mining_report.json"
    if not path.is_file():
        return
    print("round  false positives  images  crops  val mAP50  val mAP50-95")
    for r in json.loads(path.read_text()):
        print(f"{str(r['round']):>5s}  {r['false_positives']:15d}  {r['images_with_false_positives']:6d}  "
              f"{r.get('hard_negative_crops', ''):>5}  {r.get('val_map50', float('nan')):9.4f}  "
              f"{r.get('val_map50_95', float('nan')):11.4f}")


def _draw(bar, event) -> None:
    if event.type == "progress":
        frac = event.get("fraction") or 0
        bar.n = round(frac * bar.total, 2)
        loss = event.get("loss")
        text = f"epoch {event.get('epoch')}/{event.get('epochs')}" + (f" loss {loss:.4f}" if loss is not None else "")
        if getattr(bar, "main_metric", None):
            text += f" {bar.main_metric}"
        bar.set_postfix_str(text, refresh=False)
        bar.refresh()
    elif event.type == "epoch":
        bar.n = event.get("epoch")
        bar.refresh()
        m = event.get("metrics", {})
        shown = {k: m[k] for k in ("train_loss", "val_loss", "val_miou", "val_map50", "val_map50_95", "val_accuracy",
                                   "val_f1", "val_knn_accuracy") if k in m}
        main = next((k for k in ("val_miou", "val_map50_95", "val_f1", "val_accuracy", "val_knn_accuracy")
                     if k in m), None)
        if main:
            bar.main_metric = f"{main} {m[main]:.4f}"
        bar.write(f"epoch {event.get('epoch')}: " + ", ".join(f"{k} {v:.4f}" for k, v in shown.items()))
    elif event.type == "completed":
        bar.n = bar.total
        bar.refresh()
    elif event.type == "log":
        bar.write(f"[{event.get('level')}] {event.get('message')}")
