"""Does active learning help?  Select-annotate-retrain on the demo detection
data with an oracle, for uncertainty, hybrid and random selection.

    python bench/active_loop.py [--size small|full] [--seeds 0,1] [--rounds 3]
                                [--initial 4] [--budget 4] [--epochs 10]
                                [--image-size 160] [--out bench-out/active]

The training split's labels are hidden except for ``initial`` random images;
each round trains a detection model (a real job in a worker) on what is
labelled, measures mAP on the validation split, scores the unlabelled
training images, and the oracle reveals the ``budget`` images the strategy
picks (their stored annotations come back; an empty one becomes a confirmed
negative).  JSON out (and ``active_loop.json`` / ``active_loop.png`` in
``--out``): mAP per labelled-image count for each strategy and seed, and
their means.  Also the scoring throughput against plain prediction of the
same model on the same images, as a ratio (goal >= 0.9).  Not a test: run by
hand and record the figures."""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.appdirs import configure_environment  # noqa: E402

STRATEGIES = ("uncertainty", "hybrid", "random")


def _train(root: Path, args) -> int:
    from core.jobs.runner import JobProcess, create_job
    from core.project import Project

    with Project.open(root) as project:
        job_id = create_job(project, "detection", {
            "epochs": args.epochs, "image_size": args.image_size, "batch_size": 8, "workers": 0,
            "close_mosaic": max(1, args.epochs // 4), "learning_rate": 0.002, "seed": args.train_seed,
            "device": args.device})
    final = JobProcess(root, job_id).start().run()
    if final.type != "completed":
        raise SystemExit(f"training failed: {final.data}")
    return int(final.get("model"))


def _select(project, model_id: int, strategy: str, pool: list[int], budget: int, seed: int, device: str) -> list[int]:
    from core.active.scoring import ScoreOptions, score_images

    if strategy == "random":
        rng = np.random.default_rng(seed)
        return [int(i) for i in rng.choice(pool, size=min(budget, len(pool)), replace=False)]
    method = "entropy" if strategy == "uncertainty" else "hybrid"
    run = score_images(project, model_id, pool, ScoreOptions(method, top=budget, conf=0.05, seed=seed, device=device))
    if run.ranking:
        return run.ranking[:budget]
    return [i for i, _, _ in sorted(run.scored, key=lambda s: -s[1])][:budget]


def one_loop(source: Path, strategy: str, seed: int, args) -> list[dict]:
    import shutil

    from core.evaluate import evaluate_model
    from core.project import Project

    root = Path(tempfile.mkdtemp(prefix=f"al-{strategy}-{seed}-")) / "p"
    shutil.copytree(source, root)
    with Project.open(root) as project:
        train = [im.id for im in project.images.list("train")]
        hidden = {i: project.annotations.for_image(i) for i in train}
        rng = np.random.default_rng(seed)
        labelled = [int(i) for i in rng.choice(train, size=args.initial, replace=False)]
        for i in train:  # the oracle keeps the labels; the project sees only the labelled images'
            if i not in labelled:
                project.annotations.delete([a.id for a in hidden[i]])
                project.images.set_status(i, "unlabeled")
            else:
                project.images.set_status(i, "done")
    curve = []
    for round_no in range(args.rounds + 1):
        model_id = _train(root, args)
        with Project.open(root) as project:
            result = evaluate_model(project, model_id, device=args.device, efficiency=False)
            curve.append({"round": round_no, "labelled": len(labelled), "map50": round(result["map50"], 4),
                          "map50_95": round(result["map50_95"], 4), "model": model_id})
            print(json.dumps({"strategy": strategy, "seed": seed, **curve[-1]}), file=sys.stderr)
            if round_no == args.rounds:
                break
            pool = [i for i in train if i not in labelled]
            picks = _select(project, model_id, strategy, pool, args.budget, seed * 100 + round_no, args.device)
            for i in picks:  # the oracle reveals them
                project.annotations.restore(hidden[i])
                project.images.set_status(i, "done")
            labelled += picks
    curve[-1]["root"] = str(root)
    return curve


def throughput(root: Path, model_id: int, args, repeats: int = 3) -> dict:
    """Images per second of plain prediction and of entropy scoring, same
    model, same images, same reading; the best of ``repeats`` passes each."""
    from core.active.scoring import ModelScorer, ScoreOptions
    from core.pipelines.detection.infer import predict
    from core.pipelines.reader import ProjectReader
    from core.project import Project

    with Project.open(root) as project:
        ids = [im.id for im in project.images.list() if im.width * im.height <= 64_000_000]
        scorer = ModelScorer(project, model_id, ScoreOptions("entropy", conf=0.25, device=args.device))
        reader = ProjectReader(str(project.root))
        sizes = {i: project.images.get(i) for i in ids}

        def pixels(i):
            im = sizes[i]
            return reader.window(i, 0, 0, im.width, im.height)

        def run(fn) -> float:
            best = float("inf")
            for _ in range(repeats):
                t0 = time.perf_counter()
                for i in ids:
                    fn(pixels(i))
                best = min(best, time.perf_counter() - t0)
            return len(ids) / best

        net, size = scorer.net, scorer.state["image_size"]
        predict(net, pixels(ids[0]), size, conf=0.25)  # warm up
        plain = run(lambda p: predict(net, p, size, conf=0.25, device=args.device))
        scoring = run(scorer)
    return {"images": len(ids), "predict_images_per_s": round(plain, 2), "score_images_per_s": round(scoring, 2),
            "ratio": round(scoring / plain, 3)}


def _loop_settings(args) -> dict:
    """What makes two loops comparable (a cached loop is reused only under these)."""
    return {k: getattr(args, k) for k in ("size", "rounds", "initial", "budget", "epochs", "image_size",
                                          "train_seed")}


def plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=120)
    for strategy, by_seed in results.items():
        curves = list(by_seed.values())
        xs = [p["labelled"] for p in curves[0]]
        ys = np.array([[p["map50"] for p in c] for c in curves])
        ax.plot(xs, ys.mean(0), marker="o", label=f"{strategy} ({len(curves)} seeds)")
        if len(curves) > 1:
            ax.fill_between(xs, ys.min(0), ys.max(0), alpha=0.15)
    ax.set_xlabel("labelled training images")
    ax.set_ylabel("validation mAP@0.5")
    ax.set_title("Active learning on the demo detection data")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", default="small", choices=("small", "full"))
    parser.add_argument("--seeds", default="0,1")
    parser.add_argument("--strategies", default=",".join(STRATEGIES))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--initial", type=int, default=4)
    parser.add_argument("--budget", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--image-size", type=int, default=160)
    parser.add_argument("--train-seed", type=int, default=0)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", default="bench-out/active")
    parser.add_argument("--throughput", metavar="DIR:MODEL", help="only the scoring throughput, on this project's "
                                                                     "images with this detection model")
    args = parser.parse_args()
    configure_environment()
    if args.throughput:
        root, _, model = args.throughput.rpartition(":")
        print(json.dumps({"throughput": throughput(Path(root), int(model), args)}, indent=2))
        return
    from core.demo import build_demo

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    source = Path(tempfile.mkdtemp(prefix="al-source-")) / "p"
    project, _ = build_demo(source, "detection", args.size)
    project.close()
    started = time.monotonic()
    results: dict = {}
    done = out / "loops"  # one file per finished loop: a stopped run resumes where it was
    done.mkdir(exist_ok=True)
    for strategy in args.strategies.split(","):
        for seed in (int(s) for s in args.seeds.split(",")):
            cached = done / f"{strategy}-{seed}.json"
            if cached.is_file() and json.loads(cached.read_text()).get("settings") == _loop_settings(args):
                curve = json.loads(cached.read_text())["curve"]
            else:
                curve = one_loop(source, strategy, seed, args)
                cached.write_text(json.dumps({"settings": _loop_settings(args), "curve": curve}, indent=2))
            results.setdefault(strategy, {})[str(seed)] = curve
    last = results[next(iter(results))]["0" if "0" in results[next(iter(results))] else
                                        next(iter(results[next(iter(results))]))][-1]
    means = {s: [{"labelled": p["labelled"],
                  "map50": round(float(np.mean([c[k]["map50"] for c in by_seed.values()])), 4),
                  "map50_95": round(float(np.mean([c[k]["map50_95"] for c in by_seed.values()])), 4)}
                 for k, p in enumerate(next(iter(by_seed.values())))] for s, by_seed in results.items()}
    report = {"settings": {k: v for k, v in vars(args).items()}, "mean": means, "runs": results,
              "throughput": (throughput(Path(last["root"]), last["model"], args)
                             if Path(last.get("root", "/nonexistent")).is_dir() else "see --throughput"),
              "minutes": round((time.monotonic() - started) / 60, 1)}
    (out / "active_loop.json").write_text(json.dumps(report, indent=2))
    plot(results, out / "active_loop.png")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
