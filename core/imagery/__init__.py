"""Image reading, tile pyramids and training tiles for images of any size."""
from .pyramid import TilePyramid, level_count
from .reader import ImageSource, image_size, open_image
from .tiling import tile_grid

__all__ = ["ImageSource", "open_image", "image_size", "TilePyramid", "level_count", "tile_grid"]
