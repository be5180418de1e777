"""Benchmark reports: models compared side by side on accuracy and efficiency,
as HTML and Markdown with PNG plots (``tessera benchmark``)."""
from __future__ import annotations

import html
import json
from pathlib import Path


from ..errors import TesseraError
from ..imagery.reader import open_image
from ..progress import Progress
from ..project import Project
from . import evaluate_model, plots, validation_items

MAIN = {"segmentation": ("miou", "mIoU"), "detection": ("map50_95", "mAP50-95"),
        "classification": ("accuracy", "accuracy"), "pairs-stage1": ("f1", "F1 (interaction)"),
        "pairs-stage2": ("f1", "macro F1 (types)")}
CURVE = {"segmentation": "miou", "detection": "map50_95", "classification": "accuracy",
         "pairs-stage1": ["accuracy", "f1"], "pairs-stage2": ["accuracy", "f1"]}


def build_report(project: Project, model_ids: list[int], out: str | Path, device: str = "cpu",
                 overlays: int = 3, progress: Progress | None = None) -> Path:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if not model_ids:
        raise TesseraError("name at least one model (--models 1,2,...)")
    results = []
    for model_id in model_ids:
        model = project.jobs.model(model_id)
        result = evaluate_model(project, model_id, progress, device)
        result["label"] = f"#{model.id} {model.architecture}"
        result["history"] = project.jobs.history(model.job_id) if model.job_id else {}
        results.append((model, result))
    pipelines = {m.pipeline for m, _ in results}
    images: dict[str, str] = {}
    for pipeline in sorted(pipelines):
        group = [(m, r) for m, r in results if m.pipeline == pipeline]
        curve = CURVE.get(pipeline, "loss")
        images[f"curves_{pipeline}"] = plots.training_curves(
            {r["label"]: r["history"] for _, r in group}, curve, out / f"curves_{pipeline}.png").name
        per_class = {r["label"]: (r["metrics"].get("per_class_iou") or r["metrics"].get("per_class_ap50_95")
                                  or r["metrics"].get("per_class_f1") or {}) for _, r in group}
        if any(per_class.values()):
            title = {"segmentation": "IoU per class", "detection": "AP50-95 per class"}.get(pipeline, "F1 per class")
            images[f"classes_{pipeline}"] = plots.per_class_bars(per_class, title, out / f"classes_{pipeline}.png").name
    for model, result in results:
        cm = result["metrics"].get("confusion_matrix")
        if cm:
            images[f"confusion_{model.id}"] = plots.confusion(
                cm, result["metrics"]["classes"], f"{result['label']} (rows: truth)", out / f"confusion_{model.id}.png").name
        grid = _overlays(project, model, overlays, device)
        if grid is not None:
            images[f"overlays_{model.id}"] = plots.overlay_grid(*grid, out / f"overlays_{model.id}.png").name
    data = [{k: v for k, v in r.items() if k != "history"} | {"history": r["history"]} for _, r in results]
    (out / "report.json").write_text(json.dumps(data, indent=2, default=str))
    markdown = _markdown(project, results, images)
    (out / "report.md").write_text(markdown)
    (out / "report.html").write_text(_html(project, results, images))
    return out / "report.html"


def _table(results) -> tuple[list[str], list[list[str]]]:
    head = ["model", "pipeline", "main metric", "value", "params (M)", "GFLOPs", "latency b1 (ms)", "FPS b1",
            "FPS batch", "peak memory (MB)"]
    rows = []
    for model, r in results:
        key, name = MAIN.get(model.pipeline, ("", ""))
        e = r.get("efficiency", {})
        batch = next((v for k, v in e.items() if k.startswith("batch_") and k != "batch_1"), {})
        rows.append([r["label"], model.pipeline, name, f"{r.get(key, 0):.4f}", f"{e.get('parameters', 0) / 1e6:.2f}",
                     f"{e.get('flops', 0) / 1e9:.2f}", f"{e.get('batch_1', {}).get('latency_ms', 0):.1f}",
                     f"{e.get('batch_1', {}).get('fps', 0):.1f}",
                     f"{batch.get('fps', 0):.1f} (b{batch.get('batch', '?')})",
                     f"{e.get('peak_memory_mb', 0):.0f} {e.get('memory_kind', '')}"])
    return head, rows


def _markdown(project: Project, results, images: dict[str, str]) -> str:
    head, rows = _table(results)
    lines = [f"# Benchmark report: {project.name}", "",
             "Validation images per model: " + ", ".join(f"{r['label']}: {r['images']}" for _, r in results), "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    lines.append("")
    for key, name in images.items():
        lines += [f"## {key.replace('_', ' ')}", "", f"![{key}]({name})", ""]
    lines.append("Efficiency: latency is the median of repeated forward passes at the model's training size; "
                 "peak memory is the GPU's when on GPU, else the process's resident set.")
    return "\n".join(lines) + "\n"


def _html(project: Project, results, images: dict[str, str]) -> str:
    head, rows = _table(results)
    esc = html.escape
    table = "<table><tr>" + "".join(f"<th>{esc(h)}</th>" for h in head) + "</tr>" + "".join(
        "<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>" for row in rows) + "</table>"
    figures = "".join(f"<h2>{esc(k.replace('_', ' '))}</h2><img src='{esc(v)}' alt='{esc(k)}'>" for k, v in images.items())
    style = ("body{font-family:DejaVu Sans,sans-serif;margin:2em;color:#222}table{border-collapse:collapse}"
             "td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}th{background:#f0f3f6}"
             "img{max-width:100%;border:1px solid #eee;margin:0.5em 0}")
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>Benchmark: {esc(project.name)}</title>"
            f"<style>{style}</style></head><body><h1>Benchmark report: {esc(project.name)}</h1>{table}{figures}"
            "<p>Latency: median of repeated forward passes at the training size. Peak memory: GPU when on GPU, "
            "else the process's resident set.</p></body></html>\n")


def _overlays(project: Project, model, count: int, device: str):
    items = validation_items(project, model)[:count]
    if not items:
        return None
    if model.pipeline == "segmentation":
        from ..pipelines.segmentation.data import class_lut
        from ..pipelines.segmentation.infer import load_model, predict

        net, state = load_model(model.path)
        colours = [c["color"] for c in state["classes"]]
        lut = class_lut(state["classes"])
        rows = []
        for image_id, x, y, w, h in items:
            image = project.images.get(image_id)
            with open_image(image.file(project.root)) as src:
                pixels = src.read_region(x, y, w, h)
            truth = lut[project.masks.get(image_id)[y:y + h, x:x + w]]
            rows.append((image.name, [pixels, plots.colour_mask(truth, colours),
                                      plots.colour_mask(predict(net, pixels, device), colours)]))
        return rows, ["image", "truth", "prediction"]
    if model.pipeline == "detection":
        from ..pipelines.detection.infer import load_model, predict

        net, state = load_model(model.path)
        names = [c["name"] for c in state["classes"]]
        index = {c["id"]: i for i, c in enumerate(state["classes"])}
        rows = []
        for item in items:
            image = project.images.get(item[0])
            with open_image(image.file(project.root)) as src:
                pixels = src.read()
            truth = [a for a in project.annotations.for_image(image.id) if a.class_id in index]
            out = predict(net, pixels, state["image_size"], conf=0.25, device=device)
            rows.append((image.name, [
                plots.draw_boxes(pixels, [a.bbox for a in truth], [names[index[a.class_id]] for a in truth], (60, 220, 60)),
                plots.draw_boxes(pixels, out["boxes"], [f"{names[c]} {s:.2f}" for c, s in zip(out["classes"], out["scores"])])]))
        return rows, ["truth", "prediction (conf >= 0.25)"]
    return None
