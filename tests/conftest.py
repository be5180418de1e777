import atexit
import os
import shutil
import tempfile
from pathlib import Path

import pytest

# Keep every library's files inside a throwaway folder, offline, before any import.
_HOME = Path(tempfile.mkdtemp(prefix="tessera-test-home-"))
atexit.register(shutil.rmtree, _HOME, ignore_errors=True)
os.environ.setdefault("TESSERA_HOME", str(_HOME))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from core.appdirs import configure_environment  # noqa: E402

configure_environment()


@pytest.fixture
def project(tmp_path):
    from core.project import Project

    p = Project.init(tmp_path / "proj")
    yield p
    p.close()


@pytest.fixture(scope="module")
def module_tmp(tmp_path_factory, request):
    """A folder for one test module's trained models, removed when the module ends.

    Training leaves checkpoints of a few hundred MB; kept for the whole session they
    once filled a CI machine's disk.
    """
    path = tmp_path_factory.mktemp(request.module.__name__.rsplit(".", 1)[-1])
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def demo_small(tmp_path_factory):
    """A small demo project with every kind, built once; copy it before changing it."""
    from core.demo import build_demo

    root = tmp_path_factory.mktemp("demo") / "project"
    project, _ = build_demo(root, "all", "small")
    project.close()
    return root


@pytest.fixture
def demo_copy(demo_small, tmp_path):
    from core.project import Project

    dst = tmp_path / "demo"
    shutil.copytree(demo_small, dst)
    p = Project.open(dst)
    yield p
    p.close()


@pytest.fixture(scope="session")
def demo_sources(tmp_path_factory):
    """The demo data in its source formats (before import)."""
    from core.demo.landcover import write_loveda
    from core.demo.panorama import write_jrdb
    from core.demo.underwater import write_coco

    root = tmp_path_factory.mktemp("sources")
    return {
        "loveda": write_loveda(root / "loveda", "small"),
        "coco": write_coco(root / "coco", "small"),
        "jrdb": write_jrdb(root / "jrdb", "small"),
    }
