"""Image and crop classification with timm models (the "recognition" trainer)."""
from __future__ import annotations

from ...errors import TesseraError
from ..backbones import ENCODER_FROM
from ..params import Param, common_params
from ..registry import PipelineSpec, register

ARCHITECTURES = ("resnet18", "resnet50", "convnext_atto", "convnext_tiny", "convnext_base", "efficientnet_b0",
                 "mobilenetv3_large_100", "vit_tiny_patch16_224")
SHAPES = ("box", "polygon", "mask")


def samples(project, source: str) -> dict[str, list[list[int]]]:
    """``[image_id, x, y, w, h, class_id]`` per split: one per annotation
    (``crops``), or one per image whose shapes all share one class (``images``)."""
    out: dict[str, list[list[int]]] = {"train": [], "val": []}
    for image in project.images.list():
        if image.split not in out:
            continue
        anns = [a for a in project.annotations.for_image(image.id) if a.kind in SHAPES and a.class_id is not None]
        if source == "crops":
            for a in anns:
                x1, y1, x2, y2 = a.bbox
                x1, y1 = max(0, int(x1)), max(0, int(y1))
                x2, y2 = min(image.width, int(round(x2))), min(image.height, int(round(y2)))
                if x2 - x1 >= 2 and y2 - y1 >= 2:
                    out[image.split].append([image.id, x1, y1, x2 - x1, y2 - y1, a.class_id])
        else:
            classes = {a.class_id for a in anns}
            if len(classes) == 1:
                out[image.split].append([image.id, 0, 0, image.width, image.height, classes.pop()])
    return out


def check(project, config: dict) -> dict:
    if config["training_set"] != "splits":
        raise TesseraError("classification uses training_set=splits")
    data = samples(project, config["source"])
    if not data["train"]:
        what = "annotated shapes" if config["source"] == "crops" else "images whose shapes share one class"
        raise TesseraError(f"no training data: no image of split 'train' has {what}")
    used = {item[5] for item in data["train"]}
    if len(used) < 2:
        raise TesseraError("classification needs at least two classes in the training split")
    classes = [{"id": c.id, "name": c.name, "color": c.color} for c in project.classes.list() if c.id in used]
    known = {c["id"] for c in classes}
    data["val"] = [item for item in data["val"] if item[5] in known]
    return {"snapshot": data, "classes": classes}


SPEC = register(PipelineSpec(
    name="classification",
    description="Classification of image crops (one per shape) or whole images with timm models",
    task="classification",
    params=common_params(ARCHITECTURES, "convnext_tiny", 224, "val_accuracy") + [
        Param("source", "str", "crops", choices=("crops", "images"), group="data",
              help="crops: one sample per annotated shape; images: one per image whose shapes share a class"),
        Param("crop_padding", "float", 0.1, min=0.0, max=1.0, group="data",
              help="context added around each crop, as a fraction of its size"),
        Param("mixup", "float", 0.2, min=0.0, max=2.0, group="optimisation",
              help="mixup Beta(alpha, alpha); 0 turns it off"),
        Param("label_smoothing", "float", 0.1, min=0.0, max=0.5, group="optimisation",
              help="label smoothing of the cross-entropy targets"),
        Param("augment", "bool", True, group="data", help="flips and colour jitter"),
        Param("weights_file", "str", "", group="model",
              help="local file with pre-trained weights (a state dict); empty = fresh"),
        ENCODER_FROM,
        Param("amp", "bool", True, group="advanced", help="mixed precision (on GPU only)"),
    ],
    main_metric="val_accuracy",
    mode="max",
    trainer="core.pipelines.classification.train:train",
    check=check,
))
