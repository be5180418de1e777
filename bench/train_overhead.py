"""Does the studio add training overhead?  Images per second of

* the ``segmentation`` pipeline (a job in a worker) against a minimal
  hand-written smp + PyTorch loop on the same windows, model, loss and batch;
* the ``detection`` pipeline against a bare ``YOLO(...).train(...)`` on the
  same YOLO dataset snapshot.

    python bench/train_overhead.py [--epochs 4] [--device cpu|cuda] [--size full|small] [--scale N] [--no-amp]

Each epoch is timed from its first batch to the end of its validation, the
first epoch is left out (warm-up), and the ratio pipeline / bare is printed as
JSON (goal: >= 0.95).  Not a test: run by hand and record the figures."""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("TESSERA_HOME", tempfile.mkdtemp(prefix="tessera-bench-"))

from core.appdirs import configure_environment  # noqa: E402

configure_environment()


def _rate(images: int, seconds: list[float]) -> float:
    steady = seconds[1:] or seconds
    return images / statistics.median(steady)


def run_job(project, pipeline: str, values: dict) -> tuple[int, dict]:
    from core.jobs.runner import JobProcess, create_job

    job_id = create_job(project, pipeline, values)
    final = JobProcess(project.root, job_id).start().run()
    if final.type != "completed":
        raise SystemExit(f"{pipeline} job failed: {final.data}")
    return job_id, project.jobs.history(job_id)


def bench_segmentation(project, args) -> dict:
    import segmentation_models_pytorch as smp
    import torch
    from torch.utils.data import DataLoader

    from core.pipelines.segmentation.data import IGNORE, SegmentationWindows, class_lut
    from core.pipelines.segmentation.module import build_network

    values = {"architecture": "unet", "encoder": "resnet18", "image_size": str(args.seg_size),
              "batch_size": str(args.batch), "epochs": str(args.epochs), "workers": str(args.workers),
              "device": args.device, "weighted_sampling": "false", "amp": str(args.amp).lower()}
    job_id, history = run_job(project, "segmentation", values)
    cfg = project.jobs.get(job_id).config
    n_train = len(cfg["snapshot"]["train"]) // args.batch * args.batch
    pipeline = _rate(n_train, [history[e]["epoch_seconds"] for e in sorted(history)])

    device = "cuda" if args.device.startswith("cuda") else "cpu"
    lut = class_lut(cfg["classes"])
    train_set = SegmentationWindows(str(project.root), cfg["snapshot"]["train"], lut, cfg["image_size"], True)
    val_set = SegmentationWindows(str(project.root), cfg["snapshot"]["val"], lut, cfg["image_size"], False)
    keep = args.workers > 0  # the pipeline keeps its loader processes between epochs too
    loader = DataLoader(train_set, batch_size=args.batch, shuffle=True, drop_last=True, num_workers=args.workers,
                        persistent_workers=keep)
    val_loader = DataLoader(val_set, batch_size=args.batch, num_workers=args.workers, persistent_workers=keep)
    net = build_network("unet", "resnet18", len(cfg["classes"])).to(device)
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3, weight_decay=1e-4)
    ce, dice = torch.nn.CrossEntropyLoss(ignore_index=IGNORE), smp.losses.DiceLoss("multiclass", ignore_index=IGNORE)
    amp = device == "cuda" and args.amp
    seconds = []
    for _ in range(args.epochs):
        t = time.perf_counter()
        net.train()
        for x, y in loader:
            x, y = x.to(device), y.to(device)
            with torch.autocast(device, dtype=torch.bfloat16, enabled=amp):
                logits = net(x)
                loss = ce(logits, y) + dice(logits, y)
            opt.zero_grad()
            loss.backward()
            opt.step()
        net.eval()
        with torch.no_grad():
            for x, y in val_loader:
                net(x.to(device)).argmax(1)
        if device == "cuda":
            torch.cuda.synchronize()
        seconds.append(time.perf_counter() - t)
    bare = _rate(len(loader) * args.batch, seconds)
    return {"pipeline_images_per_s": round(pipeline, 2), "bare_loop_images_per_s": round(bare, 2),
            "ratio": round(pipeline / bare, 3), "train_windows": n_train, "image_size": args.seg_size,
            "model": "unet/resnet18", "batch": args.batch, "amp": amp}


def bench_detection(project, args) -> dict:
    from ultralytics import YOLO

    values = {"architecture": "yolov8n", "image_size": str(args.det_size), "batch_size": str(args.batch),
              "epochs": str(args.epochs), "workers": str(args.workers), "device": args.device,
              "critical_oversample": "1", "amp": str(args.amp).lower()}
    job_id, history = run_job(project, "detection", values)
    n_train = len(project.jobs.get(job_id).config["snapshot"]["train"])
    pipeline = _rate(n_train, [history[e]["epoch_seconds"] for e in sorted(history)])
    data = project.runs_dir / f"job-{job_id:04d}" / "dataset" / "data.yaml"
    seconds, start = [], {}
    model = YOLO("yolov8n.yaml")
    model.add_callback("on_train_epoch_start", lambda tr: start.__setitem__("t", time.perf_counter()))
    model.add_callback("on_fit_epoch_end", lambda tr: start.get("t") and seconds.append(time.perf_counter() - start.pop("t")))
    with tempfile.TemporaryDirectory() as tmp:
        model.train(data=str(data), epochs=args.epochs, imgsz=args.det_size, batch=args.batch, workers=args.workers,
                    device="0" if args.device.startswith("cuda") else "cpu", optimizer="AdamW", lr0=0.001,
                    warmup_epochs=0, plots=False, verbose=False, project=tmp, name="bare", exist_ok=True,
                    pretrained=False, deterministic=False, amp=args.amp)
    bare = _rate(n_train, seconds)
    return {"pipeline_images_per_s": round(pipeline, 2), "bare_yolo_images_per_s": round(bare, 2),
            "ratio": round(pipeline / bare, 3), "train_images": n_train, "image_size": args.det_size,
            "model": "yolov8n", "batch": args.batch}


def _demo(root: Path, kind: str, args):
    """The demo data of ``kind``, ``--scale`` times over (other seeds): enough
    batches per epoch that a GPU's epoch is not all start-up."""
    from core.demo import build_demo

    for seed in range(args.scale):
        project, _ = build_demo(root, kind, args.size, seed=seed)
        if seed < args.scale - 1:
            project.close()
    return project


def _same_allocator_as_the_worker() -> None:
    """Re-run this script under the worker's malloc settings, so that the bare
    loops are measured in the same conditions as the jobs (glibc reads them
    at start-up only)."""
    from core.jobs.runner import WORKER_MALLOC, worker_environment

    if any(os.environ.get(k) != v for k, v in WORKER_MALLOC.items()) and not os.environ.get("TESSERA_BENCH_MALLOC"):
        env = worker_environment()
        env["TESSERA_BENCH_MALLOC"] = "1"
        os.execve(sys.executable, [sys.executable, *sys.argv], env)


def main() -> None:
    _same_allocator_as_the_worker()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--size", default="full", choices=("small", "full"))
    parser.add_argument("--seg-size", type=int, default=256)
    parser.add_argument("--det-size", type=int, default=320)
    parser.add_argument("--only", choices=("segmentation", "detection"))
    parser.add_argument("--scale", type=int, default=1, help="the demo data this many times over (for a GPU)")
    parser.add_argument("--no-amp", dest="amp", action="store_false",
                        help="full precision on the GPU as well (mixed precision is the default there)")
    args = parser.parse_args()
    out = {"scale": args.scale, "device": args.device, "epochs": args.epochs, "demo_size": args.size, "amp": args.amp}
    with tempfile.TemporaryDirectory() as tmp:
        if args.only in (None, "segmentation"):
            project = _demo(Path(tmp) / "seg", "segmentation", args)
            with project:
                out["segmentation"] = bench_segmentation(project, args)
        if args.only in (None, "detection"):
            project = _demo(Path(tmp) / "det", "detection", args)
            with project:
                out["detection"] = bench_detection(project, args)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
