"""An independent reading of a Deep Zoom pyramid, as OpenSeadragon computes it, for the tests."""
import math
import xml.etree.ElementTree as ET
from pathlib import Path

from PIL import Image

NS = "{http://schemas.microsoft.com/deepzoom/2008}"


def read_dzi(path):
    root = ET.parse(path).getroot()
    size = root.find(f"{NS}Size")
    return {"width": int(size.get("Width")), "height": int(size.get("Height")),
            "tile": int(root.get("TileSize")), "overlap": int(root.get("Overlap")), "format": root.get("Format")}


def expected_tiles(info):
    """{level: {(col, row): (width, height)}} for every tile a viewer may request."""
    width, height, tile, overlap = info["width"], info["height"], info["tile"], info["overlap"]
    top = math.ceil(math.log2(max(width, height)))
    levels = {}
    for level in range(top + 1):
        scale = 2 ** (top - level)
        w, h = math.ceil(width / scale), math.ceil(height / scale)
        cols, rows = math.ceil(w / tile), math.ceil(h / tile)
        levels[level] = {
            (c, r): (min(tile, w - c * tile) + (overlap if c > 0 else 0) + (overlap if c < cols - 1 else 0),
                     min(tile, h - r * tile) + (overlap if r > 0 else 0) + (overlap if r < rows - 1 else 0))
            for c in range(cols) for r in range(rows)}
    return levels


def check_pyramid(dzi_path):
    """Assert that exactly the expected tile files exist, each with the expected pixel size."""
    dzi_path = Path(dzi_path)
    info = read_dzi(dzi_path)
    files = dzi_path.with_name(dzi_path.stem + "_files")
    levels = expected_tiles(info)
    found = {p.relative_to(files).as_posix() for p in files.rglob(f"*.{info['format']}")}
    wanted = {f"{level}/{c}_{r}.{info['format']}" for level, tiles in levels.items() for c, r in tiles}
    assert found == wanted, f"missing {sorted(wanted - found)[:5]}, extra {sorted(found - wanted)[:5]}"
    for level, tiles in levels.items():
        for (c, r), size in tiles.items():
            with Image.open(files / str(level) / f"{c}_{r}.{info['format']}") as image:
                assert image.size == size, f"level {level} tile {c}_{r}: {image.size} != {size}"
    return info, levels
