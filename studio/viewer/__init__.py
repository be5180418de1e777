"""The image viewer: pyramid tiles loaded off the UI thread, and the shapes
of the visible region only, from the store's R*Tree."""
from .view import ImageViewer

__all__ = ["ImageViewer"]
