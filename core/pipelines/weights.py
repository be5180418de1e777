"""Starting a network from an earlier model of the project, a pre-trained
backbone of the project, or a local weights file."""
from __future__ import annotations

from ..errors import TesseraError
from ..jobs.checkpoints import load_checkpoint
from ..jobs.context import JobContext


def load_start_weights(ctx: JobContext, net, describe: str, encoder=None) -> bool:
    """``encoder_from`` (a backbone model: into ``encoder``, else ``net``; every
    backbone tensor must fit), ``from_model`` (same pipeline and architecture)
    or ``weights_file``: the tensors whose names and shapes fit are loaded; a
    head for other classes starts fresh.  True when weights were loaded."""
    from .ssl.encoders import FORMAT as BACKBONE, load_backbone

    cfg = ctx.config
    if ctx.resume and ctx.last_checkpoint:
        return False
    target = encoder if encoder is not None else net
    if cfg.get("encoder_from"):
        model = ctx.project.jobs.model(cfg["encoder_from"])
        state = load_checkpoint(model.path)
        count = load_backbone(target, state, f"backbone model {model.id}")
        ctx.log(f"started the {model.architecture} backbone from model {model.id} (self-supervised on "
                f"{state.get('images', '?')} images): {count} tensors")
        return True
    if cfg.get("from_model"):
        model = ctx.project.jobs.model(cfg["from_model"])
        state = load_checkpoint(model.path)
        if state.get("describe") != describe:
            raise TesseraError(f"model {model.id} is {state.get('describe')}, this job is {describe}")
        if state.get("format") == BACKBONE:
            count = load_backbone(net, state, f"model {model.id}")
            ctx.log(f"started from model {model.id}: {count} tensors")
            return True
        target, weights, origin = net, state["state_dict"], f"model {model.id}"
    elif cfg.get("weights_file"):
        state = load_checkpoint(cfg["weights_file"])
        weights = state.get("state_dict", state) if isinstance(state, dict) else state
        origin = cfg["weights_file"]
    else:
        return False
    own = target.state_dict()
    fitting = {k: v for k, v in weights.items() if k in own and own[k].shape == v.shape}
    target.load_state_dict(fitting, strict=False)
    ctx.log(f"started from {origin}: {len(fitting)} of {len(own)} tensors")
    return True
