"""The detection ensemble preset: three variants of one detector trained on
the same data — recall (confidence 0.15, heavy augmentation), balanced
(0.25, medium) and precision (0.4, light) — and one model that runs all
three and fuses their boxes by weighted box fusion (``ensemble-boxes``).

The ensemble is one registered model (one file holding the three members'
weights) that predicts and evaluates through the detection pipeline's own
``load_model`` / ``predict``, so every place that takes a detection model
takes it."""
from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import torch

from ...jobs.context import JobContext, TrainResult

FORMAT = "tessera-detection-ensemble-v1"
VARIANTS = (("recall", 0.15, "heavy"), ("balanced", 0.25, "medium"), ("precision", 0.4, "light"))


class Ensemble(torch.nn.Module):
    """Members (network, its state, its working confidence) fused by WBF."""

    def __init__(self, members: list[tuple[torch.nn.Module, dict, float]], fusion_iou: float):
        super().__init__()
        self.nets = torch.nn.ModuleList([net for net, _, _ in members])
        self.states = [state for _, state, _ in members]
        self.confidences = [conf for _, _, conf in members]
        self.fusion_iou = fusion_iou
        self.names = self.nets[0].names

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The members' raw outputs stacked (B, members, 4 + K, anchors), as
        the exported package gives them (and what the efficiency profile
        times: the ensemble costs its three members)."""
        outs = [net(x) for net in self.nets]
        return torch.stack([o[0] if isinstance(o, (list, tuple)) else o for o in outs], 1)

    def predict(self, pixels: np.ndarray, conf: float | None, iou: float, max_det: int, device: str
                ) -> dict[str, np.ndarray]:
        """Each member at ``conf`` (None: at its own working confidence),
        fused; boxes seen by fewer members keep that share of their score."""
        from ...export.tta import fuse_detections
        from .infer import predict

        found = [predict(net, pixels, state["image_size"], conf=own if conf is None else conf, iou=iou,
                         max_det=max_det, device=device)
                 for net, state, own in zip(self.nets, self.states, self.confidences)]
        floor = min(self.confidences) if conf is None else conf
        return fuse_detections(found, *pixels.shape[:2], floor, max_det, self.fusion_iou)


def load_ensemble(state: dict) -> tuple[Ensemble, dict]:
    from .train import build_model

    members = [(build_model(m["state"]), m["state"], float(m["confidence"])) for m in state["members"]]
    return Ensemble(members, float(state["fusion_iou"])), state


def ensemble_state(cfg: dict, members: list[dict]) -> dict:
    """The registered model: the members' own states, their variants, and the
    pipeline keys every detection model state has."""
    first = members[0]["state"]
    return {"format": FORMAT, "architecture": f"ensemble of 3 {cfg['architecture']}", "fusion_iou": cfg["fusion_iou"],
            "members": members, "names": first["names"], "classes": first["classes"],
            "image_size": first["image_size"], "confidence": min(m["confidence"] for m in members)}


def train(ctx: JobContext) -> TrainResult:
    """The three variants in turn (a stopped job resumes after the last
    finished one), then the ensemble, evaluated on the validation images."""
    from ultralytics import YOLO

    from ...evaluate.detection import evaluate_detection
    from .train import Bridge, add_callbacks, export_state, fit, ultralytics_device, write_snapshot

    cfg = ctx.config
    per = cfg["variant_epochs"]
    ctx.checkpoints.suffix = ".pt"
    device = ultralytics_device(cfg["device"])
    folder = ctx.run_dir / "members"
    folder.mkdir(exist_ok=True)
    members, report = [], []
    for k, (variant, confidence, augmentation) in enumerate(VARIANTS):
        path = folder / f"{variant}.pt"
        if ctx.resume and path.is_file() and ctx.epochs_done >= (k + 1) * per:
            state = torch.load(path, weights_only=True)
        else:
            ctx.project.jobs.truncate_history(ctx.job_id, k * per)
            data = write_snapshot(ctx)
            model = YOLO(f"{cfg['architecture']}.yaml", task="detect")
            bridge = Bridge(ctx, offset=k * per)
            add_callbacks(model, bridge)
            ctx.log(f"variant {k + 1}/3, {variant}: confidence {confidence}, {augmentation} augmentation, "
                    f"{per} epochs")
            fit(ctx, model, data, per, device, name=f"variant-{variant}", augmentation=augmentation)
            if bridge.stopped:
                done = ctx.epochs_done
                return TrainResult(ctx.last_checkpoint, cfg["architecture"], cfg["classes"],
                                   ctx.project.jobs.history(ctx.job_id).get(done, {}), done, stopped=True)
            weights = ctx.run_dir / f"variant-{variant}" / "weights"
            source = weights / "best.pt" if (weights / "best.pt").is_file() else weights / "last.pt"
            state = export_state(source, {**cfg, "confidence": confidence, "augmentation": augmentation})
            torch.save(state, path)
        members.append({"variant": variant, "confidence": confidence, "augmentation": augmentation, "state": state})
    combined = ensemble_state(cfg, members)
    final = ctx.checkpoints.final(3 * per, None, lambda p: torch.save(combined, p))
    ids = [item[0] for item in cfg["snapshot"].get("val") or cfg["snapshot"]["train"]]
    ctx.log(f"evaluating the ensemble and its members on {len(ids)} validation images")
    metrics = {}
    for name, model in [("ensemble", SimpleNamespace(path=str(final)))] + [
            (m["variant"], SimpleNamespace(path=str(folder / f"{m['variant']}.pt"))) for m in members]:
        result = evaluate_detection(ctx.project, model, ids, device="cpu" if device == "cpu" else "cuda")
        report.append({"model": name, "map50": result["map50"], "map50_95": result["map50_95"]})
        prefix = "" if name == "ensemble" else f"{name}_"
        metrics.update({f"{prefix}val_map50": result["map50"], f"{prefix}val_map50_95": result["map50_95"]})
    (ctx.run_dir / "ensemble_report.json").write_text(json.dumps(report, indent=2))
    ctx.log("val mAP50-95: " + ", ".join(f"{r['model']} {r['map50_95']:.4f}" for r in report))
    return TrainResult(final, combined["architecture"], cfg["classes"], metrics, 3 * per)
