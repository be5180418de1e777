"""Scoring a pool of images with a registered model: each image's
uncertainty (and, for the diversity methods, its backbone embedding), stored
as the project's queue with the method, the model and a rank.

Runs wherever it is called; the command line (``tessera score``) is the
process the studio starts for it, so the GUI never scores in its own."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import TesseraError
from ..progress import Progress, track
from ..project import Project
from . import uncertainty as unc
from .diversity import hybrid, k_center_greedy

DIVERSITY = ("coreset", "hybrid")
METHODS = unc.METHODS + DIVERSITY
SCORED_PIPELINES = ("segmentation", "detection", "classification")
DEFAULT_SELECTION = 20  # images a diversity method picks when --top is not given
MAX_PIXELS = 64_000_000  # as whole-image prediction: larger images are scored through their tiles


@dataclass
class ScoreOptions:
    method: str = "entropy"
    aggregate: str = "max"  # detection: per-box scores to one per image
    uncertainty: str = "entropy"  # hybrid: the uncertainty its candidates are ranked by
    top: int | None = None  # diversity methods: how many to select
    conf: float = 0.25  # detection: boxes under this are not detections
    threshold: float = unc.CONFIDENCE_THRESHOLD  # detection: confidence_below counts under this
    seed: int = 0
    device: str = "cpu"

    def check(self) -> "ScoreOptions":
        if self.method not in METHODS:
            raise TesseraError(f"unknown scoring method {self.method!r}; use one of {', '.join(METHODS)}")
        if self.uncertainty not in unc.METHODS:
            raise TesseraError(f"unknown uncertainty {self.uncertainty!r}; use one of {', '.join(unc.METHODS)}")
        if self.aggregate not in unc.AGGREGATES:
            raise TesseraError(f"unknown aggregate {self.aggregate!r}; use one of {', '.join(unc.AGGREGATES)}")
        if self.top is not None and self.top < 1:
            raise TesseraError(f"--top must be at least 1, got {self.top}")
        for name in ("conf", "threshold"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise TesseraError(f"{name} {getattr(self, name)} is out of range 0..1")
        return self

    @property
    def base_method(self) -> str:
        """The uncertainty measured per image."""
        return self.method if self.method in unc.METHODS else self.uncertainty


@dataclass
class ScoreRun:
    model_id: int
    method: str
    scored: list[tuple[int, float, dict]] = field(default_factory=list)
    ranking: list[int] | None = None
    skipped: list[str] = field(default_factory=list)

    def summary(self, project: Project, top: int | None = None) -> dict:
        by_score = [i for i, _, _ in sorted(self.scored, key=lambda s: -s[1])]
        first = self.ranking or []
        chosen = set(first)
        ranked = first + [i for i in by_score if i not in chosen]
        ranked = ranked[:top] if top else ranked
        by_id = {i: (s, d) for i, s, d in self.scored}
        return {"model": self.model_id, "method": self.method, "scored": len(self.scored),
                "skipped": self.skipped,
                "ranked": [{"rank": r, "image_id": i, "image": project.images.get(i).name,
                            "score": round(by_id[i][0], 6), **by_id[i][1]} for r, i in enumerate(ranked, 1)]}


# -- which images ---------------------------------------------------------
def pool(project: Project, subset: str | None = None) -> list[int]:
    """Image ids of a pool: ``unlabeled`` (default: no human shape and no
    mask), ``all``, ``split=NAME``, ``ids=1,2,3`` or ``names=a.jpg,b.jpg``
    (names may be patterns: ``names=dive*``)."""
    subset = (subset or "unlabeled").strip()
    images = project.images.list()
    if subset == "all":
        return [im.id for im in images]
    if subset == "unlabeled":
        counts, masked = project.annotations.counts_by_image(), set(project.masks.image_ids())
        return [im.id for im in images if not counts.get(im.id) and im.id not in masked]
    key, _, value = subset.partition("=")
    if key == "split" and value:
        return [im.id for im in images if im.split == value]
    if key == "ids" and value:
        try:
            wanted = [int(v) for v in value.split(",") if v.strip()]
        except ValueError:
            raise TesseraError(f"--subset ids= takes image ids separated by commas, got {value!r}") from None
        known = {im.id for im in images}
        missing = [i for i in wanted if i not in known]
        if missing:
            raise TesseraError(f"no image with id {', '.join(map(str, missing))} in this project")
        return wanted
    if key == "names" and value:
        from fnmatch import fnmatchcase

        by_name = {im.name: im.id for im in images}
        out, missing = [], []
        for name in (v.strip() for v in value.split(",") if v.strip()):
            found = ([i for n, i in by_name.items() if fnmatchcase(n, name)] if any(c in name for c in "*?[")
                     else [by_name[name]] if name in by_name else [])
            out += [i for i in found if i not in out]
            if not found:
                missing.append(name)
        if missing:
            raise TesseraError(f"no image named {', '.join(missing)} in this project")
        return out
    raise TesseraError(f"unknown --subset {subset!r}; use unlabeled, all, split=NAME, ids=1,2 or names=a.jpg,b.jpg")


def labelled(project: Project) -> list[int]:
    """Images already annotated (the set a core-set selection spreads away from)."""
    counts, masked = project.annotations.counts_by_image(), set(project.masks.image_ids())
    return [im.id for im in project.images.list() if counts.get(im.id) or im.id in masked]


# -- one model, one image -------------------------------------------------
class ModelScorer:
    """A registered model loaded once; ``__call__(pixels)`` gives the image's
    uncertainty details and its embedding."""

    def __init__(self, project: Project, model_id: int, options: ScoreOptions):
        self.model = project.jobs.model(model_id)
        self.pipeline = self.model.pipeline
        if self.pipeline not in SCORED_PIPELINES:
            raise TesseraError(f"model {model_id} ({self.pipeline}) cannot score images; "
                               f"use a {', '.join(SCORED_PIPELINES)} model")
        self.options = options
        self.embed = options.method in DIVERSITY
        if self.pipeline == "segmentation":
            from ..pipelines.segmentation.infer import load_model
        elif self.pipeline == "detection":
            from ..pipelines.detection.infer import load_model
        else:
            from ..pipelines.classification.infer import load_model
        net, self.state = load_model(self.model.path)
        self.net = net.to(options.device).eval()
        self.names = [c["name"] for c in self.state["classes"]]

    def __call__(self, pixels: np.ndarray) -> tuple[dict, np.ndarray | None]:
        method, opt = self.options.base_method, self.options
        if self.pipeline == "segmentation":
            import torch

            from ..pipelines.segmentation.infer import predict_logits

            embedding: list = []
            logits = predict_logits(self.net, pixels, opt.device, embedding if self.embed else None)
            probs = torch.softmax(logits, 0).numpy()
            got = unc.segmentation_score(probs, method)
            got["per_class"] = {self.names[c]: round(v, 6) for c, v in got["per_class"].items()}
            return got, (embedding[0] if embedding else None)
        if self.pipeline == "detection":
            from ..pipelines.detection.infer import predict

            found = predict(self.net, pixels, self.state["image_size"], conf=opt.conf, device=opt.device, details=True)
            got = unc.detection_score(unc.box_distribution(found["class_scores"]), found["scores"],
                                              method, opt.aggregate, opt.threshold)
            got.update(aggregate=opt.aggregate, threshold=opt.threshold)
            return got, (found["embedding"] if self.embed else None)
        from ..pipelines.classification.infer import predict_proba

        embedding = []
        probs = predict_proba(self.net, [pixels], self.state["image_size"], opt.device,
                              embedding if self.embed else None)[0]
        best = int(probs.argmax())
        got = {"score": unc.classification_score(probs, method), "predicted": self.names[best],
               "probability": round(float(probs[best]), 6)}
        return got, (embedding[0][0] if embedding else None)


# -- the whole pool -------------------------------------------------------
def score_images(project: Project, model_id: int, image_ids: list[int], options: ScoreOptions,
                 progress: Progress | None = None) -> ScoreRun:
    """Score ``image_ids`` (not storing anything)."""
    from ..pipelines.reader import ProjectReader

    options.check()
    if not image_ids:
        raise TesseraError("no images to score")
    scorer = ModelScorer(project, model_id, options)
    reader = ProjectReader(str(project.root))
    run = ScoreRun(model_id, options.method)
    embeddings: dict[int, np.ndarray] = {}
    for image_id in track(image_ids, progress, message="scoring"):
        image = project.images.get(image_id)
        if image.width * image.height > MAX_PIXELS:
            run.skipped.append(f"{image.name}: {image.width}x{image.height} is too large to score whole; "
                               f"score its tiles")
            continue
        try:
            pixels = reader.window(image_id, 0, 0, image.width, image.height)
        except (OSError, ValueError) as exc:
            run.skipped.append(f"{image.name}: unreadable ({exc})")
            continue
        got, embedding = scorer(pixels)
        score = float(got.pop("score"))
        run.scored.append((image_id, score, {"uncertainty": options.base_method, **got}))
        if embedding is not None:
            embeddings[image_id] = np.asarray(embedding, dtype=np.float64).reshape(-1)
    if not run.scored:
        raise TesseraError("no image could be scored: " + "; ".join(run.skipped))
    if options.method in DIVERSITY:
        _select(project, scorer, reader, run, embeddings, options, progress)
    return run


def _select(project: Project, scorer: ModelScorer, reader, run: ScoreRun, embeddings: dict, options: ScoreOptions,
            progress: Progress | None) -> None:
    ids = [i for i, _, _ in run.scored]
    x = np.stack([embeddings[i] for i in ids])
    k = min(options.top or DEFAULT_SELECTION, len(ids))
    if options.method == "hybrid":
        picks = hybrid([s for _, s, _ in run.scored], x, k, seed=options.seed)
    else:
        # spread away from what is labelled already: its embeddings join the pool as chosen
        known = [i for i in labelled(project) if i not in set(ids)]
        extra = []
        for image_id in track(known, progress, message="embedding labelled images"):
            image = project.images.get(image_id)
            if image.width * image.height <= MAX_PIXELS:
                extra.append(np.asarray(scorer(reader.window(image_id, 0, 0, image.width, image.height))[1],
                                        dtype=np.float64).reshape(-1))
        everything = np.concatenate([x, np.stack(extra)]) if extra else x
        chosen = list(range(len(ids), len(everything)))
        picks = k_center_greedy(everything, k, selected=chosen, seed=options.seed)
        if chosen:  # distance to the nearest labelled image, 0..1 by the farthest
            far = np.min(np.linalg.norm(x[:, None, :] - everything[chosen][None], axis=2), axis=1)
            far = far / far.max() if far.max() > 0 else far
            run.scored = [(i, float(d), {**det, "uncertainty_score": round(s, 6)})
                          for (i, s, det), d in zip(run.scored, far)]
    chosen_ids = [ids[p] for p in picks]
    chosen_set = set(chosen_ids)
    run.scored = [(i, s, {**d, "selected": i in chosen_set}) for i, s, d in run.scored]
    run.ranking = chosen_ids


def score_pool(project: Project, model_id: int, options: ScoreOptions, subset: str | None = None,
               progress: Progress | None = None) -> ScoreRun:
    """Score a pool and make it the queue (states already set are kept)."""
    ids = pool(project, subset)
    if not ids:
        raise TesseraError(f"the pool {subset or 'unlabeled'!r} is empty"
                           + (" (every image has annotations): use --subset all or split=NAME"
                              if not subset or subset == "unlabeled" else ""))
    run = score_images(project, model_id, ids, options, progress)
    project.queue.replace(model_id, options.method, run.scored, run.ranking)
    return run
