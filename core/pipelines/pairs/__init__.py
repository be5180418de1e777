"""The two-stage JRDB interaction pipelines (mission document 003):
``pairs-stage1`` learns whether two persons interact, ``pairs-stage2``
(started from a stage-1 model) which kind of interaction it is."""
from __future__ import annotations

from dataclasses import replace

from ...errors import TesseraError
from ..backbones import ENCODER_FROM
from ..params import Param, common_params
from ..registry import PipelineSpec, register
from .frames import CLASS_PARAMS, SAMPLING_PARAMS, load_frames, type_classes
from .sampling import sample

STAGE1, STAGE2 = "pairs-stage1", "pairs-stage2"
PIPELINES = (STAGE1, STAGE2)
#: Backbones (declared here, without torch; ``model.build_backbone`` makes them).
TORCHVISION = ("resnet18", "resnet34", "resnet50")
TIMM = ("convnext_atto", "efficientnet_b0", "mobilenetv3_large_100")
ARCHITECTURES = TORCHVISION + TIMM


def _common(learning_rate: float) -> list[Param]:
    out = []
    for p in common_params(ARCHITECTURES, "resnet18", 128, "val_f1"):
        if p.name == "learning_rate":
            p = replace(p, default=learning_rate)
        elif p.name == "batch_size":
            p = replace(p, default=32, help="pairs per step (each pair is three crops)")
        elif p.name == "image_size":
            p = replace(p, help="side of the square each person crop and the union box are resized to")
        elif p.name == "training_set":
            p = replace(p, choices=("splits",), help="the frames of the train split, validated on the val split")
        elif p.name == "from_model":
            p = replace(p, help=("the finished pairs-stage1 model to start from (required)" if learning_rate < 1e-3
                                 else "start from the weights of an earlier pairs-stage1 model"))
        out.append(p)
    return out + SAMPLING_PARAMS + [
        Param("weights_file", "str", "", group="model",
              help="local file with pre-trained backbone weights (a state dict); empty = fresh"),
        Param("amp", "bool", True, group="advanced", help="mixed precision (on GPU only)"),
    ]




STAGE2_PARAMS = CLASS_PARAMS + [
    Param("stage2_balance_strategy", "str", "oversample", choices=("oversample", "undersample", "none"),
          group="data", help="balance the types each epoch: draw every type up to the largest, down to the "
                             "smallest, or keep the counts as they are"),
    Param("use_class_weights", "bool", True, group="optimisation",
          help="weight the loss by inverse type frequency (of the counts after balancing)"),
    Param("freeze_backbone", "bool", False, group="model",
          help="keep the stage-1 backbone and geometry encoder fixed; train only the type head"),
]


def _frames(project, config: dict) -> dict:
    if config["training_set"] != "splits":
        raise TesseraError("pair training uses training_set=splits")
    train = load_frames(project, "train")
    if not train:
        raise TesseraError("no training frames: no image of split 'train' has persons in interacting pairs or "
                           "social groups (import JRDB data and assign splits with 'tessera split')")
    return {"train": train, "val": load_frames(project, "val")}


def _snapshot(frames: dict, names: list[str], report: dict) -> dict:
    return {"snapshot": {k: [f.to_json() for f in v] for k, v in frames.items()}, "type_classes": names,
            "sampling_report": report}


def _sampled(frames, config: dict, names: list[str]) -> dict:
    other = bool(config.get("other_class"))
    return sample(frames, config["distance_multiplier"], config["use_group_sampling"],
                  config["max_group_samples_ratio"], config["max_negatives_per_frame"],
                  config["stage1_balance_ratio"], classes=names[:-1] if other else names, other_class=other,
                  seed=config["seed"])


def check_stage1(project, config: dict) -> dict:
    frames = _frames(project, config)
    names = type_classes(frames["train"], config)
    got = _sampled(frames["train"], config, names)
    if not got["report"]["positives_sampled"]:
        raise TesseraError(f"no interacting pair of the training frames lies within distance_multiplier = "
                           f"{config['distance_multiplier']:g} box widths")
    if not got["report"]["negatives_sampled"]:
        raise TesseraError("no non-interacting pair within the distance limit to learn from (raise "
                           "distance_multiplier or max_negatives_per_frame)")
    return _snapshot(frames, names, got["report"])


def check_stage2(project, config: dict) -> dict:
    model = project.jobs.model(config["from_model"])
    if model.architecture != config["architecture"]:
        raise TesseraError(f"model {model.id} has a {model.architecture} backbone: set architecture="
                           f"{model.architecture}")
    frames = _frames(project, config)
    names = type_classes(frames["train"], config)
    got = _sampled(frames["train"], config, names)
    counts = got["report"]["stage2_class_counts"]
    if sum(1 for v in counts.values() if v) < 2:
        raise TesseraError(f"stage 2 needs interacting training pairs of at least two types; found {counts}")
    return _snapshot(frames, names, got["report"])


register(PipelineSpec(
    name=STAGE1,
    description="JRDB pair interactions, stage 1: do two persons interact? (shared backbone, distance-limited "
                "and group-sampled pairs)",
    task="pairs",
    params=_common(1e-3) + [ENCODER_FROM],
    main_metric="val_f1",
    mode="max",
    trainer="core.pipelines.pairs.train:train",
    check=check_stage1,
))

register(PipelineSpec(
    name=STAGE2,
    description="JRDB pair interactions, stage 2: which kind of interaction (starts from a stage-1 model)",
    task="pairs",
    params=_common(5e-4) + STAGE2_PARAMS,
    main_metric="val_f1",
    mode="max",
    trainer="core.pipelines.pairs.train:train",
    check=check_stage2,
    start_from=(STAGE1,),
    needs_model=True,
))
