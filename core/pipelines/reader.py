"""Reading a project's pixels and masks from training data loaders.

A SQLite connection cannot cross a fork, so each data-loading process opens
the project for itself on first use."""
from __future__ import annotations

import os
from functools import lru_cache

import numpy as np

from ..imagery.reader import open_image
from ..project import Project


class ProjectReader:
    """Per-process access to the project (a SQLite connection cannot cross a fork)."""

    def __init__(self, root: str):
        self.root = root
        self._pid = None
        self._project = None

    @property
    def project(self) -> Project:
        if self._pid != os.getpid():
            self._project = Project.open(self.root)
            self._pid = os.getpid()
            self._mask.cache_clear()
        return self._project

    @lru_cache(maxsize=64)
    def _mask(self, image_id: int) -> np.ndarray:
        return self.project.masks.get(image_id)

    def mask(self, image_id: int) -> np.ndarray:
        self.project  # noqa: B018 - reopen after a fork before using the cache
        return self._mask(image_id)

    def window(self, image_id: int, x: int, y: int, w: int, h: int) -> np.ndarray:
        image = self.project.images.get(image_id)
        with open_image(image.file(self.project.root)) as src:
            return src.read_region(x, y, w, h)

    def __getstate__(self):
        return {"root": self.root}

    def __setstate__(self, state):
        self.__init__(state["root"])
