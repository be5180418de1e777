"""One job in several processes (DDP under torchrun): the device grammar, the
launch command, rank 0 as the only writer, a stop that reaches every rank,
and a resume under a torchrun the user starts (the cluster route)."""
import json
import subprocess
import sys

import psutil
import pytest

from core.errors import TesseraError
from core.jobs import distributed
from core.jobs.runner import JobProcess, create_job, worker_command
from core.pipelines import get_pipeline
from core.pipelines.params import ParamError
from core.project import Project


@pytest.mark.parametrize("device, nproc", [
    ("auto", None), ("cpu", None), ("cpu:1", None), ("cpu:2", "2"), ("cuda", None), ("cuda:3", None),
    ("cuda:0,1", "2"), ("cuda:1,2,3", "3"), ("cuda:all", "gpu")])
def test_a_device_says_how_many_processes(device, nproc):
    assert distributed.processes(device) == nproc


def test_device_values_each_pipeline_accepts():
    seg, det = get_pipeline("segmentation"), get_pipeline("detection")
    for ok in ("cpu:2", "cuda:0,1", "cuda:all", "cuda:1"):
        assert seg.validate({"device": ok})["device"] == ok
    for bad in ("cpu:0", "cuda:", "gpu", "cuda:0,"):
        with pytest.raises(ParamError, match="device"):
            seg.validate({"device": bad})
    with pytest.raises(ParamError, match="one device per job"):  # ultralytics' trainer: one process
        det.validate({"device": "cuda:0,1"})
    with pytest.raises(TesseraError, match="twice"):
        distributed.processes("cuda:1,1")


def test_the_worker_of_several_processes_runs_under_torchrun(tmp_path):
    one = worker_command(tmp_path, 7, False)
    assert one[-4:] == ["--project", str(tmp_path), "--job", "7"]
    several = worker_command(tmp_path, 7, True, "2")
    assert several[several.index("torchrun"):several.index("--no-python") + 1] == [
        "torchrun", "--standalone", "--nproc-per-node=2", "--no-python"]
    assert several[several.index("--no-python") + 1:] == one + ["--resume"]


def test_trainer_placement_under_torchrun(monkeypatch):
    from core.pipelines.devices import trainer_args

    assert trainer_args("cpu") == {"accelerator": "cpu", "devices": 1, "precision": "32-true"}
    with pytest.raises(TesseraError, match="several processes"):  # cpu:2 outside torchrun
        trainer_args("cpu:2")
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "3")
    assert not distributed.is_main()
    assert trainer_args("cpu") == {"accelerator": "cpu", "devices": 2, "strategy": "ddp", "num_nodes": 2,
                                   "precision": "32-true"}
    assert trainer_args("cpu:2")["devices"] == 2
    with pytest.raises(TesseraError, match="torchrun started 2"):
        trainer_args("cpu:3")


def test_epoch_shares_deal_out_each_draw_without_overlap():
    from core.pipelines.lightning_bridge import EpochShares

    class Draws:  # a draw whose length changes with the epoch, like the pair samplers'
        epoch = 0

        def set_epoch(self, epoch):
            self.epoch = epoch

        def __iter__(self):
            return iter(range(100 * self.epoch, 100 * self.epoch + 7 + self.epoch))

        def __len__(self):
            return 7 + self.epoch

    draws = Draws()
    shares = [EpochShares(draws, 2, r) for r in (0, 1)]
    for epoch in (0, 3):
        for s in shares:
            s.set_epoch(epoch)
        a, b = (list(s) for s in shares)
        assert len(a) == len(b) == len(shares[0]) == (7 + epoch) // 2
        assert not set(a) & set(b) and set(a) | set(b) <= set(range(100 * epoch, 100 * epoch + 7 + epoch))


def test_a_job_on_another_machine_is_judged_by_its_heartbeat(project):
    job_id = project.jobs.create("segmentation", {"epochs": 1})
    project.jobs.set_state(job_id, "running", pid=2**22 + 12345)  # no such process here
    project.conn.execute("UPDATE jobs SET host = 'node-7' WHERE id = ?", (job_id,))
    project.conn.commit()
    assert project.jobs.mark_vanished() == []  # its heartbeat is fresh: it runs on node-7
    project.conn.execute("UPDATE jobs SET heartbeat_at = '2020-01-01T00:00:00.000Z' WHERE id = ?", (job_id,))
    project.conn.commit()
    assert project.jobs.mark_vanished() == [job_id]
    assert project.jobs.get(job_id).state == "interrupted"


@pytest.mark.slow
def test_two_processes_stop_together_and_resume_under_a_users_torchrun(tmp_path):
    from core.demo import build_demo

    project, _ = build_demo(tmp_path / "p", "detection")
    with project:
        job_id = create_job(project, "classification", {
            "architecture": "resnet18", "image_size": "48", "epochs": "4", "batch_size": "2", "workers": "0",
            "device": "cpu:2"})
    root = project.root
    proc = JobProcess(root, job_id).start()
    seen, ranks = [], []
    for event in proc.events():
        seen.append(event)
        if event.type == "epoch" and not ranks:
            ranks = [p.pid for p in psutil.Process(proc.proc.pid).children(recursive=True)]
            proc.stop()  # to rank 0 alone, through torchrun's stdin
    assert seen[-1].type == "stopped", seen[-1].data
    assert proc.proc.returncode == 0 and len(ranks) == 2
    assert not [pid for pid in ranks if psutil.pid_exists(pid) and psutil.Process(pid).status() != "zombie"]
    kinds = [e.type for e in seen]
    assert kinds.count("started") == 1 and kinds.count("stopped") == 1  # one voice: rank 0's
    with Project.open(root) as p:
        job = p.jobs.get(job_id)
        assert job.state == "stopped" and 1 <= job.epoch < 4
        assert list(p.jobs.history(job_id)) == list(range(1, job.epoch + 1))
        rows = [(c["kind"], c["path"]) for c in p.jobs.checkpoints(job_id)]
        assert len(rows) == len(set(rows))
    log = (root / "runs" / f"job-{job_id:04d}" / "worker.log").read_text()
    assert "rank 1/2" in log and "DDP over 2 processes" in log

    # The cluster route: the user starts torchrun; the job resumes where it stopped.
    created = subprocess.run([sys.executable, "-m", "core.cli.main", "train", str(root), "--pipeline",
                              "classification", "--create-only"], capture_output=True, text=True)
    assert created.returncode == 0 and "tessera torchrun" in created.stdout, created.stderr
    run = subprocess.run([sys.executable, "-m", "core.cli.main", "torchrun", "--standalone", "--nproc-per-node=2",
                          "--no-python", *worker_command(root, job_id, True)], capture_output=True, text=True,
                         timeout=600)
    events = [json.loads(line) for line in run.stdout.splitlines() if line.startswith("{")]
    assert run.returncode == 0 and events[-1]["type"] == "completed", run.stderr[-3000:]
    assert [e["epoch"] for e in events if e["type"] == "epoch"] == list(range(job.epoch + 1, 5))
    with Project.open(root) as p:
        assert p.jobs.get(job_id).state == "completed"
        assert list(p.jobs.history(job_id)) == [1, 2, 3, 4]
        assert p.jobs.model(events[-1]["model"]).pipeline == "classification"
