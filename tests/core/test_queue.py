"""The active-learning queue in the store, and the schema step that added its details."""
import sqlite3

import pytest

from core.errors import ProjectError


def test_queue_ranks_keeps_states_and_refuses_unknown_states(project):
    with project.transaction() as c:
        for i in range(4):
            c.execute("INSERT INTO images(name, path, width, height, checksum) VALUES (?, ?, 8, 8, ?)",
                      (f"im{i}.png", f"im{i}.png", f"c{i}"))
    ids = [im.id for im in project.images.list()]
    project.queue.replace(None, "entropy", [(ids[0], 0.2, {}), (ids[1], 0.9, {"boxes": 3}), (ids[2], 0.5, {})])
    assert [(q.image_id, q.rank) for q in project.queue.items()] == [(ids[1], 1), (ids[2], 2), (ids[0], 3)]
    assert project.queue.items()[0].details == {"boxes": 3}
    project.queue.set_state([ids[1]], "skipped")
    assert project.queue.next_pending().image_id == ids[2]
    # a diversity ranking puts its picks first; the skipped image stays skipped in the new run
    project.queue.replace(None, "hybrid", [(i, s, {}) for i, s in zip(ids, (0.1, 0.8, 0.7, 0.6))], ranking=[ids[3]])
    assert [q.image_id for q in project.queue.items()] == [ids[3], ids[1], ids[2], ids[0]]
    assert {q.image_id: q.state for q in project.queue.items()}[ids[1]] == "skipped"
    assert project.queue.scores()[ids[0]] == pytest.approx(0.1)
    with pytest.raises(ProjectError, match="unknown queue state"):
        project.queue.set_state([ids[0]], "done")


def test_a_version_1_project_gains_the_queue_details(tmp_path):
    from core.project import Project
    from core.project.schema import MIGRATIONS, SCHEMA_VERSION, _statements

    root = tmp_path / "old"
    Project.init(root).close()
    conn = sqlite3.connect(root / "project.db")
    conn.execute("DROP INDEX annotations_extent")  # undo steps 4, 3 and 2
    conn.execute("ALTER TABLE jobs DROP COLUMN host")
    conn.execute("DROP INDEX queue_rank")
    conn.execute("ALTER TABLE queue DROP COLUMN details")
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()
    assert MIGRATIONS[0] and list(_statements(MIGRATIONS[1]))
    with Project.open(root) as project:
        assert project.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 4
        assert "details" in {r[1] for r in project.conn.execute("PRAGMA table_info(queue)")}
        assert "host" in {r[1] for r in project.conn.execute("PRAGMA table_info(jobs)")}
        assert project.conn.execute("SELECT count(*) FROM sqlite_master WHERE name = 'annotations_extent'"
                                    ).fetchone()[0] == 1
