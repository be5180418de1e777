"""Self-supervised pre-training (MoCo v3) of a backbone on the project's own
images, labelled or not (mission document 001: nothing pre-trained on
everyday photos knows underwater, aerial or panoramic imagery, and nothing
may be downloaded).  The result is a model of kind "backbone" that other
pipelines start from with ``encoder_from``."""
from __future__ import annotations

from dataclasses import replace

from ...errors import TesseraError
from ..backbones import ARCHITECTURES
from ..params import Param, common_params
from ..registry import PipelineSpec, register

NAME = "ssl-pretrain"
#: a large image gives more windows per epoch than a small one, up to this many times as many
MAX_WINDOWS_PER_IMAGE = 64


def check(project, config: dict) -> dict:
    """The chosen images (with how many windows each gives per epoch) and the
    labelled crops of the k-NN probe."""
    from ...active.scoring import pool
    from .data import knn_samples

    ids = pool(project, config["images"])
    if not ids:
        raise TesseraError(f"no image matches images={config['images']!r}")
    window = config["window"]
    items = []
    for image_id in ids:
        image = project.images.get(image_id)
        side = max(1, min(image.width, image.height, window))
        windows = max(1, min(MAX_WINDOWS_PER_IMAGE, round(image.width * image.height / (side * side) / 4)))
        items.append([image.id, image.width, image.height, windows])
    knn = knn_samples(project, config["knn_samples"], config["seed"]) if config["knn_samples"] else {}
    classes = sorted({item[5] for items in knn.values() for item in items})
    return {"snapshot": {"images": items, "knn": knn},
            "classes": [{"id": c.id, "name": c.name, "color": c.color} for c in project.classes.list()
                        if c.id in classes]}


def _params() -> list[Param]:
    out = []
    for p in common_params(ARCHITECTURES, "resnet18", 224, "train_loss"):
        if p.name == "training_set":
            continue
        if p.name == "architecture":
            p = replace(p, help="the backbone to pre-train: a timm network (the segmentation encoder as tu-NAME, "
                                "the classification and pair backbones) or the backbone layers of a YOLO model")
        elif p.name == "from_model":
            p = replace(p, help="carry on pre-training an earlier backbone of this project (same architecture)")
        elif p.name == "batch_size":
            p = replace(p, default=32, min=2, help="images per step (two views each); the other images of the "
                                                   "batch are each view's negatives, so larger is better")
        elif p.name == "epochs":
            p = replace(p, default=100)
        elif p.name == "scheduler":
            p = replace(p, default="cosine")
        elif p.name == "warmup_epochs":
            p = replace(p, default=5)
        elif p.name == "image_size":
            p = replace(p, help="side of each augmented view in pixels")
        out.append(p)
    return out + [
        Param("images", "str", "all", group="data",
              help="which images: all, unlabeled, split=NAME, ids=1,2,3 or names=a.jpg,b.jpg (patterns allowed)"),
        Param("window", "int", 1024, min=32, max=8192, group="data",
              help="views are cut from random windows of at most this many pixels a side (large images are "
                   "never read whole; they give more windows per epoch)"),
        Param("crops_per_image", "int", 1, min=1, max=256, group="data",
              help="windows drawn from each (small) image per epoch"),
        Param("min_scale", "float", 0.08, min=0.01, max=1.0, group="data",
              help="random resized crop: smallest fraction of the window's area a view covers"),
        Param("temperature", "float", 0.2, min=0.01, max=2.0, group="optimisation",
              help="softmax temperature of the contrastive loss"),
        Param("momentum", "float", 0.99, min=0.0, max=1.0, group="optimisation",
              help="momentum encoder's starting momentum; it rises to 1 on a cosine schedule"),
        Param("weight_decay", "float", 0.1, min=0.0, max=1.0, group="optimisation", help="AdamW weight decay"),
        Param("mlp_dim", "int", 2048, min=16, max=16384, group="model",
              help="hidden width of the projector and predictor MLPs"),
        Param("out_dim", "int", 256, min=8, max=4096, group="model", help="output width of the projector"),
        Param("knn_samples", "int", 1000, min=0, max=100000, group="data",
              help="labelled crops per split for the k-NN probe of the features (val_knn_accuracy); 0 = none"),
        Param("knn_k", "int", 20, min=1, max=1000, group="advanced", help="neighbours of the k-NN probe"),
        Param("amp", "bool", True, group="advanced", help="mixed precision (on GPU only)"),
    ]


SPEC = register(PipelineSpec(
    name=NAME,
    description="Self-supervised pre-training (MoCo v3) of a backbone on the project's own images, labelled or "
                "not; other pipelines start from it with encoder_from",
    task="backbone",
    params=_params(),
    main_metric="train_loss",
    mode="min",
    trainer="core.pipelines.ssl.train:train",
    check=check,
    model_kind="backbone",
))
