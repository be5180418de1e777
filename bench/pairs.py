"""Pair sampling on the demo panoramas and on a synthetic set of frames.

    python bench/pairs.py [--frames 20000] [--persons 8,40] [--seed 0]
                          [--epoch-image-size 64] [--epochs 2] [--no-epoch-time]

JSON out: how much the distance limit reduces the pairs against all pairs (the
source document claims 70-80 %), the share of true interacting pairs it keeps,
negatives per positive with and without group sampling, and pairs sampled per
second; and the time of a real ``pairs-stage1`` training epoch on the demo
panoramas with both optimisations (distance limit, group sampling with
capped, balanced negatives: the defaults) against without them (every pair
of a frame, every negative), as a ratio (the source claims 60-70 % less).
Not a test: run by hand and record the figures."""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.pipelines.pairs.sampling import Frame, sample  # noqa: E402

WIDTH, HEIGHT = 3760, 480


def synthetic(frames: int, persons: tuple[int, int], seed: int) -> list[Frame]:
    """Frames like JRDB's: persons spread round the panorama, social groups of
    2-5 standing close together (their members interact), a few interacting
    pairs outside groups, also close."""
    rng = np.random.default_rng(seed)
    out = []
    for f in range(frames):
        n = int(rng.integers(persons[0], persons[1] + 1))
        cx, groups, k = rng.uniform(0, WIDTH, n), [], 0
        while k < n - 1 and rng.random() < 0.6:
            size = int(min(n - k, rng.integers(2, 6)))
            centre = rng.uniform(0, WIDTH)
            cx[k:k + size] = (centre + rng.normal(0, 60, size)) % WIDTH
            groups.append(list(range(k, k + size)))
            k += size
        w = rng.uniform(30, 90, n)
        h = w * rng.uniform(2.2, 3.0, n)
        y = rng.uniform(100, 250, n)
        boxes = np.stack([cx - w / 2, y, cx + w / 2, y + h], 1)
        interactions = {(a, b): {"talking": 1.0} for g in groups for i, a in enumerate(g) for b in g[i + 1:]}
        for _ in range(int(rng.integers(0, 3))):  # interacting pairs outside groups
            a, b = sorted(rng.choice(n, 2, replace=False).tolist())
            if min(abs(cx[a] - cx[b]), WIDTH - abs(cx[a] - cx[b])) < 400:
                interactions[(a, b)] = {"walking together": 1.0}
        out.append(Frame(f, WIDTH, boxes, interactions, groups))
    return out


def measure(frames: list[Frame]) -> dict:
    t = time.perf_counter()
    with_groups = sample(frames, seed=0)
    seconds = time.perf_counter() - t
    without = sample(frames, use_group_sampling=False, max_negatives_per_frame=10**6, stage1_balance_ratio=10**6,
                     seed=0)["report"]
    r = with_groups["report"]
    return {"frames": r["frames"], "pairs_all": r["pairs_all"], "pairs_within_distance": r["pairs_within_distance"],
            "pair_reduction_of_distance_limit": round(r["pair_reduction_of_distance_limit"], 3),
            "positives_kept_by_distance_limit": round(r["positive_recall_of_distance_limit"], 3),
            "negatives_per_positive_all_pairs_no_group_sampling": round(
                (r["pairs_all"] - r["positives_all"]) / max(1, r["positives_all"]), 2),
            "negatives_per_positive_within_distance_no_group_sampling": round(
                without["negatives_sampled"] / max(1, without["positives_sampled"]), 2),
            "negatives_per_positive_with_both": round(r["negatives_sampled"] / max(1, r["positives_sampled"]), 2),
            "positives_sampled": r["positives_sampled"], "negatives_sampled": r["negatives_sampled"],
            "candidate_pairs_per_s": round(r["pairs_all"] / seconds), "sampling_seconds": round(seconds, 2)}


#: pairs-stage1 without the optimisations: every pair (the panorama is at most
#: 1880 px away the short way), all of a group's pairs, every negative.
UNOPTIMISED = {"distance_multiplier": "100", "use_group_sampling": "false", "max_negatives_per_frame": "10000",
               "stage1_balance_ratio": "100"}


def epoch_time(root: Path, image_size: int, epochs: int) -> dict:
    """Real stage-1 jobs (CPU or the first GPU), each ``epochs`` long; the
    training part of the last epoch (validation excluded) is compared."""
    from core.jobs.runner import JobProcess, create_job
    from core.project import Project

    out = {}
    for name, values in (("optimised", {}), ("unoptimised", UNOPTIMISED)):
        with Project.open(root) as project:
            job = create_job(project, "pairs-stage1", {"image_size": str(image_size), "epochs": str(epochs),
                                                       "batch_size": "32", "workers": "2", **values})
            report = project.jobs.get(job).config["sampling_report"]
        final = JobProcess(root, job).start().run()
        if final.type != "completed":
            raise SystemExit(f"{name} job failed: {final.data}")
        with Project.open(root) as project:
            last = project.jobs.history(job)[epochs]
        out[name] = {"pairs_per_epoch": report["positives_sampled"] + report["negatives_sampled"],
                     "train_seconds": last["train_seconds"], "val_f1": round(last.get("val_f1", 0), 3)}
    out["epoch_time_ratio"] = round(out["optimised"]["train_seconds"] / out["unoptimised"]["train_seconds"], 3)
    out["epoch_time_saved"] = round(1 - out["epoch_time_ratio"], 3)
    out["image_size"] = image_size
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=20000)
    parser.add_argument("--persons", default="8,40")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epoch-image-size", type=int, default=64, help="crop size of the epoch-time jobs")
    parser.add_argument("--epochs", type=int, default=2, help="epochs of each epoch-time job (the last is timed)")
    parser.add_argument("--no-epoch-time", action="store_true", help="skip the stage-1 training epochs")
    args = parser.parse_args()
    from core.demo import build_demo
    from core.pipelines.pairs.frames import load_frames

    lo, hi = (int(v) for v in args.persons.split(","))
    out = {"synthetic": measure(synthetic(args.frames, (lo, hi), args.seed))}
    with tempfile.TemporaryDirectory() as tmp:
        project, _ = build_demo(Path(tmp) / "p", "pairs", "full")
        with project:
            out["demo_panoramas"] = measure(load_frames(project, split=None))
        if not args.no_epoch_time:
            out["stage1_epoch_time"] = epoch_time(project.root, args.epoch_image_size, args.epochs)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
