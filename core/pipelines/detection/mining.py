"""``detection-mining``: hard-negative mining as one chained job.

Each round predicts with the current model on the annotated training
images, collects its false positives (predictions that match no annotation
of their class at IoU ``match_iou``), adds them to the training set as hard
negatives (crops around each false positive that touch no annotation, saved
as images without labels, and/or the images that hold them once more), and
retrains from the current model.  The job's epochs run on across rounds (the
curves are one run); each round's false-positive count and validation
metrics go into ``mining_report.json`` and onto the round's last epoch."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ...jobs.checkpoints import load_checkpoint
from ...jobs.context import JobContext, TrainResult
from ..devices import ultralytics_device
from ..reader import ProjectReader
from . import SHAPES
from .infer import predict
from .train import Bridge, add_callbacks, build_model, export_state, fit, start_checkpoint, write_snapshot

CONTEXT = 0.5  # a crop adds this fraction of the box on every side
MIN_CROP = 32


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every box in ``a`` (n, 4) with every box in ``b`` (m, 4), x1 y1 x2 y2."""
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)))
    x1 = np.maximum(a[:, None, 0], b[None, :, 0])
    y1 = np.maximum(a[:, None, 1], b[None, :, 1])
    x2 = np.minimum(a[:, None, 2], b[None, :, 2])
    y2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area = lambda r: (r[:, 2] - r[:, 0]) * (r[:, 3] - r[:, 1])  # noqa: E731
    return inter / np.maximum(area(a)[:, None] + area(b)[None, :] - inter, 1e-9)


def false_positives(pred_boxes, pred_classes, gt_boxes, gt_classes, iou: float) -> np.ndarray:
    """Indices of predictions that match no annotation of their class at ``iou``."""
    pred_boxes, gt_boxes = np.asarray(pred_boxes, float).reshape(-1, 4), np.asarray(gt_boxes, float).reshape(-1, 4)
    m = iou_matrix(pred_boxes, gt_boxes)
    same = np.asarray(pred_classes)[:, None] == np.asarray(gt_classes)[None, :]
    matched = ((m >= iou) & same).any(1) if m.size else np.zeros(len(pred_boxes), bool)
    return np.flatnonzero(~matched)


def negative_crop(fp: np.ndarray, gt_boxes: np.ndarray, width: int, height: int) -> tuple[int, int, int, int] | None:
    """A window around a false positive that touches no annotation, or None."""
    x1, y1, x2, y2 = fp
    dx, dy = (x2 - x1) * CONTEXT, (y2 - y1) * CONTEXT
    box = np.array([max(0, x1 - dx), max(0, y1 - dy), min(width, x2 + dx), min(height, y2 + dy)])
    if box[2] - box[0] < MIN_CROP or box[3] - box[1] < MIN_CROP:
        return None
    gt = np.asarray(gt_boxes, float).reshape(-1, 4)
    if len(gt) and ((np.minimum(box[2], gt[:, 2]) > np.maximum(box[0], gt[:, 0]))
                    & (np.minimum(box[3], gt[:, 3]) > np.maximum(box[1], gt[:, 1]))).any():
        return None
    return tuple(int(round(v)) for v in box)


def mine(ctx: JobContext, state: dict, round_no: int, out: Path | None) -> dict:
    """One pass over the training images with ``state``'s model: false
    positives counted, hard-negative crops written to ``out/images`` with
    empty label files in ``out/labels`` (where ultralytics looks for them)."""
    cfg = ctx.config
    project = ctx.project
    net = build_model(state).to("cpu")
    channel_class = [c["id"] for c in state["classes"]]
    reader = ProjectReader(str(project.root))
    if out is not None:
        (out / "images").mkdir(parents=True, exist_ok=True)
        (out / "labels").mkdir(parents=True, exist_ok=True)
    count, images, crops = 0, [], []
    train_ids = [item[0] for item in cfg["snapshot"]["train"]]
    for k, image_id in enumerate(train_ids, 1):
        if ctx.should_stop:
            break
        image = project.images.get(image_id)
        pixels = reader.window(image_id, 0, 0, image.width, image.height)
        found = predict(net, pixels, state["image_size"], conf=cfg["conf"])
        anns = [a for a in project.annotations.for_image(image_id) if a.kind in SHAPES and a.class_id in channel_class]
        gt = np.array([a.bbox for a in anns], float).reshape(-1, 4)
        fps = false_positives(found["boxes"], [channel_class[c] for c in found["classes"]], gt,
                              [a.class_id for a in anns], cfg["match_iou"])
        count += len(fps)
        if len(fps):
            images.append(image_id)
        for n, i in enumerate(fps if out is not None else []):
            window = negative_crop(found["boxes"][i], gt, image.width, image.height)
            if window is not None:
                name = f"r{round_no}_{image_id}_{n}"
                x1, y1, x2, y2 = window
                Image.fromarray(pixels[y1:y2, x1:x2]).save(out / "images" / f"{name}.jpg", quality=92)
                (out / "labels" / f"{name}.txt").touch()  # background: nothing to find here
                crops.append(str((out / "images" / f"{name}.jpg").resolve()))
        if ctx.progress_due():
            start = min(round_no - 1, cfg["rounds"]) * cfg["round_epochs"]
            ctx.progress(epoch=start, epochs=cfg["epochs"], fraction=start / cfg["epochs"], done=k,
                         total=len(train_ids), message=f"round {round_no}: looking for false positives")
    return {"false_positives": count, "images": images, "crops": crops}


def _add_negatives(data_yaml: Path, cfg: dict, negatives: list[dict], project) -> int:
    """Append the hard negatives to the snapshot's training list; returns
    how many lines were added."""
    dataset = data_yaml.parent
    lines = []
    for found in negatives:
        if cfg["negatives"] in ("crops", "both"):
            lines += found["crops"]
        if cfg["negatives"] in ("images", "both"):
            lines += [str((dataset / "images" / "train" / project.images.get(i).name).resolve())
                      for i in found["images"]]
    with open(dataset / "train.txt", "a", encoding="utf-8") as f:
        f.write("".join(line + "\n" for line in lines))
    return len(lines)


def train(ctx: JobContext) -> TrainResult:
    from ultralytics import YOLO

    cfg = ctx.config
    per, rounds = cfg["round_epochs"], cfg["rounds"]
    ctx.checkpoints.suffix = ".pt"
    device = ultralytics_device(cfg["device"])
    states = ctx.run_dir / "rounds"
    states.mkdir(exist_ok=True)
    done = 0
    if ctx.resume:  # carry on after the last finished round
        while (states / f"round-{done + 1}.pt").is_file() and ctx.epochs_done >= (done + 1) * per:
            done += 1
        ctx.project.jobs.truncate_history(ctx.job_id, done * per)
        ctx.log(f"resuming after round {done}")
    report_path = ctx.run_dir / "mining_report.json"
    report = json.loads(report_path.read_text())[:done] if done and report_path.is_file() else []
    state = (load_checkpoint(states / f"round-{done}.pt") if done
             else load_checkpoint(ctx.project.jobs.model(cfg["from_model"]).path))
    negatives_dir = ctx.run_dir / "negatives"
    negatives = [entry["negatives"] for entry in report]  # earlier rounds' negatives stay in the training set
    for round_no in range(done + 1, rounds + 1):
        found = mine(ctx, state, round_no, negatives_dir)
        if ctx.should_stop:
            break
        negatives.append(found)
        data = write_snapshot(ctx)
        added = _add_negatives(data, cfg, negatives, ctx.project)
        ctx.log(f"round {round_no}: {found['false_positives']} false positives on "
                f"{len(found['images'])} training images; {len(found['crops'])} hard-negative crops; "
                f"{added} training entries added")
        model = YOLO(f"{cfg['architecture']}.yaml", task="detect")
        bridge = Bridge(ctx, offset=(round_no - 1) * per)
        add_callbacks(model, bridge)
        fit(ctx, model, data, per, device, name=f"round-{round_no}", pretrained=start_checkpoint(ctx, build_model(state)))
        if bridge.stopped:
            break
        weights = ctx.run_dir / f"round-{round_no}" / "weights"
        source = weights / "best.pt" if (weights / "best.pt").is_file() else weights / "last.pt"
        state = export_state(source, cfg)
        torch.save(state, states / f"round-{round_no}.pt")
        epoch = round_no * per
        entry = {"round": round_no, "false_positives": found["false_positives"],
                 "images_with_false_positives": len(found["images"]), "hard_negative_crops": len(found["crops"]),
                 **{k: round(v, 6) for k, v in bridge.final_metrics.items()}, "negatives": found}
        report.append(entry)
        report_path.write_text(json.dumps(report, indent=2))
        history = ctx.project.jobs.history(ctx.job_id).get(epoch, {})
        ctx.project.jobs.record_epoch(ctx.job_id, epoch, {**history, "false_positives": float(found["false_positives"])})
    epochs_done = ctx.epochs_done
    if len(report) < rounds:
        return TrainResult(ctx.last_checkpoint, cfg["architecture"], cfg["classes"],
                           ctx.project.jobs.history(ctx.job_id).get(epochs_done, {}), epochs_done, stopped=True)
    after = mine(ctx, state, rounds + 1, None)  # what the final model still gets wrong
    report.append({"round": "after", "false_positives": after["false_positives"],
                   "images_with_false_positives": len(after["images"])})
    report_path.write_text(json.dumps(report, indent=2))
    ctx.log("false positives per round: " + ", ".join(f"{r['round']}: {r['false_positives']}" for r in report))
    metrics = {**ctx.project.jobs.history(ctx.job_id).get(epochs_done, {}),
               "false_positives_before": float(report[0]["false_positives"]),
               "false_positives_after": float(after["false_positives"])}
    final = ctx.checkpoints.final(epochs_done, report[-2].get("val_map50_95"), lambda path: torch.save(state, path))
    return TrainResult(final, cfg["architecture"], cfg["classes"], metrics, epochs_done)
