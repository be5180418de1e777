"""Object detection with ultralytics YOLO (v8 and 11 families), built from YAML."""
from __future__ import annotations

from ...errors import TesseraError
from ..backbones import ENCODER_FROM
from ..params import Param, common_params
from ..registry import PipelineSpec, register
from ..samples import snapshot

SIZES = ("n", "s", "m", "l", "x")
ARCHITECTURES = tuple(f"yolov8{s}" for s in SIZES) + tuple(f"yolo11{s}" for s in SIZES)
SHAPES = ("box", "polygon", "mask")
AUGMENTATIONS = ("light", "medium", "heavy")


def _has_objects(project, image) -> bool:
    """Images with shapes, and images marked done that hold nothing at all
    (confirmed negatives; an image done for its label mask is not one)."""
    anns = project.annotations.for_image(image.id)
    if any(a.kind in SHAPES for a in anns):
        return True
    return image.status == "done" and not anns and not project.masks.has(image.id)


def check(project, config: dict) -> dict:
    if config["training_set"] != "splits":
        raise TesseraError("detection trains on whole images of the train / val splits: use training_set=splits")
    data = snapshot(project, "splits", config["image_size"], lambda image: _has_objects(project, image),
                    "boxes or shapes")
    used = project.annotations.classes_used({item[0] for item in data["train"]}, SHAPES)
    if not used:
        raise TesseraError("the training images hold no boxes or shapes to learn from")
    classes = [{"id": c.id, "name": c.name, "color": c.color, "critical": c.critical}
               for c in project.classes.list() if c.id in used]
    return {"snapshot": {k: [[i] for i in sorted({item[0] for item in v})] for k, v in data.items()},
            "classes": classes}


SPEC = register(PipelineSpec(
    name="detection",
    description="Object detection with ultralytics YOLOv8 / YOLO11 (n to x), fresh weights from YAML",
    task="detection",
    params=common_params(ARCHITECTURES, "yolov8n", 640, "val_map50_95", processes=False) + [
        Param("critical_oversample", "int", 3, min=1, max=20, group="data",
              help="repeat training images that hold a critical class this many times"),
        Param("multi_scale", "float", 0.0, min=0.0, max=0.5, group="data",
              help="train at random sizes within image_size x (1 +- this); 0.25 at 640 gives 480..800"),
        Param("mosaic", "float", 1.0, min=0.0, max=1.0, group="data", help="probability of mosaic augmentation"),
        Param("close_mosaic", "int", 10, min=0, max=1000, group="data",
              help="turn mosaic off for the last this many epochs"),
        Param("augmentation", "str", "medium", choices=AUGMENTATIONS, group="data",
              help="strength of the colour and geometric augmentation: light, medium (ultralytics' defaults) or "
                   "heavy (adds rotation, shear and mixup)"),
        Param("confidence", "float", 0.25, min=0.001, max=0.99, group="model",
              help="the model's working confidence: lower scores are not shown or delivered in its package"),
        Param("weights_file", "str", "", group="model",
              help="local .pt file of YOLO weights to start from (never downloaded); empty = fresh"),
        ENCODER_FROM,
        Param("amp", "bool", True, group="advanced", help="mixed precision (on GPU only)"),
        Param("patience", "int", 100, min=1, max=10000, group="advanced",
              help="stop early after this many epochs without improvement"),
    ],
    main_metric="val_map50_95",
    mode="max",
    trainer="core.pipelines.detection.train:train",
    check=check,
))


def check_mining(project, config: dict) -> dict:
    """The detection checks, then the model's classes and architecture (the
    rounds retrain that model) and the job's epoch count over all rounds."""
    model = project.jobs.model(config["from_model"])
    extra = check(project, {**config, "architecture": model.architecture})
    known = {c["id"] for c in model.classes}
    extra["classes"] = [c for c in model.classes if c["id"] in known]
    extra["snapshot"]["train"] = [item for item in extra["snapshot"]["train"]
                                  if project.annotations.classes_used([item[0]], SHAPES) & known
                                  or not project.annotations.for_image(item[0])]
    return {**extra, "architecture": model.architecture, "epochs": config["rounds"] * config["round_epochs"]}


_OWN = {"epochs", "weights_file", "encoder_from"}
MINING = register(PipelineSpec(
    name="detection-mining",
    description="Hard-negative mining: predict on the training images, add the false positives as hard negatives, "
                "retrain from the model; repeated for several rounds",
    task="detection",
    params=[p for p in SPEC.params if p.name not in _OWN] + [
        Param("rounds", "int", 3, min=1, max=20, group="mining",
              help="rounds of predict, collect false positives, retrain"),
        Param("round_epochs", "int", 10, min=1, max=1000, group="mining", help="training epochs in each round"),
        Param("conf", "float", 0.25, min=0.0, max=1.0, group="mining",
              help="lowest prediction score that counts as a detection"),
        Param("match_iou", "float", 0.5, min=0.05, max=0.95, group="mining",
              help="a prediction matching an annotation of its class at this IoU is not a false positive"),
        Param("negatives", "str", "both", choices=("crops", "images", "both"), group="mining",
              help="crops: windows around false positives that touch no annotation, as images with nothing "
                   "to find; images: the images holding false positives once more; both"),
    ],
    main_metric="val_map50_95",
    mode="max",
    trainer="core.pipelines.detection.mining:train",
    check=check_mining,
    start_from=("detection",),
    needs_model=True,
    registers_as="detection",
))


def check_ensemble(project, config: dict) -> dict:
    """The detection checks; the job's epochs are the three variants' together."""
    return {**check(project, config), "epochs": 3 * config["variant_epochs"]}


ENSEMBLE = register(PipelineSpec(
    name="detection-ensemble",
    description="Ensemble preset: three detectors (recall: confidence 0.15, heavy augmentation; balanced: 0.25, "
                "medium; precision: 0.4, light) trained in turn and fused by weighted box fusion into one model",
    task="detection",
    params=[p for p in SPEC.params if p.name not in {"epochs", "augmentation", "confidence", "weights_file",
                                                        "from_model", "encoder_from"}] + [
        Param("variant_epochs", "int", 10, min=1, max=10000, group="optimisation",
              help="training epochs of each of the three variants"),
        Param("fusion_iou", "float", 0.55, min=0.1, max=0.95, group="model",
              help="weighted box fusion: boxes of one class overlapping more than this are one object"),
    ],
    main_metric="val_map50_95",
    mode="max",
    trainer="core.pipelines.detection.ensemble:train",
    check=check_ensemble,
    registers_as="detection",
))
