"""``tessera tile-worker``: the process that decodes image tiles and draws
shape tiles for the studio (no Qt), through its stdin / stdout and shared
memory, with errors as one line instead of a dead worker."""
import numpy as np
import shapely

from core.imagery import TilePyramid
from core.imagery.shape_raster import Style, render_tile
from core.imagery.workers import ask
from core.jobs.runner import cli_command
from core.project import Project
from core.project.annotations import NewAnnotation


def test_the_worker_decodes_image_tiles_and_draws_shape_tiles(tmp_path):
    from PIL import Image

    from core.formats.media import add_image_file

    source = tmp_path / "a.png"
    pixels = np.random.default_rng(0).integers(0, 255, (300, 520, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(source)
    with Project.init(tmp_path / "p") as project:
        image_id, _ = add_image_file(project, source, "a.png")
        image = project.images.get(image_id)
        project.annotations.add(NewAnnotation(image_id=image_id, geometry=shapely.box(20, 30, 300, 200), kind="box",
                                              class_id=project.classes.ensure("car")))
        pyramid = TilePyramid.for_image(project, image)
        style = Style(colors=((1, (255, 0, 0)),))
        tile, shapes, damaged = ask(cli_command(["tile-worker"]), [
            ("image_tile", (str(pyramid.image_path), pyramid.checksum, str(pyramid.cache_root), 0, 0, 1)),
            ("shape_tile", (str(project.root), image_id, (0, 0, 0), style, frozenset())),
            ("image_tile", (str(tmp_path / "gone.png"), "x", str(pyramid.cache_root), 0, 0, 0)),
        ])
        # the second tile of the top row, exactly, as B, G, R, 255 (Qt's own layout)
        assert np.array_equal(tile[..., 2::-1], pixels[:256, 256:512]) and (tile[..., 3] == 255).all()
        bgra, ids, bounds = shapes
        expected = render_tile(project.annotations, image_id, (0, 0, 0), style)
        assert np.array_equal(bgra[..., [2, 1, 0, 3]], expected[0]) and ids.tolist() == expected[1].tolist()
        assert tuple(bgra[100, 100]) == (0, 0, 50, 50)  # inside the red box: red fill, premultiplied
        assert isinstance(damaged, RuntimeError) and "gone.png" in str(damaged) and "\n" not in str(damaged)
