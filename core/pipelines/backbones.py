"""Pre-trained backbones (models of kind "backbone", made by ``ssl-pretrain``)
as the start of other pipelines' networks: which backbone a job needs, and
the check, before any work starts, that the one it names fits.

Declarations only; no torch (the loading is in ``ssl.encoders``)."""
from __future__ import annotations

from ..errors import TesseraError
from .params import Param

#: timm backbones (the segmentation encoders as ``tu-NAME``, classification and pair backbones)
TIMM = ("resnet18", "resnet34", "resnet50", "convnext_atto", "convnext_tiny", "convnext_base", "efficientnet_b0",
        "mobilenetv3_large_100")
#: the backbone layers of ultralytics YOLO models built from their YAML
YOLO = tuple(f"yolov8{s}" for s in "nsmlx") + tuple(f"yolo11{s}" for s in "nsmlx")
ARCHITECTURES = TIMM + YOLO
#: smp's own encoders whose weights are timm's under the same names
SMP_NATIVE = ("resnet18", "resnet34", "resnet50")

ENCODER_FROM = Param(
    "encoder_from", "int", None, optional=True, min=1, group="model",
    help="start the encoder / backbone from a pre-trained backbone of this project (a model of pipeline "
         "ssl-pretrain with the same architecture); the rest of the network starts fresh")


def family(architecture: str) -> str:
    return "yolo" if architecture in YOLO else "timm"


def needed(pipeline: str, config: dict) -> str:
    """The backbone architecture a job of ``pipeline`` with ``config`` starts
    from; a clear error when its network has no backbone counterpart."""
    if pipeline == "segmentation":
        encoder = config["encoder"]
        name = encoder[3:] if encoder.startswith("tu-") else encoder if encoder in SMP_NATIVE else None
        if name not in TIMM:
            raise TesseraError(f"encoder {encoder} has no pre-trained backbone counterpart; backbones fit the "
                               f"encoders {', '.join(SMP_NATIVE + tuple('tu-' + n for n in TIMM))}")
        return name
    name = config["architecture"]
    if name not in ARCHITECTURES:
        raise TesseraError(f"architecture {name} has no pre-trained backbone counterpart; ssl-pretrain makes "
                           f"{', '.join(ARCHITECTURES)}")
    return name


def no_predictions(model_id: int | str, what: str) -> TesseraError:
    """The error for using a backbone model where a model that predicts is needed."""
    return TesseraError(f"model {model_id} is a pre-trained backbone (ssl-pretrain): it makes features, not "
                        f"predictions, so it cannot {what}; train a model from it with encoder_from={model_id}")


def check_encoder_from(project, pipeline: str, config: dict) -> None:
    """``encoder_from`` names a backbone model whose architecture is the one
    this job's network needs (and is not combined with other start weights)."""
    model_id = config.get("encoder_from")
    if model_id is None:
        return
    for other in ("from_model", "weights_file"):
        if config.get(other):
            raise TesseraError(f"set encoder_from or {other}, not both: both are start weights")
    model = project.jobs.model(model_id)
    if model.kind != "backbone":
        raise TesseraError(f"model {model.id} is a {model.pipeline} model, not a pre-trained backbone: "
                           f"encoder_from takes a model of pipeline ssl-pretrain")
    want = needed(pipeline, config)
    if model.architecture != want:
        raise TesseraError(f"backbone model {model.id} is a {model.architecture}; this job's network needs a {want} "
                           f"backbone (pre-train one: --pipeline ssl-pretrain --set architecture={want})")
