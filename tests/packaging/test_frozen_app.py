"""The packaged app (packaging/tessera.spec): built with PyInstaller, its one
binary is the CLI, the worker and the studio.  With it alone: the doctor
report, the demo project, one tiny training job to completion (the worker is
the frozen binary itself), the studio window and its tile worker, and the
desktop entry."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.slow, pytest.mark.timeout(2400)]


@pytest.fixture(scope="module")
def frozen(tmp_path_factory):
    pytest.importorskip("PyInstaller")
    where = tmp_path_factory.mktemp("package")
    log = where / "pyinstaller.log"
    with open(log, "w") as out:
        build = subprocess.run([sys.executable, "-m", "PyInstaller", "--noconfirm", "--log-level", "WARN",
                                "--distpath", str(where / "dist"), "--workpath", str(where / "build"),
                                str(ROOT / "packaging" / "tessera.spec")],
                               cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, timeout=2000)
    assert build.returncode == 0, log.read_text()[-3000:]
    shutil.rmtree(where / "build", ignore_errors=True)
    app = where / "dist" / "tessera"
    yield app
    shutil.rmtree(where / "dist", ignore_errors=True)  # several GB: not left for the next tests


def environment(home: Path, env=None) -> dict:
    """The user's environment, without this checkout's Python."""
    environ = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    environ.update(TESSERA_HOME=str(home), QT_QPA_PLATFORM="offscreen", **(env or {}))
    environ["PATH"] = os.pathsep.join(p for p in environ.get("PATH", "").split(os.pathsep) if ".venv" not in p)
    return environ


def run(app: Path, home: Path, *args, timeout=600, env=None):
    environ = environment(home, env)
    result = subprocess.run([str(app / "tessera"), *map(str, args)], capture_output=True, text=True,
                            timeout=timeout, env=environ, cwd=home)
    assert result.returncode == 0, f"tessera {' '.join(map(str, args))}: {result.stderr[-3000:]}"
    return result


def test_the_frozen_binary_is_the_cli_the_worker_and_the_studio(frozen, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    report = json.loads(run(frozen, home, "doctor", "--json").stdout)
    assert report["frozen"] and report["build"]["variant"] in ("cpu", f"cuda{report['cuda']['torch_cuda']}")
    assert all(report["libraries"].values()), report["libraries"]
    assert report["folders"]["matplotlib"].startswith(str(home))  # not PyInstaller's throwaway folder

    project = tmp_path / "demo"
    run(frozen, home, "demo", project, "--kind", "segmentation", "--size", "small")
    out = run(frozen, home, "train", project, "--pipeline", "segmentation", "--set", "architecture=unet",
              "--set", "encoder=resnet18", "--set", "image_size=64", "--set", "batch_size=4",
              "--set", "workers=0", "--set", "epochs=1", "--set", "device=cpu:2", timeout=900)
    assert "completed" in out.stdout + out.stderr
    jobs = run(frozen, home, "jobs", project).stdout
    assert "completed" in jobs
    log = (project / "runs" / "job-0001" / "worker.log").read_text()
    # two processes (DDP) through the app's own torchrun, each the frozen worker
    assert "device cpu" in log and "DDP over 2 processes" in log and "rank 1/2" in log
    assert f"{frozen / 'tessera'} (packaged app)" in log  # the worker is the frozen binary itself

    # detection: ultralytics' own trainer, which imports parts of itself by name
    boxes = tmp_path / "boxes"
    run(frozen, home, "demo", boxes, "--kind", "detection", "--size", "small")
    out = run(frozen, home, "train", boxes, "--pipeline", "detection", "--set", "architecture=yolov8n",
              "--set", "image_size=64", "--set", "batch_size=4", "--set", "workers=0", "--set", "epochs=1",
              "--set", "device=cpu", timeout=900)
    assert "completed" in out.stdout + out.stderr
    exported = run(frozen, home, "export-model", boxes, "--model", "1", "--format", "onnx", timeout=900)
    assert "passed" in exported.stdout  # the ONNX model gives the PyTorch model's accuracy

    shot = tmp_path / "studio.png"
    run(frozen, home, "gui", project, "--screenshot", shot, timeout=300)
    assert shot.stat().st_size > 10_000
    # the studio's tile worker is the frozen binary too: an image tile and a shape tile through it
    from core.imagery import TilePyramid
    from core.imagery.shape_raster import Style
    from core.imagery.workers import ask
    from core.project import Project

    with Project.open(boxes) as opened:  # the detection demo: boxes to draw
        image = next(im for im in opened.images.list() if opened.annotations.count(im.id))
        pyramid = TilePyramid.for_image(opened, image)
        tile, (rgba, ids, _) = ask([str(frozen / "tessera"), "tile-worker"], [
            ("image_tile", (str(pyramid.image_path), pyramid.checksum, str(pyramid.cache_root), 0, 0, 0)),
            ("shape_tile", (str(opened.root), image.id, (0, 0, 0), Style(), frozenset()))], env=environment(home))
    assert tile.ndim == 3 and tile.any() and len(ids) and rgba[..., 3].any()
    # nothing written into the user's home outside the app's folders
    assert not (tmp_path / ".config" / "Ultralytics").exists()


def test_the_desktop_entry_installs_with_its_icons(frozen, tmp_path):
    data = tmp_path / "share"
    subprocess.run(["sh", str(ROOT / "packaging" / "linux" / "install.sh"), str(frozen)], check=True,
                   env={**os.environ, "XDG_DATA_HOME": str(data)}, capture_output=True)
    entry = (data / "applications" / "tessera.desktop").read_text()
    assert f"Exec={frozen / 'tessera'} gui" in entry and "Icon=tessera" in entry
    for size in (16, 32, 48, 64, 128, 256, 512):
        assert (data / "icons" / "hicolor" / f"{size}x{size}" / "apps" / "tessera.png").is_file()
    assert (data / "icons" / "hicolor" / "scalable" / "apps" / "tessera.svg").is_file()
