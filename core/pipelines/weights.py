"""Starting a network from an earlier model of the project or a local weights file."""
from __future__ import annotations

from ..errors import TesseraError
from ..jobs.checkpoints import load_checkpoint
from ..jobs.context import JobContext


def load_start_weights(ctx: JobContext, net, describe: str, encoder=None) -> bool:
    """``from_model`` (same pipeline and architecture) or ``weights_file``: the
    tensors whose names and shapes fit are loaded; a head for other classes
    starts fresh.  True when weights were loaded."""
    cfg = ctx.config
    if ctx.resume and ctx.last_checkpoint:
        return False
    if cfg.get("from_model"):
        model = ctx.project.jobs.model(cfg["from_model"])
        state = load_checkpoint(model.path)
        if state.get("describe") != describe:
            raise TesseraError(f"model {model.id} is {state.get('describe')}, this job is {describe}")
        target, weights, origin = net, state["state_dict"], f"model {model.id}"
    elif cfg.get("weights_file"):
        state = load_checkpoint(cfg["weights_file"])
        weights = state.get("state_dict", state) if isinstance(state, dict) else state
        target, origin = (encoder if encoder is not None else net), cfg["weights_file"]
    else:
        return False
    own = target.state_dict()
    fitting = {k: v for k, v in weights.items() if k in own and own[k].shape == v.shape}
    target.load_state_dict(fitting, strict=False)
    ctx.log(f"started from {origin}: {len(fitting)} of {len(own)} tensors")
    return True
