import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]


def tessera(*args, check_rc=None):
    env = dict(os.environ)
    result = subprocess.run([sys.executable, "-m", "core.cli.main", *map(str, args)], cwd=ROOT,
                            capture_output=True, text=True, env=env, timeout=300)
    if check_rc is not None:
        assert result.returncode == check_rc, result.stderr
    return result


def test_init_demo_info_split_tiles_export(tmp_path):
    proj = tmp_path / "p"
    tessera("demo", proj, "--kind", "detection", check_rc=0)
    info = json.loads(tessera("info", proj, "--json", check_rc=0).stdout)
    assert info["images"] == 24 and info["annotations"] > 0
    assert set(info["classes"]) == {"fish", "jellyfish", "starfish", "sea_urchin", "shark"}
    assert info["critical_classes"] == ["jellyfish", "shark"]
    assert set(info["splits"]) == {"train", "val", "test"} and sum(info["splits"].values()) == 24

    out = tessera("split", proj, "--ratios", "0.5,0.5", "--seed", "1", "--all", check_rc=0).stdout
    assert "train 12" in out and "val 12" in out
    out = tessera("tiles", proj, "--size", "128", "--overlap", "0", check_rc=0).stdout
    assert "tile set tiles-128: " in out
    for fmt in ("coco", "yolo", "labelme"):
        tessera("export", proj, "--format", fmt, tmp_path / fmt, check_rc=0)
    assert (tmp_path / "coco" / "annotations.json").is_file() and (tmp_path / "yolo" / "data.yaml").is_file()

    fresh = tmp_path / "fresh"
    assert "created project" in tessera("init", fresh, check_rc=0).stdout
    r = tessera("import", fresh, "--format", "coco", tmp_path / "coco" / "annotations.json", "--json", check_rc=0)
    assert json.loads(r.stdout)["images"] == 24


def test_three_bad_files_of_many(tmp_path):
    src = tmp_path / "imgs"
    src.mkdir()
    for i in range(12):
        Image.fromarray(np.full((16, 16, 3), i * 10, np.uint8)).save(src / f"{i:02d}.png")
    (src / "03.png").write_bytes(b"not an image")
    (src / "07.png").write_bytes((src / "08.png").read_bytes()[:40])
    (src / "11.png").write_bytes(b"")
    proj = tmp_path / "p"
    tessera("init", proj, check_rc=0)
    r = tessera("import", proj, "--format", "images", src, "--split", "train", check_rc=0)
    assert "imported 9 images" in r.stdout
    skipped = [line for line in r.stderr.splitlines() if line.startswith("skipped:")]
    assert len(skipped) == 3 and all(".png:" in line for line in skipped)


def test_errors_are_one_line_and_exit_2(tmp_path):
    r = tessera("info", tmp_path / "nowhere", check_rc=2)
    assert r.stderr.strip().count("\n") == 0 and "not a Tessera project" in r.stderr
    proj = tmp_path / "p"
    tessera("init", proj, check_rc=0)
    bad = tmp_path / "bad.json"
    bad.write_text("{oops")
    r = tessera("import", proj, "--format", "coco", bad, check_rc=2)
    assert r.stderr.strip() == f"tessera: error: {bad}: malformed JSON: Expecting property name enclosed in double quotes at line 1 column 2"
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "x.png").write_bytes(b"junk")
    r = tessera("import", proj, "--format", "images", empty, check_rc=2)
    assert "nothing could be imported" in r.stderr and "x.png" in r.stderr
    r = tessera("import", proj, "--format", "jrdb", tmp_path / "missing", check_rc=2)
    assert "missing: no such file or folder" in r.stderr
    assert json.loads(tessera("info", proj, "--json", check_rc=0).stdout)["images"] == 0
    blocker = tmp_path / "afile"
    blocker.write_text("x")
    r = tessera("export", proj, "--format", "coco", blocker / "out", check_rc=2)
    assert r.stderr.startswith("tessera: error: ") and "afile" in r.stderr and "Traceback" not in r.stderr


def test_training_commands_check_everything_before_work(tmp_path):
    pipes = json.loads(tessera("pipelines", "--json", check_rc=0).stdout)
    assert {p["name"] for p in pipes} >= {"segmentation", "detection", "classification"}
    seg = next(p for p in pipes if p["name"] == "segmentation")
    defaults = {p["name"]: p["default"] for p in seg["params"]}
    assert defaults["batch_size"] == 8 and defaults["epochs"] == 10 and defaults["learning_rate"] == 0.001
    assert defaults["scheduler"] == "poly" and defaults["save_every"] == 10 and defaults["keep_last"] == 3
    proj = tmp_path / "p"
    tessera("demo", proj, "--kind", "segmentation", check_rc=0)
    for args, message in ((["--set", "epochz=3"], "unknown parameter 'epochz'"),
                          (["--set", "epochs=0"], "out of range"),
                          (["--set", "training_set=tiles:nope"], "no tile set named 'nope'"),
                          (["--from-model", "5"], "no model 5")):
        r = tessera("train", proj, "--pipeline", "segmentation", *args, check_rc=2)
        assert message in r.stderr and r.stderr.strip().count("\n") == 0
    r = tessera("train", proj, "--pipeline", "detection", check_rc=2)
    assert "no training data" in r.stderr
    assert json.loads(tessera("jobs", proj, "--json", check_rc=0).stdout) == []
    r = tessera("stop", proj, "3", check_rc=2)
    assert "no job 3" in r.stderr


def test_pairs_preview_reports_sampling_before_training(tmp_path):
    proj = tmp_path / "p"
    tessera("demo", proj, "--kind", "pairs", check_rc=0)
    report = json.loads(tessera("pairs-preview", proj, "--json", check_rc=0).stdout)
    for key in ("frames", "pairs_all", "pairs_within_distance", "positives_all", "positives_within_distance",
                "positives_sampled", "negatives_sampled", "stage2_class_counts"):
        assert key in report, key
    assert report["frames"] > 0 and report["pairs_within_distance"] < report["pairs_all"]
    assert report["positives_within_distance"] <= report["positives_all"]
    wider = json.loads(tessera("pairs-preview", proj, "--set", "distance_multiplier=50", "--json", check_rc=0).stdout)
    assert wider["pairs_within_distance"] >= report["pairs_within_distance"]
    r = tessera("pairs-preview", proj, "--set", "distance_multiplier=0", check_rc=2)
    assert "out of range" in r.stderr and r.stderr.strip().count("\n") == 0


def test_doctor_reports_the_environment_and_the_folders(tmp_path):
    report = json.loads(tessera("doctor", tmp_path, "--json", check_rc=0).stdout)
    assert report["frozen"] is False and report["build"] is None  # from source, not a packaged build
    assert report["libraries"]["torch"] and report["disk"]["folder"] == str(tmp_path.resolve())
    assert report["folders"]["data"] == os.environ["TESSERA_HOME"]
    text = tessera("doctor", tmp_path, check_rc=0).stdout
    assert text.startswith("Tessera Studio ") and "torch" in text and "CUDA" in text
