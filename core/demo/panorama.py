"""JRDB-like 360-degree panoramas (3760 x 480) with persons, social groups
(one of them straddling the left/right seam) and pair interactions of five
kinds, written in JRDB's stitched-label layout."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from ..formats.jrdb import BOXES, IMAGES, SOCIAL
from ..formats.jsonio import write_json

WIDTH, HEIGHT = 3760, 480
INTERACTIONS = ("walking together", "standing together", "sitting together", "conversation",
                "looking at sth together")
ACTIONS = {"walking together": "walking", "standing together": "standing", "sitting together": "sitting",
           "conversation": "talking", "looking at sth together": "looking at sth"}


def _background(rng: np.random.Generator) -> Image.Image:
    x = np.linspace(0, 2 * np.pi, WIDTH, dtype=np.float32)
    wall = 150 + 25 * np.sin(x * 3)[None, :, None] + np.zeros((HEIGHT, 1, 3), np.float32)
    wall[HEIGHT * 2 // 3:] *= 0.6  # floor
    wall += rng.normal(0, 5, (HEIGHT, WIDTH, 3)).astype(np.float32)
    return Image.fromarray(np.clip(wall, 0, 255).astype(np.uint8))


def _make_people(rng: np.random.Generator, n_people: int) -> list[dict]:
    """Persons with stable ids, a group each, a kind per group and a position."""
    people, gid, pid = [], 1, 1
    sizes = []
    while sum(sizes) < n_people:
        sizes.append(int(rng.choice([1, 1, 2, 2, 3, 4])))
    for gi, size in enumerate(sizes):
        if gi == 0:
            centre = WIDTH - 30.0  # group 1 straddles the seam
        elif rng.random() < 0.5:  # next to the previous group: near pairs that do not interact
            last = people[-1]
            centre = (last["x"] + float(rng.choice([-1, 1]) * rng.uniform(150, 260))) % WIDTH
        else:
            centre = float(rng.uniform(0, WIDTH))
        kind = INTERACTIONS[int(rng.integers(len(INTERACTIONS)))]
        depth = float(rng.uniform(0.6, 1.2))
        for k in range(size):
            people.append({"pid": pid, "group": gid, "kind": kind, "depth": depth,
                           "x": centre + (k - (size - 1) / 2) * 95 * depth,
                           "w": float(rng.uniform(55, 80)) * depth, "colour": tuple(int(c) for c in rng.integers(30, 220, 3))})
            pid += 1
        gid += 1
    return people


def write_jrdb(root: Path, size: str, seed: int = 0) -> Path:
    seqs, frames, n_people = (1, 3, 9) if size == "small" else (2, 8, 16)
    rng = np.random.default_rng(seed)
    for s in range(seqs):
        seq = f"demo-corridor_{s}"
        people = _make_people(rng, n_people)
        boxes_doc, social_doc = {}, {}
        for f in range(frames):
            frame = f"{f:06d}.jpg"
            img = _background(rng)
            draw = ImageDraw.Draw(img)
            entries_2d, entries_social = [], []
            boxes = {}
            for p in people:
                p["x"] = (p["x"] + (6 if p["kind"] == "walking together" else 0)) % WIDTH
                h = (300 if p["kind"] != "sitting together" else 200) * p["depth"]
                boxes[p["pid"]] = [int(p["x"] - p["w"] / 2) % WIDTH, int(HEIGHT * 0.78 - h), int(p["w"]), int(h)]
            for p in people:
                x, y, w, h = boxes[p["pid"]]
                for shift in (0, -WIDTH):  # draw the part that wraps past the seam too
                    draw.rounded_rectangle([x + shift, y + w * 0.6, x + shift + w, y + h], radius=8, fill=p["colour"])
                    draw.ellipse([x + shift + w * 0.2, y, x + shift + w * 0.8, y + w * 0.6], fill=(225, 190, 160))
                label_id = f"pedestrian:{p['pid']}"
                entries_2d.append({"label_id": label_id, "box": boxes[p["pid"]], "file_id": frame,
                                   "attributes": {"occlusion": "Fully_visible", "truncated": "false"}})
                group = [q for q in people if q["group"] == p["group"]]
                inter = []
                for q in (q for q in group if q["pid"] > p["pid"]):
                    labels = {p["kind"]: 1}
                    if p["kind"] == "standing together" and rng.random() < 0.5:
                        labels["conversation"] = 1  # multi-label pairs occur
                    inter.append({"pair": f"pedestrian:{q['pid']}", "box_pair": boxes[q["pid"]],
                                  "inter_labels": labels})
                entries_social.append({
                    "label_id": label_id, "box": boxes[p["pid"]], "file_id": frame,
                    "social_group": {"cluster_ID": p["group"], "cluster_stat": len(group)},
                    "action_label": {ACTIONS[p["kind"]]: 1},
                    "H-interaction": inter,
                })
            (root / IMAGES / seq).mkdir(parents=True, exist_ok=True)
            img.save(root / IMAGES / seq / frame, quality=90)
            boxes_doc[frame] = entries_2d
            social_doc[frame] = entries_social
        write_json(root / BOXES / f"{seq}.json", {"labels": boxes_doc})
        write_json(root / SOCIAL / f"{seq}.json", {"labels": social_doc})
    return root
