"""The active-learning queue in the store."""
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
