"""The project database schema, as ordered migration steps.

``PRAGMA user_version`` holds the number of steps applied.  A step is never
edited once released; changes are new steps appended to ``MIGRATIONS``."""
from __future__ import annotations

import sqlite3

_V1 = """
CREATE TABLE project (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE images (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    path TEXT NOT NULL,
    width INTEGER NOT NULL,
    height INTEGER NOT NULL,
    checksum TEXT NOT NULL,
    split TEXT,
    source TEXT,
    status TEXT NOT NULL DEFAULT 'unlabeled',
    meta TEXT NOT NULL DEFAULT '{}',
    added_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX images_split ON images(split);
CREATE INDEX images_checksum ON images(checksum);
CREATE TABLE classes (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    color TEXT NOT NULL,
    critical INTEGER NOT NULL DEFAULT 0,
    position INTEGER NOT NULL DEFAULT 0,
    ext_id INTEGER,
    meta TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE annotations (
    id INTEGER PRIMARY KEY,
    image_id INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
    class_id INTEGER REFERENCES classes(id) ON DELETE SET NULL,
    kind TEXT NOT NULL CHECK (kind IN ('box', 'polygon', 'mask', 'point')),
    geometry BLOB NOT NULL,
    x1 REAL NOT NULL, y1 REAL NOT NULL, x2 REAL NOT NULL, y2 REAL NOT NULL,
    source TEXT NOT NULL DEFAULT 'human' CHECK (source IN ('human', 'model')),
    score REAL,
    iscrowd INTEGER NOT NULL DEFAULT 0,
    rle TEXT,
    track TEXT,
    attributes TEXT NOT NULL DEFAULT '{}',
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX annotations_image ON annotations(image_id);
-- The image id is a dimension of the index, so "shapes of image I inside this
-- viewport" is answered by the R*Tree alone.
CREATE VIRTUAL TABLE annotation_index USING rtree(
    id, image_lo, image_hi, x1, x2, y1, y2
);
CREATE TRIGGER annotation_index_insert AFTER INSERT ON annotations BEGIN
    INSERT INTO annotation_index VALUES
        (new.id, new.image_id, new.image_id, new.x1, new.x2, new.y1, new.y2);
END;
CREATE TRIGGER annotation_index_update AFTER UPDATE OF image_id, x1, y1, x2, y2 ON annotations BEGIN
    UPDATE annotation_index SET image_lo = new.image_id, image_hi = new.image_id,
        x1 = new.x1, x2 = new.x2, y1 = new.y1, y2 = new.y2 WHERE id = new.id;
END;
CREATE TRIGGER annotation_index_delete AFTER DELETE ON annotations BEGIN
    DELETE FROM annotation_index WHERE id = old.id;
END;
CREATE TABLE masks (
    image_id INTEGER PRIMARY KEY REFERENCES images(id) ON DELETE CASCADE,
    png BLOB NOT NULL,
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE TABLE relations (
    id INTEGER PRIMARY KEY,
    image_id INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
    a_id INTEGER NOT NULL REFERENCES annotations(id) ON DELETE CASCADE,
    b_id INTEGER NOT NULL REFERENCES annotations(id) ON DELETE CASCADE,
    labels TEXT NOT NULL DEFAULT '{}',
    source TEXT NOT NULL DEFAULT 'human',
    attributes TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX relations_image ON relations(image_id);
CREATE TABLE groups (
    id INTEGER PRIMARY KEY,
    image_id INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
    ext_id INTEGER,
    attributes TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX groups_image ON groups(image_id);
CREATE TABLE group_members (
    group_id INTEGER NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    annotation_id INTEGER NOT NULL REFERENCES annotations(id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, annotation_id)
);
CREATE TABLE tile_sets (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    tile_size INTEGER NOT NULL,
    overlap INTEGER NOT NULL,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE TABLE tiles (
    id INTEGER PRIMARY KEY,
    tile_set_id INTEGER NOT NULL REFERENCES tile_sets(id) ON DELETE CASCADE,
    image_id INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
    x INTEGER NOT NULL, y INTEGER NOT NULL, w INTEGER NOT NULL, h INTEGER NOT NULL,
    annotations INTEGER NOT NULL DEFAULT 0,
    labelled_pixels INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX tiles_set ON tiles(tile_set_id);
CREATE TABLE jobs (
    id INTEGER PRIMARY KEY,
    pipeline TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'queued',
    config TEXT NOT NULL DEFAULT '{}',
    pid INTEGER,
    error TEXT,
    epoch INTEGER NOT NULL DEFAULT 0,
    progress TEXT NOT NULL DEFAULT '{}',
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    started_at TEXT,
    heartbeat_at TEXT,
    ended_at TEXT
);
CREATE TABLE checkpoints (
    id INTEGER PRIMARY KEY,
    job_id INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    epoch INTEGER NOT NULL,
    kind TEXT NOT NULL,
    path TEXT NOT NULL,
    metric REAL,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX checkpoints_job ON checkpoints(job_id);
CREATE TABLE metrics (
    job_id INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    epoch INTEGER NOT NULL,
    name TEXT NOT NULL,
    value REAL,
    PRIMARY KEY (job_id, epoch, name)
);
CREATE TABLE models (
    id INTEGER PRIMARY KEY,
    job_id INTEGER REFERENCES jobs(id) ON DELETE SET NULL,
    pipeline TEXT NOT NULL,
    kind TEXT NOT NULL DEFAULT 'model',
    architecture TEXT,
    classes TEXT NOT NULL DEFAULT '[]',
    metrics TEXT NOT NULL DEFAULT '{}',
    path TEXT NOT NULL,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE TABLE queue (
    id INTEGER PRIMARY KEY,
    image_id INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
    model_id INTEGER REFERENCES models(id) ON DELETE SET NULL,
    method TEXT NOT NULL,
    score REAL NOT NULL,
    rank INTEGER NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending',
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE TABLE exports (
    id INTEGER PRIMARY KEY,
    model_id INTEGER REFERENCES models(id) ON DELETE SET NULL,
    format TEXT NOT NULL,
    path TEXT NOT NULL,
    report TEXT NOT NULL DEFAULT '{}',
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
"""

# The queue keeps what each score is made of (per-class scores, doubtful boxes).
_V2 = """
ALTER TABLE queue ADD COLUMN details TEXT NOT NULL DEFAULT '{}';
CREATE INDEX queue_rank ON queue(rank);
"""

# The machine a job's worker runs on: under torchrun its rank 0 may be on
# another node, whose process ids mean nothing here.
_V3 = """
ALTER TABLE jobs ADD COLUMN host TEXT;
"""

# The larger side of each shape's box, indexed with the box for the shapes of
# 32 pixels or more: zoomed far out, where only the shapes big enough to see
# are drawn, the view's few large shapes come from this index instead of an
# R*Tree scan of every shape of the image.  (Partial: the many small shapes of
# an import do not pay for it.)
_V4 = """
CREATE INDEX annotations_extent ON annotations(image_id, max(x2 - x1, y2 - y1), x1, x2, y1, y2)
    WHERE max(x2 - x1, y2 - y1) >= 32;
"""

# The R*Tree's image dimension gets an extent of half a unit (an image's
# shapes lie in [id, id + 0.5]).  With image_lo = image_hi every box has zero
# volume, so the tree's area heuristics saw no difference between subtrees and
# grouped shapes without regard to where they lie: a view's query read most of
# the tree (4 ms for 400 shapes of 100,000, against 0.15 ms now).  The query
# ``image_lo <= I AND image_hi >= I`` is unchanged and still exact: the
# neighbours' ranges [I - 1, I - 0.5] and [I + 1, I + 1.5] do not hold I.
# (The R*Tree keeps 32-bit floats: exact for image ids below 2**23.)
_V5 = """
DROP TRIGGER annotation_index_insert;
DROP TRIGGER annotation_index_update;
CREATE TRIGGER annotation_index_insert AFTER INSERT ON annotations BEGIN
    INSERT INTO annotation_index VALUES
        (new.id, new.image_id, new.image_id + 0.5, new.x1, new.x2, new.y1, new.y2);
END;
CREATE TRIGGER annotation_index_update AFTER UPDATE OF image_id, x1, y1, x2, y2 ON annotations BEGIN
    UPDATE annotation_index SET image_lo = new.image_id, image_hi = new.image_id + 0.5,
        x1 = new.x1, x2 = new.x2, y1 = new.y1, y2 = new.y2 WHERE id = new.id;
END;
DELETE FROM annotation_index;
INSERT INTO annotation_index SELECT id, image_id, image_id + 0.5, x1, x2, y1, y2 FROM annotations;
"""

MIGRATIONS: list[str] = [_V1, _V2, _V3, _V4, _V5]
SCHEMA_VERSION = len(MIGRATIONS)


def migrate(conn: sqlite3.Connection) -> int:
    """Apply the missing steps, each in its own transaction.  Returns the
    version reached.  A database from a newer Tessera is refused."""
    from ..errors import ProjectError

    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise ProjectError(
            f"database schema version {version} is newer than this Tessera understands "
            f"({SCHEMA_VERSION}); update Tessera")
    for step in range(version, SCHEMA_VERSION):
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in _statements(MIGRATIONS[step]):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {step + 1}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return SCHEMA_VERSION


def _statements(script: str) -> list[str]:
    """Split a script into complete statements (triggers contain ';')."""
    out, buf = [], ""
    for line in script.splitlines(keepends=True):
        if line.strip().startswith("--"):
            continue
        buf += line
        if sqlite3.complete_statement(buf):
            if buf.strip():
                out.append(buf.strip())
            buf = ""
    if buf.strip():
        out.append(buf.strip())
    return out
