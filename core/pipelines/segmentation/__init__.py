"""Semantic segmentation with segmentation-models-pytorch on PyTorch Lightning."""
from __future__ import annotations

from ..backbones import ENCODER_FROM
from ..params import Param, common_params
from ..registry import PipelineSpec, register
from ..samples import snapshot

ARCHITECTURES = ("upernet", "unet", "deeplabv3plus", "fpn", "pspnet")


def check(project, config: dict) -> dict:
    """The training set exists and has masks; the classes the masks use."""
    import numpy as np

    data = snapshot(project, config["training_set"], config["image_size"],
                    lambda image: project.masks.has(image.id), "a label mask")
    present: set[int] = set()
    for image_id in {item[0] for item in data["train"]}:
        present.update(int(v) for v in np.unique(project.masks.get(image_id)))
    present.discard(0)
    if not present:
        from ...errors import TesseraError
        raise TesseraError("the training masks hold no labelled pixel (every value is 0, no-data)")
    classes = [{"id": c.id, "name": c.name, "color": c.color} for c in project.classes.list() if c.id in present]
    return {"snapshot": data, "classes": classes}


SPEC = register(PipelineSpec(
    name="segmentation",
    description="Semantic segmentation (UPerNet, Unet, DeepLabV3+, FPN, PSPNet) trained on label masks",
    task="segmentation",
    params=common_params(ARCHITECTURES, "upernet", 512, "val_miou") + [
        Param("encoder", "str", "tu-convnext_base", group="model",
              help="encoder: any smp encoder (resnet34, efficientnet-b0, ...) or a timm one as tu-NAME "
                   "(tu-convnext_base, tu-convnext_tiny, tu-convnext_atto, ...)"),
        Param("weights_file", "str", "", group="model",
              help="local file with pre-trained encoder weights (a state dict); empty = fresh weights"),
        ENCODER_FROM,
        Param("dice_weight", "float", 1.0, min=0.0, max=10.0, group="optimisation",
              help="weight of the Dice loss added to cross-entropy"),
        Param("class_weights", "str", "inverse_sqrt", choices=("none", "inverse", "inverse_sqrt"),
              group="optimisation", help="cross-entropy class weights from the training pixel counts"),
        Param("weighted_sampling", "bool", True, group="data",
              help="sample training images more often when they hold rare classes"),
        Param("augment", "bool", True, group="data",
              help="flips, 90-degree rotations, random scale and crop, colour jitter"),
        Param("amp", "bool", True, group="advanced", help="mixed precision (on GPU only)"),
    ],
    main_metric="val_miou",
    mode="max",
    trainer="core.pipelines.segmentation.train:train",
    check=check,
))
