import io

import pytest

from core.errors import TesseraError
from core.jobs.checkpoints import CheckpointPolicy, CheckpointRefused, load_checkpoint
from core.jobs.events import Emitter, EventError, format_event, parse_line
from core.pipelines import ParamError, get_pipeline, parse_assignments


def test_parse_line_reads_events_and_ignores_noise():
    e = parse_line(format_event("epoch", epoch=2, metrics={"val_miou": 0.5, "bad": float("nan")}))
    assert e.type == "epoch" and e.get("epoch") == 2 and e.get("metrics") == {"val_miou": 0.5, "bad": None}
    assert not e.final and parse_line(format_event("completed", model=1)).final
    for noise in ("", "Epoch 1: 100%|####|", "{not json", '{"no": "version"}', "[1, 2]"):
        assert parse_line(noise) is None
    assert parse_line(b'{"v": 1, "type": "log", "message": "x"}\n').get("message") == "x"
    with pytest.raises(EventError, match="version"):
        parse_line('{"v": 2, "type": "log"}')
    with pytest.raises(EventError, match="unknown event type"):
        parse_line('{"v": 1, "type": "explode"}')


def test_emitter_throttles_progress_only():
    out = io.StringIO()
    em = Emitter(out, job=7, max_rate=1.0)
    assert em.emit("progress", batch=1)
    assert not em.emit("progress", batch=2)  # within the same second: dropped
    assert em.emit("progress", batch=3, force=True)
    assert em.emit("log", message="kept")
    lines = [parse_line(line) for line in out.getvalue().splitlines()]
    assert [e.type for e in lines] == ["progress", "progress", "log"]
    assert all(e.get("job") == 7 for e in lines) and em.last == {"batch": 3}
    assert not em.progress_due()  # a caller may skip gathering figures that would be dropped


def test_worker_environment_keeps_large_buffers_unless_the_user_chose():
    from core.jobs.runner import WORKER_MALLOC, worker_environment

    env = worker_environment({"PATH": "/bin", "MALLOC_TRIM_THRESHOLD_": "0"})
    assert env["MALLOC_TRIM_THRESHOLD_"] == "0"  # the user's own setting wins
    assert env["MALLOC_MMAP_THRESHOLD_"] == WORKER_MALLOC["MALLOC_MMAP_THRESHOLD_"]
    assert env["PYTHONUNBUFFERED"] == "1" and env["PYTHONPATH"]


def test_segmentation_loss_is_weighted_cross_entropy_and_never_nan():
    import torch

    from core.pipelines.segmentation.data import IGNORE
    from core.pipelines.segmentation.module import SegmentationModule

    weights = [0.5, 2.0, 1.0]
    module = SegmentationModule("unet", "resnet18", ["a", "b", "c"], 1e-3, "poly", 0, 2, 1.0, weights)
    logits = torch.randn(2, 3, 8, 8, generator=torch.Generator().manual_seed(0), requires_grad=True)
    target = torch.randint(0, 3, (2, 8, 8), generator=torch.Generator().manual_seed(1))
    target[0, :4] = IGNORE
    reference = torch.nn.CrossEntropyLoss(weight=torch.tensor(weights), ignore_index=IGNORE)(logits, target)
    assert torch.allclose(module.cross_entropy(logits, target), reference)
    nothing = module.cross_entropy(logits, torch.full_like(target, IGNORE))  # an all-no-data batch
    nothing.backward()
    assert float(nothing) == 0.0 and torch.isfinite(logits.grad).all()


def test_parameters_are_validated_from_their_declaration():
    spec = get_pipeline("segmentation")
    config = spec.validate(parse_assignments(["epochs=3", "learning_rate=0.01", "augment=off"]))
    assert config["epochs"] == 3 and config["learning_rate"] == 0.01 and config["augment"] is False
    assert config["batch_size"] == 8 and config["scheduler"] == "poly" and config["save_every"] == 10
    assert config["architecture"] == "upernet" and config["encoder"] == "tu-convnext_base"
    with pytest.raises(ParamError, match="unknown parameter 'epoch'; known: "):
        spec.validate({"epoch": "3"})
    with pytest.raises(ParamError, match="epochs = 0 is out of range 1..10000"):
        spec.validate({"epochs": "0"})
    with pytest.raises(ParamError, match="architecture must be one of upernet"):
        spec.validate({"architecture": "resnet"})
    with pytest.raises(ParamError, match="batch_size must be an int, got '2.5'"):
        spec.validate({"batch_size": "2.5"})
    with pytest.raises(ParamError, match="device = 'gpu0' is not valid"):
        spec.validate({"device": "gpu0"})
    assert spec.validate({"device": "cuda:1"})["device"] == "cuda:1"
    with pytest.raises(ParamError, match="key=value"):
        parse_assignments(["epochs"])
    with pytest.raises(TesseraError, match="unknown pipeline 'nope'"):
        get_pipeline("nope")


def test_checkpoint_retention(tmp_path):
    saved, removed = [], []
    policy = CheckpointPolicy(tmp_path, save_every=2, keep_last=2, mode="max",
                              on_saved=lambda kind, path, epoch, metric: saved.append((kind, epoch)),
                              on_removed=removed.append)
    metrics = [0.1, 0.3, 0.2, 0.5, 0.4, 0.45, 0.6, 0.1, 0.2]
    for epoch, m in enumerate(metrics, 1):
        policy.after_epoch(epoch, m, lambda p, e=epoch: p.write_text(str(e)))
    policy.final(9, 0.2, lambda p: p.write_text("final"))
    assert [p.name for p in policy.periodic()] == ["epoch-0006.ckpt", "epoch-0008.ckpt"]
    assert (tmp_path / "best.ckpt").read_text() == "7" and policy.best == 0.6
    assert (tmp_path / "last.ckpt").read_text() == "9" and (tmp_path / "final.ckpt").read_text() == "final"
    assert [p.name for p in removed] == ["epoch-0002.ckpt", "epoch-0004.ckpt"]
    assert ("best", 7) in saved and ("periodic", 8) in saved and not list(tmp_path.glob("*.part"))


class _Exploit:
    def __reduce__(self):
        import os
        return (os.system, ("touch /tmp/tessera-exploit-ran",))


def test_a_checkpoint_that_would_run_code_is_refused(tmp_path):
    import os

    import torch

    marker = "/tmp/tessera-exploit-ran"
    if os.path.exists(marker):
        os.remove(marker)
    evil = tmp_path / "evil.ckpt"
    torch.save({"state_dict": {}, "payload": _Exploit()}, evil)
    with pytest.raises(CheckpointRefused, match="evil.ckpt: refused: the checkpoint holds Python objects"):
        load_checkpoint(evil)
    assert not os.path.exists(marker)
    good = tmp_path / "good.ckpt"
    torch.save({"state_dict": {"w": torch.ones(2)}, "epoch": 3}, good)
    assert load_checkpoint(good)["epoch"] == 3
    (tmp_path / "junk.ckpt").write_bytes(b"junk")
    with pytest.raises(CheckpointRefused, match="junk.ckpt"):
        load_checkpoint(tmp_path / "junk.ckpt")
