"""Which pixels a job trains and validates on: the dataset snapshot.

The snapshot (image ids and windows per split) is stored in the job's
config, so a job can be re-run on exactly the data it saw."""
from __future__ import annotations

from typing import Callable

from ..errors import TesseraError
from ..imagery.tiling import tile_grid
from ..project import Project
from ..project.records import ImageRecord

#: Images with a side above this many training crops are cut into windows.
LARGE_FACTOR = 4


def snapshot(project: Project, training_set: str, image_size: int,
             usable: Callable[[ImageRecord], bool], what: str) -> dict[str, list[list[int]]]:
    """``{"train": [[image_id, x, y, w, h], ...], "val": [...]}``.

    ``splits``: each usable image of the train / val split, whole, or cut into
    ``image_size`` windows when it is much larger than one crop.
    ``tiles:NAME``: the annotated tiles of that tile set, by their image's split."""
    out: dict[str, list[list[int]]] = {"train": [], "val": []}
    if training_set == "splits":
        for image in project.images.list():
            if image.split not in out or not usable(image):
                continue
            if max(image.width, image.height) > LARGE_FACTOR * image_size:
                windows = tile_grid(image.width, image.height, image_size, 0)
            else:
                windows = [(0, 0, image.width, image.height)]
            out[image.split] += [[image.id, x, y, w, h] for x, y, w, h in windows]
    elif training_set.startswith("tiles:"):
        name = training_set.split(":", 1)[1]
        images = {im.id: im for im in project.images.list()}
        for tile in project.tiles.tiles(name, annotated_only=True):
            image = images[tile.image_id]
            if image.split in out and usable(image):
                out[image.split].append([tile.image_id, tile.x, tile.y, tile.w, tile.h])
    else:
        raise TesseraError(f"training_set must be 'splits' or 'tiles:NAME', got {training_set!r}")
    if not out["train"]:
        raise TesseraError(f"no training data: no image of split 'train' in {training_set!r} has {what} "
                           "(import labelled data, or assign splits with 'tessera split')")
    return out
