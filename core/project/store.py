"""The project folder and its SQLite database: the single source of truth.

All SQL lives in this package.  Every connection runs in WAL mode with a 30 s
busy timeout, and every user edit is one committed transaction
(:meth:`Project.transaction`), so a crash never loses what was on screen."""
from __future__ import annotations

import functools
import sqlite3
import threading
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from ..errors import ProjectError
from . import schema

DB_NAME = "project.db"
BUSY_TIMEOUT_S = 30.0
FOLDERS = ("media", "cache", "runs", "exports")


class Project:
    """An open project.  Use :meth:`init` to create one and :meth:`open` to
    open an existing one; close it (or use it as a context manager) when done."""

    @functools.cached_property
    def db(self):
        """The connection as a ``sqlite_utils.Database`` (imported when first
        asked: it brings pandas, half a second that opening a project, or a
        tile worker starting, should not pay)."""
        import sqlite_utils

        return sqlite_utils.Database(self.conn)

    def __init__(self, root: Path, conn: sqlite3.Connection):
        self.root = root
        self.conn = conn
        self._lock = threading.RLock()
        self._depth = 0
        from .annotations import AnnotationStore
        from .classes import ClassStore
        from .images import ImageStore
        from .jobs import JobStore
        from .masks import MaskStore
        from .exports import ExportStore
        from .queue import QueueStore
        from .relations import RelationStore
        from .tiles import TileStore

        self.images = ImageStore(self)
        self.classes = ClassStore(self)
        self.annotations = AnnotationStore(self)
        self.masks = MaskStore(self)
        self.relations = RelationStore(self)
        self.queue = QueueStore(self)
        self.exports = ExportStore(self)
        self.tiles = TileStore(self)
        self.jobs = JobStore(self)

    # -- opening ---------------------------------------------------------
    @classmethod
    def init(cls, root: str | Path, name: str | None = None) -> "Project":
        """Create a project in ``root`` (made if missing).  An existing project
        there is opened, not overwritten."""
        root = Path(root).resolve()
        if root.exists() and not root.is_dir():
            raise ProjectError("exists and is not a folder", root)
        root.mkdir(parents=True, exist_ok=True)
        for folder in FOLDERS:
            (root / folder).mkdir(exist_ok=True)
        project = cls._connect(root)
        with project.transaction():
            project.conn.execute(
                "INSERT OR IGNORE INTO project(key, value) VALUES ('id', ?), ('name', ?)",
                (uuid.uuid4().hex, name or root.resolve().name))
        return project

    @classmethod
    def open(cls, root: str | Path) -> "Project":
        # absolute: the paths a job stores (models, checkpoints) must not depend
        # on the folder a command was started from (ultralytics also re-roots
        # relative run folders under its own runs/)
        root = Path(root).resolve()
        if not (root / DB_NAME).is_file():
            raise ProjectError(f"not a Tessera project (no {DB_NAME}); create one with 'tessera init'", root)
        for folder in FOLDERS:
            (root / folder).mkdir(exist_ok=True)
        return cls._connect(root)

    @classmethod
    def _connect(cls, root: Path) -> "Project":
        path = root / DB_NAME
        try:
            conn = connect(path)
            schema.migrate(conn)
        except sqlite3.DatabaseError as exc:
            raise ProjectError(f"cannot open the project database: {exc}", path) from exc
        return cls(root, conn)

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> "Project":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- facts -----------------------------------------------------------
    @property
    def identity(self) -> str:
        return self.setting("id") or ""

    @property
    def name(self) -> str:
        return self.setting("name") or self.root.name

    def setting(self, key: str) -> str | None:
        row = self.conn.execute("SELECT value FROM project WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_setting(self, key: str, value: str) -> None:
        with self.transaction():
            self.conn.execute("INSERT OR REPLACE INTO project(key, value) VALUES (?, ?)", (key, value))

    @property
    def media_dir(self) -> Path:
        return self.root / "media"

    @property
    def cache_dir(self) -> Path:
        return self.root / "cache"

    @property
    def runs_dir(self) -> Path:
        return self.root / "runs"

    @property
    def exports_dir(self) -> Path:
        return self.root / "exports"

    # -- transactions ----------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One atomic unit of work.  Nested calls join the outer transaction
        through savepoints, so an inner failure undoes only the inner part."""
        with self._lock:
            self._depth += 1
            savepoint = f"sp{self._depth}"
            outer = self._depth == 1
            self.conn.execute("BEGIN IMMEDIATE" if outer else f"SAVEPOINT {savepoint}")
            try:
                yield self.conn
            except BaseException:
                if outer:
                    self.conn.execute("ROLLBACK")
                else:
                    self.conn.execute(f"ROLLBACK TO {savepoint}")
                    self.conn.execute(f"RELEASE {savepoint}")
                raise
            else:
                self.conn.execute("COMMIT" if outer else f"RELEASE {savepoint}")
            finally:
                self._depth -= 1

    def summary(self) -> dict:
        """What the project holds, as plain data (``tessera info --json``)."""
        q = lambda sql: self.conn.execute(sql).fetchall()  # noqa: E731
        splits = {s or "unassigned": n for s, n in q("SELECT split, count(*) FROM images GROUP BY split")}
        kinds = dict(q("SELECT kind, count(*) FROM annotations GROUP BY kind"))
        status = dict(q("SELECT status, count(*) FROM images GROUP BY status"))
        return {
            "project": self.name,
            "id": self.identity,
            "path": str(self.root.resolve()),
            "schema_version": self.conn.execute("PRAGMA user_version").fetchone()[0],
            "images": q("SELECT count(*) FROM images")[0][0],
            "annotations": q("SELECT count(*) FROM annotations")[0][0],
            "annotations_by_kind": kinds,
            "classes": [c.name for c in self.classes.list()],
            "critical_classes": [c.name for c in self.classes.list() if c.critical],
            "splits": splits,
            "status": status,
            "masks": q("SELECT count(*) FROM masks")[0][0],
            "relations": q("SELECT count(*) FROM relations")[0][0],
            "groups": q("SELECT count(*) FROM groups")[0][0],
            "tile_sets": {name: n for name, n in q(
                "SELECT s.name, count(t.id) FROM tile_sets s LEFT JOIN tiles t ON t.tile_set_id = s.id GROUP BY s.id")},
            "jobs": q("SELECT count(*) FROM jobs")[0][0],
            "models": q("SELECT count(*) FROM models")[0][0],
        }


def connect(path: Path) -> sqlite3.Connection:
    """A connection with the project's settings: autocommit mode (transactions
    are explicit), WAL, a 30 s busy timeout, foreign keys on."""
    conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_S, isolation_level=None,
                           check_same_thread=False)
    conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
    mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
    if mode.lower() != "wal":
        raise ProjectError(f"cannot switch the database to WAL mode (got {mode})", path)
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("PRAGMA cache_size = -65536")  # 64 MiB: keeps the R*Tree hot on big inserts
    conn.execute("PRAGMA foreign_keys = ON")
    return conn
