"""The project: a folder with ``project.db`` and its media, cache, runs and exports."""
from .records import Annotation, ClassInfo, ImageRecord
from .store import Project

__all__ = ["Project", "ImageRecord", "ClassInfo", "Annotation"]
