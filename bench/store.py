"""Store benchmark: insert rate, viewport queries through the R*Tree against a
full scan, and COCO import against pycocotools.COCO() on the same file.

    python bench/store.py [--annotations 1000000] [--coco-annotations 100000]

Prints one JSON object.  Not a test: run by hand and record the figures."""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("TESSERA_HOME", tempfile.mkdtemp(prefix="tessera-bench-"))

import shapely  # noqa: E402

from core.appdirs import configure_environment  # noqa: E402
from core.project import Project  # noqa: E402
from core.project.annotations import NewAnnotation  # noqa: E402


def percentiles(samples: list[float]) -> dict:
    a = np.asarray(samples) * 1000
    return {"p50_ms": round(float(np.percentile(a, 50)), 3), "p99_ms": round(float(np.percentile(a, 99)), 3)}


def bench_insert_and_query(root: Path, n: int, images: int, side: int, queries: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    project = Project.init(root / "store")
    ids = [project.images.add(f"{i}.tif", f"media/{i}.tif", side, side, "0" * 40) for i in range(images)]
    batch = 50_000
    t0 = time.perf_counter()
    done = 0
    while done < n:
        k = min(batch, n - done)
        xy = rng.uniform(0, side - 100, (k, 2))
        wh = rng.uniform(4, 100, (k, 2))
        img = rng.integers(0, images, k)
        geoms = shapely.box(xy[:, 0], xy[:, 1], xy[:, 0] + wh[:, 0], xy[:, 1] + wh[:, 1])
        project.annotations.add_many([NewAnnotation(image_id=ids[int(img[j])], kind="box", geometry=geoms[j])
                                      for j in range(k)])
        done += k
    insert_s = time.perf_counter() - t0

    conn = project.conn
    viewport = 2000  # a 2000 x 2000 screenful at full resolution
    rtree_t, scan_t, hits = [], [], []
    for _ in range(queries):
        image_id = ids[int(rng.integers(images))]
        x1, y1 = rng.uniform(0, side - viewport, 2)
        x2, y2 = x1 + viewport, y1 + viewport
        t = time.perf_counter()
        got = project.annotations.in_viewport(image_id, x1, y1, x2, y2)
        rtree_t.append(time.perf_counter() - t)
        t = time.perf_counter()
        rows = conn.execute(
            "SELECT id, geometry FROM annotations NOT INDEXED WHERE image_id = ? AND x1 <= ? AND x2 >= ? "
            "AND y1 <= ? AND y2 >= ?", (image_id, x2, x1, y2, y1)).fetchall()
        scan_t.append(time.perf_counter() - t)
        assert len(rows) == len(got)
        hits.append(len(got))
    project.close()
    r, s = percentiles(rtree_t), percentiles(scan_t)
    return {
        "annotations": n, "images": images, "image_side": side,
        "insert_seconds": round(insert_s, 2), "insert_per_second": round(n / insert_s),
        "viewport": {"size": viewport, "queries": queries, "mean_hits": round(float(np.mean(hits)), 1),
                     "rtree": r, "full_scan": s,
                     "scan_over_rtree_p50": round(s["p50_ms"] / r["p50_ms"], 1),
                     "scan_over_rtree_p99": round(s["p99_ms"] / r["p99_ms"], 1)},
    }


def bench_coco(root: Path, n: int, images: int, seed: int) -> dict:
    from PIL import Image
    from pycocotools.coco import COCO

    from core.formats import import_dataset

    rng = np.random.default_rng(seed)
    src = root / "coco"
    (src / "images").mkdir(parents=True)
    side = 512
    doc = {"images": [], "annotations": [], "categories": [{"id": i, "name": f"c{i}"} for i in range(1, 11)]}
    for i in range(images):
        Image.fromarray(rng.integers(0, 255, (side, side, 3), dtype=np.uint8)).save(src / "images" / f"{i}.jpg")
        doc["images"].append({"id": i + 1, "file_name": f"{i}.jpg", "width": side, "height": side})
    for j in range(n):
        x, y = rng.uniform(0, side - 60, 2)
        w, h = rng.uniform(4, 60, 2)
        ann = {"id": j + 1, "image_id": int(rng.integers(images)) + 1, "category_id": int(rng.integers(1, 11)),
               "bbox": [round(x, 2), round(y, 2), round(w, 2), round(h, 2)], "area": round(w * h, 2), "iscrowd": 0}
        if j % 2:
            ann["segmentation"] = [[x, y, x + w, y, x + w, y + h, x, y + h]]
        doc["annotations"].append(ann)
    path = src / "annotations.json"
    path.write_text(json.dumps(doc))
    t = time.perf_counter()
    with contextlib.redirect_stdout(sys.stderr):  # pycocotools prints its progress
        COCO(str(path))
    coco_s = time.perf_counter() - t
    project = Project.init(root / "coco-project")
    t = time.perf_counter()
    report = import_dataset(project, "coco", path)
    import_s = time.perf_counter() - t
    assert report.annotations == n and not report.skipped
    project.close()
    return {"annotations": n, "images": images, "pycocotools_load_seconds": round(coco_s, 3),
            "tessera_import_seconds": round(import_s, 3), "import_over_pycocotools": round(import_s / coco_s, 1),
            "note": "the import also verifies, checksums and copies every image and validates every shape"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--annotations", type=int, default=1_000_000)
    parser.add_argument("--images", type=int, default=10)
    parser.add_argument("--side", type=int, default=40_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--coco-annotations", type=int, default=100_000)
    parser.add_argument("--coco-images", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    configure_environment()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        out = {"store": bench_insert_and_query(tmp, args.annotations, args.images, args.side, args.queries, args.seed),
               "coco_import": bench_coco(tmp, args.coco_annotations, args.coco_images, args.seed)}
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
