"""Error types the core raises.  Each one renders as a single line that names
the file (when there is one) and what is wrong with it."""
from __future__ import annotations

from pathlib import Path


class TesseraError(Exception):
    """Base of every error a user can cause.  The command line prints it as one
    line and exits with status 2; the GUI shows the same line."""

    def __init__(self, message: str, path: str | Path | None = None):
        self.path = str(path) if path is not None else None
        self.problem = message
        super().__init__(f"{self.path}: {message}" if self.path else message)


class ProjectError(TesseraError):
    """The project folder or its database cannot be used."""


class FormatError(TesseraError):
    """An input file does not follow the format it claims to."""


class ImageError(TesseraError):
    """An image cannot be opened: corrupt, truncated, too large or unknown."""


class UnsafePathError(FormatError):
    """A file name in a dataset tries to leave the dataset's folder."""
