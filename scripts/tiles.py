"""Stage 5, tiles: the cells arranged on the grid and written as a Deep Zoom (.dzi) pyramid.

libvips joins the cell images lazily (arrayjoin) and dzsave streams the pyramid out strip by
strip, so the full mosaic (14,592 x 14,848 pixels for 13,000 images) never sits in Python memory.
Output: ``<out>/mosaic.dzi`` and ``<out>/mosaic_files/<level>/<col>_<row>.<format>``.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from common import CELL_FORMAT, PipelineError, atomic_dir, parse_colour, parse_tile, read_grid, run_cli

DZI_NAME = "mosaic"


def mosaic_image(grid, cols: int, rows: int, cells_dir: str | Path, size: int, background=(0, 0, 0)):
    """The whole mosaic as a lazy pyvips image: cell files in row-major order, empty cells filled."""
    import pyvips

    empty = (pyvips.Image.black(size, size, bands=3) + list(background)).cast("uchar")
    by_cell = {(int(col), int(row)): key for key, col, row in grid[["id", "col", "row"]].itertuples(index=False)}
    if len(by_cell) != len(grid):
        raise PipelineError("the grid puts two images in the same cell")
    pieces = []
    for row in range(rows):
        for col in range(cols):
            key = by_cell.get((col, row))
            if key is None:
                pieces.append(empty)
                continue
            cell = pyvips.Image.new_from_file(str(Path(cells_dir) / f"{key}{CELL_FORMAT}"), access="sequential")
            if cell.width != size or cell.height != size:
                raise PipelineError(f"cell {key} is {cell.width}x{cell.height}, expected {size}x{size}; rerun mosaic")
            pieces.append(cell)
    return pyvips.Image.arrayjoin(pieces, across=cols)


def write_dzi(image, out_dir: str | Path, tile_size: int, overlap: int, tile_format: str = "jpg",
              quality: int = 90) -> Path:
    """dzsave the image as out_dir/mosaic.dzi + mosaic_files/; returns the .dzi path."""
    suffix = f".{tile_format}[Q={quality}]" if tile_format in ("jpg", "webp") else f".{tile_format}"
    image.dzsave(str(Path(out_dir) / DZI_NAME), tile_size=tile_size, overlap=overlap, suffix=suffix,
                 layout="dz", depth="onepixel")
    return Path(out_dir) / f"{DZI_NAME}.dzi"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-in", dest="input", required=True, help="grid CSV (id,col,row)")
    parser.add_argument("-cells", required=True, help="folder of cells written by the mosaic stage")
    parser.add_argument("-out", dest="output", required=True, help="folder for mosaic.dzi and mosaic_files/")
    parser.add_argument("-tile", default="128", help="cell size in pixels (as given to the mosaic stage)")
    parser.add_argument("-tsize", type=int, default=128, help="Deep Zoom tile size in pixels")
    parser.add_argument("-overlap", type=int, default=1, help="Deep Zoom tile overlap in pixels")
    parser.add_argument("-format", choices=("jpg", "webp", "png"), default="jpg")
    parser.add_argument("-quality", type=int, default=90)
    parser.add_argument("-background", default="0,0,0", help="R,G,B of empty cells")
    args = parser.parse_args(argv)

    if args.tsize <= 0 or args.overlap < 0:
        raise PipelineError("tile size must be positive and overlap not negative")
    grid, cols, rows = read_grid(args.input)
    size = parse_tile(args.tile)
    background = parse_colour(args.background)
    image = mosaic_image(grid, cols, rows, args.cells, size, background)
    print(f"tiles: {image.width}x{image.height} mosaic, {args.tsize}px tiles, overlap {args.overlap}", file=sys.stderr)
    with atomic_dir(args.output) as temp:
        write_dzi(image, temp, args.tsize, args.overlap, args.format, args.quality)
        (Path(temp) / "mosaic.json").write_text(json.dumps({
            "dzi": f"{DZI_NAME}.dzi", "width": image.width, "height": image.height,
            "cols": cols, "rows": rows, "cellSize": size,
        }))
    print(f"tiles: wrote {args.output}/{DZI_NAME}.dzi", file=sys.stderr)


if __name__ == "__main__":
    run_cli(main)
