import sqlite3

import numpy as np
import pytest
import shapely
from shapely.geometry import box

from core.errors import ProjectError
from core.project import Project
from core.project.annotations import NewAnnotation
from core.project.schema import SCHEMA_VERSION


def _image(project, name="a.png", w=1000, h=800):
    return project.images.add(name, f"media/{name}", w, h, "0" * 40)


def _random_boxes(project, rng, images, per_image: int, smallest: float, largest: float) -> None:
    """``per_image`` boxes on each 5000² image, sides between ``smallest`` and ``largest``."""
    items = []
    for image_id in images:
        for _ in range(per_image):
            x, y = rng.uniform(0, 5000 - largest, 2)
            w, h = rng.uniform(smallest, largest, 2)
            items.append(NewAnnotation(image_id=image_id, geometry=box(x, y, x + w, y + h), kind="box"))
    project.annotations.add_many(items)


def test_init_creates_folders_wal_and_schema(tmp_path):
    p = Project.init(tmp_path / "p", name="My project")
    for folder in ("media", "cache", "runs", "exports"):
        assert (tmp_path / "p" / folder).is_dir()
    assert p.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert p.conn.execute("PRAGMA busy_timeout").fetchone()[0] >= 30000
    assert p.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert p.name == "My project" and len(p.identity) == 32
    ident = p.identity
    p.close()
    again = Project.init(tmp_path / "p")  # opening, not overwriting
    assert again.identity == ident
    again.close()


def test_open_refuses_non_project_and_newer_schema(tmp_path):
    with pytest.raises(ProjectError, match="not a Tessera project"):
        Project.open(tmp_path)
    p = Project.init(tmp_path / "p")
    p.conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 5}")
    p.close()
    with pytest.raises(ProjectError, match="newer than this Tessera"):
        Project.open(tmp_path / "p")


def test_a_version_1_project_gains_every_later_step(tmp_path):
    from core.project.schema import MIGRATIONS, _statements

    root = tmp_path / "old"
    Project.init(root).close()
    conn = sqlite3.connect(root / "project.db")
    # undo steps 5, 4, 3 and 2 (step 5: the R*Tree's image extent, as version 1 made it)
    conn.execute("DROP TRIGGER annotation_index_insert")
    conn.execute("DROP TRIGGER annotation_index_update")
    for statement in _statements(MIGRATIONS[0]):
        if statement.startswith(("CREATE TRIGGER annotation_index_insert", "CREATE TRIGGER annotation_index_update")):
            conn.execute(statement)
    conn.execute("DROP INDEX annotations_extent")
    conn.execute("ALTER TABLE jobs DROP COLUMN host")
    conn.execute("DROP INDEX queue_rank")
    conn.execute("ALTER TABLE queue DROP COLUMN details")
    conn.execute("PRAGMA user_version = 1")
    conn.execute("INSERT INTO images(id, name, path, width, height, checksum) VALUES (7, 'a', 'a', 99, 99, 'c')")
    conn.execute("INSERT INTO annotations(id, image_id, kind, geometry, x1, y1, x2, y2) "
                 "VALUES (3, 7, 'box', x'00', 10, 10, 20, 20)")
    assert conn.execute("SELECT image_lo, image_hi FROM annotation_index").fetchall() == [(7, 7)]
    conn.commit()
    conn.close()
    assert MIGRATIONS[0] and list(_statements(MIGRATIONS[1]))
    with Project.open(root) as project:
        assert project.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 5
        assert "details" in {r[1] for r in project.conn.execute("PRAGMA table_info(queue)")}
        assert "host" in {r[1] for r in project.conn.execute("PRAGMA table_info(jobs)")}
        assert project.conn.execute("SELECT count(*) FROM sqlite_master WHERE name = 'annotations_extent'"
                                    ).fetchone()[0] == 1
        # step 5 rebuilt the R*Tree with the image extent, and new rows get it too
        assert project.conn.execute("SELECT image_lo, image_hi FROM annotation_index").fetchall() == [(7, 7.5)]
        assert project.annotations.ids_in_viewport(7, 0, 0, 50, 50) == [3]
        assert project.annotations.ids_in_viewport(8, 0, 0, 50, 50) == []


def test_corrupt_database_is_a_clear_error(tmp_path):
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "project.db").write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(ProjectError, match="project.db: cannot open"):
        Project.open(tmp_path / "p")


def test_failed_transaction_leaves_nothing(project):
    image_id = _image(project)
    with pytest.raises(RuntimeError):
        with project.transaction():
            project.annotations.add(NewAnnotation(image_id=image_id, geometry=box(0, 0, 5, 5), kind="box"))
            raise RuntimeError("crash in the middle of an edit")
    assert project.annotations.count() == 0
    assert project.conn.execute("SELECT count(*) FROM annotation_index").fetchone()[0] == 0


def test_nested_failure_undoes_only_the_inner_part(project):
    image_id = _image(project)
    with project.transaction():
        project.annotations.add(NewAnnotation(image_id=image_id, geometry=box(0, 0, 5, 5), kind="box"))
        with pytest.raises(ValueError):
            with project.transaction():
                project.annotations.add(NewAnnotation(image_id=image_id, geometry=box(1, 1, 2, 2), kind="box"))
                raise ValueError("inner")
    assert project.annotations.count() == 1


def test_edits_are_committed_and_seen_by_a_second_connection(project):
    image_id = _image(project)
    project.annotations.add(NewAnnotation(image_id=image_id, geometry=box(0, 0, 5, 5), kind="box"))
    other = sqlite3.connect(project.root / "project.db")
    assert other.execute("SELECT count(*) FROM annotations").fetchone()[0] == 1
    other.close()


def test_viewport_query_matches_brute_force(project):
    rng = np.random.default_rng(1)
    a, b = _image(project, "a.png", 5000, 5000), _image(project, "b.png", 5000, 5000)
    _random_boxes(project, rng, (a, b), 2000, 2, 100)
    for _ in range(20):
        x1, y1 = rng.uniform(0, 4000, 2)
        x2, y2 = x1 + rng.uniform(50, 1000), y1 + rng.uniform(50, 1000)
        got = {ann.id for ann in project.annotations.in_viewport(a, x1, y1, x2, y2)}
        expected = {ann.id for ann in project.annotations.for_image(a)
                    if ann.bbox[0] <= x2 and ann.bbox[2] >= x1 and ann.bbox[1] <= y2 and ann.bbox[3] >= y1}
        assert got == expected and got  # never shapes of image b
    plan = " ".join(r[-1] for r in project.conn.execute(
        "EXPLAIN QUERY PLAN SELECT id FROM annotation_index WHERE image_lo <= 1 AND image_hi >= 1 "
        "AND x1 <= 10 AND x2 >= 0 AND y1 <= 10 AND y2 >= 0"))
    assert "VIRTUAL TABLE INDEX" in plan


def test_the_r_tree_groups_an_images_shapes_by_where_they_lie(project):
    """Each leaf of the R*Tree covers a small part of the image, so a view's
    query reads few of them.  (With no extent in the image dimension every
    box had zero volume and leaves spread over the whole image.)"""
    import re

    image_id = _image(project, "a.png", 5000, 5000)
    xy = np.random.default_rng(3).uniform(0, 4990, (5000, 2))
    project.annotations.add_many([NewAnnotation(image_id=image_id, geometry=box(x, y, x + 10, y + 10), kind="box")
                                  for x, y in xy])
    c = project.conn
    assert c.execute("SELECT count(*) FROM annotation_index WHERE image_hi - image_lo != 0.5").fetchone()[0] == 0
    inner = {r[0] for r in c.execute("SELECT parentnode FROM annotation_index_parent")}
    shares = []
    for nodeno, text in c.execute("SELECT nodeno, rtreenode(3, data) FROM annotation_index_node"):
        if nodeno not in inner and nodeno != 1:  # a leaf (node 1 is the root)
            e = np.array([[float(v) for v in cell.split()] for cell in re.findall(r"\{([^}]*)\}", text)])
            shares.append((e[:, 4].max() - e[:, 3].min()) * (e[:, 6].max() - e[:, 5].min()) / 5000 ** 2)
    assert len(shares) > 50 and np.mean(shares) < 0.05


def test_level_of_detail_drops_small_shapes_and_far_out_points(project):
    image_id = _image(project)
    project.annotations.add_many([
        NewAnnotation(image_id=image_id, geometry=box(0, 0, 2, 2), kind="box"),
        NewAnnotation(image_id=image_id, geometry=box(10, 10, 200, 60), kind="box"),
        NewAnnotation(image_id=image_id, geometry=shapely.Point(300.3, 400.7), kind="point")])
    assert len(project.annotations.in_viewport(image_id, 0, 0, 1000, 800)) == 3
    kinds = [a.kind for a in project.annotations.in_viewport(image_id, 0, 0, 1000, 800, min_size=8)]
    assert kinds == ["box", "point"]  # a point is a dot of the same size at every zoom
    assert [a.kind for a in project.annotations.in_viewport(image_id, 0, 0, 500, 500, min_size=40)] == ["box"]


def test_far_views_ask_the_size_index_and_get_the_r_tree_answer(project, monkeypatch):
    from core.project import annotations

    rng = np.random.default_rng(2)
    a, b = _image(project, "a.png", 5000, 5000), _image(project, "b.png", 5000, 5000)
    _random_boxes(project, rng, (a, b), 1500, 1, 200)
    plans = []
    trace = project.conn.set_trace_callback
    trace(lambda sql: plans.append(sql))
    for (x1, y1, x2, y2), min_size in [((0, 0, 5000, 5000), 150), ((-800, 100, 4000, 6000), 60),
                                       ((1000, 1000, 1500, 1500), 20)]:
        monkeypatch.setattr(annotations, "EXTENT_QUERY_SHARE", 0.25)
        plans.clear()
        by_view = {ann.id for ann in project.annotations.in_viewport(a, x1, y1, x2, y2, min_size=min_size)}
        ids = set(project.annotations.ids_in_viewport(a, x1, y1, x2, y2, min_size))
        drawn = len(project.annotations.drawables_in_viewport(a, x1, y1, x2, y2, min_size)["geometry"])
        far = (x2 - x1) * (y2 - y1) >= 0.25 * 5000 * 5000 and min_size >= annotations.EXTENT_INDEX_MIN
        asked = [sql for sql in plans if "SELECT" in sql and " r " in sql]
        assert len(asked) == 3 and all(("annotations r" in sql) == far for sql in asked)
        monkeypatch.setattr(annotations, "EXTENT_QUERY_SHARE", 99.0)  # the R*Tree alone
        expected = set(project.annotations.ids_in_viewport(a, x1, y1, x2, y2, min_size))
        assert by_view == ids == expected and drawn == len(expected) and expected
    trace(None)
    plan = " ".join(r[-1] for r in project.conn.execute(
        "EXPLAIN QUERY PLAN SELECT r.id FROM annotations r WHERE "
        + annotations._viewport_where(a, 0, 0, 10, 10, 5, None, by_extent=True)[0],
        annotations._viewport_where(a, 0, 0, 10, 10, 5, None, by_extent=True)[1]))
    assert "COVERING INDEX annotations_extent" in plan


def test_update_moves_the_index_and_delete_removes_it(project):
    image_id = _image(project)
    aid = project.annotations.add(NewAnnotation(image_id=image_id, geometry=box(0, 0, 5, 5), kind="box"))
    project.annotations.update(aid, geometry=box(500, 500, 600, 550))
    assert project.annotations.ids_in_viewport(image_id, 0, 0, 10, 10) == []
    assert project.annotations.ids_in_viewport(image_id, 550, 520, 560, 530) == [aid]
    assert project.annotations.get(aid).geometry.equals(box(500, 500, 600, 550))
    project.annotations.delete([aid])
    assert project.conn.execute("SELECT count(*) FROM annotation_index").fetchone()[0] == 0


def test_geometry_round_trips_through_wkb(project):
    image_id = _image(project)
    poly = shapely.Polygon([(0, 0), (10, 0), (10, 10), (0, 10)], holes=[[(2, 2), (4, 2), (4, 4)]])
    aid = project.annotations.add(NewAnnotation(image_id=image_id, geometry=poly, kind="polygon",
                                                attributes={"note": "hole"}, score=0.5, source="model"))
    ann = project.annotations.get(aid)
    assert ann.geometry.equals(poly) and ann.attributes == {"note": "hole"}
    assert ann.source == "model" and ann.score == 0.5 and ann.bbox == (0, 0, 10, 10)


def test_bad_annotation_kind_and_empty_geometry_are_refused(project):
    image_id = _image(project)
    with pytest.raises(ProjectError, match="unknown annotation kind"):
        project.annotations.add(NewAnnotation(image_id=image_id, geometry=box(0, 0, 1, 1), kind="blob"))
    with pytest.raises(ProjectError, match="empty geometry"):
        project.annotations.add(NewAnnotation(image_id=image_id, geometry=shapely.Polygon(), kind="polygon"))
    assert project.annotations.count() == 0


def test_masks_are_lossless(project):
    image_id = _image(project, w=64, h=48)
    mask = np.random.default_rng(0).integers(0, 300, (48, 64)).astype(np.uint16)
    project.masks.set(image_id, mask)
    assert np.array_equal(project.masks.get(image_id), mask)
    with pytest.raises(ProjectError, match="does not match image"):
        project.masks.set(image_id, np.zeros((10, 10), np.uint8))
    assert np.array_equal(project.masks.get(image_id), mask)


def test_pairs_and_groups(project):
    image_id = _image(project)
    a, b, c = project.annotations.add_many(
        [NewAnnotation(image_id=image_id, geometry=box(i * 10, 0, i * 10 + 5, 20), kind="box") for i in range(3)])
    pid = project.relations.add_pair(image_id, a, b, {"walking together": 1})
    gid = project.relations.add_group(image_id, [a, b, c], ext_id=4)
    assert project.relations.pairs(image_id)[0].labels == {"walking together": 1}
    assert project.relations.groups(image_id)[0].members == [a, b, c]
    with pytest.raises(ProjectError):
        project.relations.add_pair(image_id, a, a)
    project.annotations.delete([b])  # cascades
    assert project.relations.pairs() == [] and project.relations.groups()[0].members == [a, c]
    assert pid and gid


def test_classes_and_critical_flag(project):
    cid = project.classes.ensure("fish", ext_id=7)
    assert project.classes.ensure("fish") == cid
    project.classes.set_critical("fish")
    info = project.classes.get(cid)
    assert info.critical and info.ext_id == 7 and info.color.startswith("#")
    with pytest.raises(ProjectError):
        project.classes.set_critical("whale")


def test_tile_sets_record_annotated_tiles(project):
    image_id = _image(project, w=1000, h=600)
    project.annotations.add(NewAnnotation(image_id=image_id, geometry=box(10, 10, 50, 50), kind="box"))
    project.tiles.create("t256", 256, 32)
    tiles = project.tiles.tiles("t256")
    assert len(tiles) == 5 * 3  # x: 0, 224, 448, 672, 744; y: 0, 224, 344
    assert [t for t in project.tiles.tiles("t256", annotated_only=True)] == [tiles[0]]
    with pytest.raises(ProjectError, match="already exists"):
        project.tiles.create("t256", 256, 32)


def test_split_assignment_is_deterministic(project):
    from core.project.splits import assign_splits

    for i in range(20):
        _image(project, f"{i}.png")
    counts = assign_splits(project, (0.7, 0.15, 0.15), seed=3)
    assert counts == {"train": 14, "val": 3, "test": 3}
    first = {im.name: im.split for im in project.images.list()}
    assign_splits(project, (0.7, 0.15, 0.15), seed=3, reassign=True)
    assert {im.name: im.split for im in project.images.list()} == first


def test_last_epochs_gives_each_jobs_latest_metrics(tmp_path):
    from core.project import Project

    with Project.init(tmp_path / "p") as project:
        a = project.jobs.create("segmentation", {"epochs": 3})
        b = project.jobs.create("segmentation", {"epochs": 3})
        project.jobs.record_epoch(a, 1, {"val_miou": 0.1, "train_loss": 2.0})
        project.jobs.record_epoch(a, 2, {"val_miou": 0.3, "train_loss": 1.0})
        project.jobs.record_epoch(b, 1, {"val_miou": 0.2})
        assert project.jobs.last_epochs() == {a: {"val_miou": 0.3, "train_loss": 1.0}, b: {"val_miou": 0.2}}
