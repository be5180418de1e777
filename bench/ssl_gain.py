"""Does self-supervised pre-training help?  On the demo data with few labels,
fine-tune segmentation and detection from a MoCo v3 backbone pre-trained on
the task's own training images (their labels unused) and from fresh weights,
with the same budget, over several seeds.

    python bench/ssl_gain.py [--size small|full] [--fraction 0.1] [--seeds 0,1,2]
                             [--ssl-epochs 60] [--epochs 30] [--tasks segmentation,detection]
                             [--device cpu] [--out bench-out/ssl]

The labels of all but ``fraction`` of each task's training images are
hidden (those images leave the splits); the pre-training sees every
training image of the task's domain (land-cover tiles: resnet18 encoder of a
Unet; underwater frames: the yolov8n backbone).  Each fine-tuning is a real
job in a worker; its best validation metric (segmentation mIoU, detection
mAP@0.5) is recorded.  JSON out (also ``ssl_gain.json`` and ``ssl_gain.png``
in ``--out``).  Not a test: run by hand and record the figures."""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.appdirs import configure_environment  # noqa: E402

#: per task: the images of its domain, the backbone, and the fine-tuning job
TASKS = {
    "segmentation": {"names": ("Train/", "Val/", "Test/"), "backbone": "resnet18", "metric": "val_miou",
                     "job": {"architecture": "unet", "encoder": "resnet18", "learning_rate": 0.001}},
    "detection": {"names": ("dive",), "backbone": "yolov8n", "metric": "val_map50",
                  "job": {"architecture": "yolov8n", "learning_rate": 0.002, "close_mosaic": 5}},
}


def _run(root: Path, pipeline: str, values: dict) -> tuple[int, int]:
    from core.jobs.runner import JobProcess, create_job
    from core.project import Project

    with Project.open(root) as project:
        job_id = create_job(project, pipeline, values)
    final = JobProcess(root, job_id).start().run()
    if final.type != "completed":
        raise SystemExit(f"{pipeline} job {job_id} did not complete: {final.data}")
    return job_id, int(final.get("model"))


def prepare(root: Path, fraction: float, seed: int = 0) -> dict[str, dict]:
    """Keep each task's validation images and ``fraction`` of its training
    images in the splits; every other image leaves them (its labels unused)."""
    from core.project import Project

    rng = np.random.default_rng(seed)
    out = {}
    with Project.open(root) as project:
        images = project.images.list()
        assignments = {im.id: None for im in images}
        for task, spec in TASKS.items():
            domain = [im for im in images if im.name.startswith(spec["names"])]
            train = sorted(im.id for im in domain if im.split == "train")
            val = [im.id for im in domain if im.split == "val"]
            keep = sorted(int(i) for i in rng.choice(train, max(2, round(fraction * len(train))), replace=False))
            assignments.update({i: "train" for i in keep} | {i: "val" for i in val})
            out[task] = {"pretrain_ids": train, "labelled": keep, "val": len(val)}
        project.images.set_split(assignments)
    return out


def pretrain(root: Path, task: str, ids: list[int], args) -> dict:
    spec = TASKS[task]
    size = 96 if task == "segmentation" else args.image_size
    t0 = time.monotonic()
    job_id, model_id = _run(root, "ssl-pretrain", {
        "architecture": spec["backbone"], "images": "ids=" + ",".join(map(str, ids)), "epochs": args.ssl_epochs,
        "image_size": size, "batch_size": 32, "crops_per_image": args.crops_per_image, "window": 512,
        "learning_rate": 0.002, "warmup_epochs": max(1, args.ssl_epochs // 10), "mlp_dim": 1024,
        "out_dim": 128, "knn_samples": 0, "workers": 0, "device": args.device, "seed": 0})
    from core.project import Project

    with Project.open(root) as project:
        history = project.jobs.history(job_id)
    return {"model": model_id, "minutes": round((time.monotonic() - t0) / 60, 1),
            "loss_first": round(history[1]["train_loss"], 4), "loss_last": round(history[max(history)]["train_loss"], 4)}


def finetune(root: Path, task: str, backbone: int | None, seed: int, args) -> float:
    from core.project import Project

    spec = TASKS[task]
    values = {**spec["job"], "epochs": args.epochs, "image_size": 128 if task == "segmentation" else args.image_size,
              "batch_size": 4 if task == "segmentation" else 8, "workers": 0, "seed": seed, "device": args.device}
    if backbone is not None:
        values["encoder_from"] = backbone
    job_id, _ = _run(root, task, values)
    with Project.open(root) as project:
        return round(max(m.get(spec["metric"], 0.0) for m in project.jobs.history(job_id).values()), 4)


def plot(results: dict, path: Path) -> None:
    """One panel per task: each seed's best metric as a dot, the mean ± std as a bar."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(results), figsize=(4.2 * len(results), 3.8), dpi=120, squeeze=False)
    for ax, (task, r) in zip(axes[0], results.items()):
        for x, (start, color) in enumerate((("fresh", "tab:gray"), ("ssl", "tab:blue"))):
            values = list(r[start].values())
            ax.bar(x, np.mean(values), yerr=np.std(values), width=0.5, color=color, alpha=0.35, capsize=6)
            ax.scatter([x] * len(values), values, color=color, zorder=3)
        ax.set_xticks([0, 1], ["fresh weights", "MoCo v3 backbone"])
        ax.set_ylabel(f"best {TASKS[task]['metric']}")
        ax.set_title(f"{task}: {r['labelled']} labelled training images")
        ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    fig.savefig(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", default="small", choices=("small", "full"))
    parser.add_argument("--fraction", type=float, default=0.1)
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--tasks", default=",".join(TASKS))
    parser.add_argument("--ssl-epochs", type=int, default=60)
    parser.add_argument("--crops-per-image", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--image-size", type=int, default=160, help="detection image size (and its pre-training)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", default="bench-out/ssl")
    args = parser.parse_args()
    configure_environment()
    from core.demo import build_demo

    out = Path(args.out)
    root = out / "project"
    if root.exists():
        shutil.rmtree(root)
    out.mkdir(parents=True, exist_ok=True)
    project, _ = build_demo(root, "all", args.size)
    project.close()
    chosen = prepare(root, args.fraction)
    started = time.monotonic()
    results = {}
    for task in args.tasks.split(","):
        ssl = pretrain(root, task, chosen[task]["pretrain_ids"], args)
        r = {"labelled": len(chosen[task]["labelled"]), "val_images": chosen[task]["val"],
             "pretrain_images": len(chosen[task]["pretrain_ids"]), "pretraining": ssl, "fresh": {}, "ssl": {}}
        for seed in (int(s) for s in args.seeds.split(",")):
            r["fresh"][str(seed)] = finetune(root, task, None, seed, args)
            r["ssl"][str(seed)] = finetune(root, task, ssl["model"], seed, args)
            print(f"{task} seed {seed}: fresh {r['fresh'][str(seed)]}, ssl {r['ssl'][str(seed)]}", file=sys.stderr)
        for start in ("fresh", "ssl"):
            values = list(r[start].values())
            r[f"{start}_mean"], r[f"{start}_std"] = round(float(np.mean(values)), 4), round(float(np.std(values)), 4)
        r["gain"] = round(r["ssl_mean"] - r["fresh_mean"], 4)
        results[task] = r
    report = {"settings": vars(args), "metric": {t: TASKS[t]["metric"] for t in results}, "results": results,
              "minutes": round((time.monotonic() - started) / 60, 1)}
    (out / "ssl_gain.json").write_text(json.dumps(report, indent=2))
    plot(results, out / "ssl_gain.png")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
