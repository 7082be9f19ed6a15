"""Stage 5, tiles: the cells arranged on the grid and written as one image pyramid, served two ways.

The pyramid is built straight from the cell thumbnails, one row of cells at a time: the row is
decoded into a strip of the full-resolution mosaic, tiles are cut from it as soon as their rows are
complete, and the strip is halved (2x2 mean) into the next level's strip, and so on down to one
pixel. Only a few strips per level are ever in memory (about 60 MB for 13,000 cells), never the
mosaic (14,592 x 14,848 pixels for 13,000 images), and JPEG encoding runs on a thread pool.

Each level's tiles are written as
- Deep Zoom, as OpenSeadragon reads it: ``mosaic.dzi`` + ``mosaic_files/<level>/<col>_<row>.<format>``
  (tiles overlap their neighbours by ``overlap`` pixels);
- IIIF Image API 3 level 0, static files (unless turned off): ``iiif/info.json`` and
  ``iiif/<x,y,w,h>/<w,h>/0/default.<format>``, every tile also under the ``w,`` size spelling that
  Image API 2 clients request (a hard link), and whole-image sizes under ``iiif/full/``;
plus ``preview.jpg`` (the whole mosaic at most 1,024 pixels wide), ``mosaic.json`` (geometry, for the
later stages) and ``tiles_report.csv`` (cells that could not be read and got a placeholder).
"""
from __future__ import annotations

import argparse
import collections
import json
import math
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image
from tqdm import tqdm

from common import (CELL_FORMAT, PipelineError, atomic_dir, link_or_copy, parse_colour, parse_tile, read_grid,
                    run_cli)

DZI_NAME = "mosaic"
PREVIEW_SIZE = 1024  # longest side of preview.jpg, and of the largest whole image in IIIF `sizes`


def whole_image_limit(tile: int) -> int:
    """Levels up to this size are also written as whole images (IIIF clients ask for those below a tile)."""
    return max(PREVIEW_SIZE, tile)
SAVE_OPTIONS = {"jpg": ("JPEG", True), "webp": ("WEBP", True), "png": ("PNG", False)}


class TileSink:
    """Encodes tiles on a thread pool and writes them under the Deep Zoom and IIIF layouts."""

    def __init__(self, out_dir: Path, width: int, height: int, tile: int, overlap: int, tile_format: str,
                 quality: int, iiif: bool, threads: int):
        self.out_dir, self.width, self.height = out_dir, width, height
        self.tile, self.overlap, self.format, self.iiif = tile, overlap, tile_format, iiif
        codec, lossy = SAVE_OPTIONS[tile_format]
        self.options = {"format": codec, **({"quality": quality} if lossy else {})}
        self.top = max(0, math.ceil(math.log2(max(width, height))))
        self.pool = ThreadPoolExecutor(max_workers=max(1, threads))
        self.pending: collections.deque = collections.deque()
        self.limit = 8 * max(1, threads)
        self.count = 0

    def _save(self, pixels: np.ndarray, path: Path, links: list[Path]) -> None:
        Image.fromarray(pixels).save(path, **self.options)
        for link in links:
            link.parent.mkdir(parents=True, exist_ok=True)
            link_or_copy(path, link)

    def _submit(self, pixels: np.ndarray, path: Path, links: list[Path] = ()) -> None:
        while len(self.pending) >= self.limit:  # bound the tiles waiting in memory
            self.pending.popleft().result()
        path.parent.mkdir(parents=True, exist_ok=True)
        self.pending.append(self.pool.submit(self._save, np.ascontiguousarray(pixels), path, list(links)))
        self.count += 1

    def tile_row(self, level: int, row: int, strip: np.ndarray, strip_top: int, level_width: int,
                 level_height: int) -> None:
        """Cut and write tile row `row` of `level`; strip holds level rows from strip_top on."""
        tile, overlap = self.tile, self.overlap
        y0, y1 = row * tile, min(level_height, (row + 1) * tile)
        folder = self.out_dir / f"{DZI_NAME}_files" / str(level)
        for col in range(math.ceil(level_width / tile)):
            x0, x1 = col * tile, min(level_width, (col + 1) * tile)
            top, bottom = max(0, y0 - overlap), min(level_height, y1 + overlap)
            left, right = max(0, x0 - overlap), min(level_width, x1 + overlap)
            self._submit(strip[top - strip_top:bottom - strip_top, left:right], folder / f"{col}_{row}.{self.format}")
            if self.iiif and self._iiif_scale(level) is not None:
                paths = iiif_tile_paths(self.out_dir / "iiif", self.width, self.height, self._iiif_scale(level),
                                        x0, y0, x1 - x0, y1 - y0, self.format)
                self._submit(strip[y0 - strip_top:y1 - strip_top, x0:x1], paths[0], paths[1:])

    def _iiif_scale(self, level: int) -> int | None:
        """The IIIF scale factor of a level, or None below the level that fits one tile (those are `sizes`)."""
        scale = 2 ** (self.top - level)
        return scale if scale in iiif_scale_factors(self.width, self.height, self.tile) else None

    def whole_level(self, level: int, pixels: np.ndarray) -> None:
        """A small level as one image: IIIF `sizes` entry, and preview.jpg for the largest of them."""
        height, width = pixels.shape[:2]
        one_tile = width <= self.tile and height <= self.tile and self._iiif_scale(level) is not None
        if self.iiif and not one_tile:  # a level of one tile already has its `full` paths
            paths = iiif_size_paths(self.out_dir / "iiif", self.width, self.height, width, height, self.format)
            self._submit(pixels, paths[0], paths[1:])
        if max(width, height) <= PREVIEW_SIZE and not (self.out_dir / "preview.jpg").exists():  # the largest
            Image.fromarray(pixels).save(self.out_dir / "preview.jpg", quality=85)

    def close(self) -> None:
        while self.pending:
            self.pending.popleft().result()
        self.pool.shutdown()


class PyramidLevel:
    """One level of the pyramid, fed rows from the top down; writes its tiles and feeds the next level."""

    def __init__(self, level: int, width: int, height: int, sink: TileSink):
        self.level, self.width, self.height, self.sink = level, width, height, sink
        self.strip = np.zeros((0, width, 3), np.uint8)
        self.strip_top = 0  # level row of strip[0]
        self.received = 0
        self.next_tile_row = 0
        self.odd_row = None  # a row waiting for its partner before halving
        self.whole = [] if max(width, height) <= whole_image_limit(sink.tile) else None
        self.coarser = (PyramidLevel(level - 1, math.ceil(width / 2), math.ceil(height / 2), sink)
                        if level > 0 else None)

    def push(self, rows: np.ndarray) -> None:
        self.strip = np.concatenate([self.strip, rows]) if len(self.strip) else rows
        self.received += len(rows)
        if self.whole is not None:
            self.whole.append(rows)
        tile, overlap = self.sink.tile, self.sink.overlap
        while self.next_tile_row * tile < self.height:
            needed = min(self.height, (self.next_tile_row + 1) * tile + overlap)
            if self.received < needed:
                break
            self.sink.tile_row(self.level, self.next_tile_row, self.strip, self.strip_top, self.width, self.height)
            self.next_tile_row += 1
            keep_from = max(0, self.next_tile_row * tile - overlap)  # the next tile row's first row
            self.strip = self.strip[keep_from - self.strip_top:]
            self.strip_top = keep_from
        if self.coarser is not None:
            self.coarser.push_pairs(self, rows)

    def push_pairs(self, finer: "PyramidLevel", rows: np.ndarray) -> None:
        """Halve rows of the finer level (2x2 mean) and push them here; an odd row waits for its partner."""
        if finer.odd_row is not None:
            rows = np.concatenate([finer.odd_row, rows])
            finer.odd_row = None
        if len(rows) % 2:
            finer.odd_row, rows = rows[-1:], rows[:-1]
        if len(rows):
            self.push(halve(rows))

    def finish(self) -> None:
        if self.received != self.height:
            raise PipelineError(f"pyramid level {self.level} got {self.received} rows, expected {self.height}")
        if self.whole is not None:
            self.sink.whole_level(self.level, np.concatenate(self.whole))
        if self.coarser is not None:
            if self.odd_row is not None:  # the last row of an odd height is halved on its own
                self.coarser.push(halve(np.concatenate([self.odd_row, self.odd_row])))
                self.odd_row = None
            self.coarser.finish()


def halve(rows: np.ndarray) -> np.ndarray:
    """2x2 mean of an even number of rows; an odd last column is averaged with itself."""
    if rows.shape[1] % 2:
        rows = np.concatenate([rows, rows[:, -1:]], axis=1)
    wide = rows.astype(np.uint16)
    pairs = wide[0::2] + wide[1::2]  # strided adds: several times faster than a reshaped multi-axis sum
    return ((pairs[:, 0::2] + pairs[:, 1::2] + 2) // 4).astype(np.uint8)


def iiif_scale_factors(width: int, height: int, tile: int) -> list[int]:
    """Powers of two from full resolution down to the first level that fits in one tile."""
    factors = [1]
    while math.ceil(width / factors[-1]) > tile or math.ceil(height / factors[-1]) > tile:
        factors.append(factors[-1] * 2)
    return factors


def iiif_tile_paths(root: Path, width: int, height: int, scale: int, x: int, y: int, w: int, h: int,
                    fmt: str) -> list[Path]:
    """Every URL path under which a client may request this tile: x,y,w,h (or full) regions, w,h and w, sizes."""
    region_w, region_h = min(w * scale, width - x * scale), min(h * scale, height - y * scale)
    regions = [f"{x * scale},{y * scale},{region_w},{region_h}"]
    if x == 0 and y == 0 and region_w == width and region_h == height:
        regions.append("full")
    sizes = [f"{w},{h}", f"{w},"] + (["max"] if (w, h) == (width, height) else [])
    return [root / region / size / "0" / f"default.{fmt}" for region in regions for size in sizes]


def iiif_size_paths(root: Path, width: int, height: int, w: int, h: int, fmt: str) -> list[Path]:
    """URL paths of the whole image at w x h (an entry of info.json's `sizes`)."""
    sizes = [f"{w},{h}", f"{w},"] + (["max"] if (w, h) == (width, height) else [])
    return [root / "full" / size / "0" / f"default.{fmt}" for size in sizes]


def iiif_info(base_url: str, width: int, height: int, tile: int, fmt: str) -> dict:
    """info.json of a level 0 IIIF Image API 3 service whose files lie at base_url."""
    sizes = []
    level_w, level_h = width, height
    while True:
        if max(level_w, level_h) <= whole_image_limit(tile):
            sizes.append({"width": level_w, "height": level_h})
        if level_w == 1 and level_h == 1:
            break
        level_w, level_h = math.ceil(level_w / 2), math.ceil(level_h / 2)
    return {
        "@context": "http://iiif.io/api/image/3/context.json",
        "id": base_url.rstrip("/"),
        "type": "ImageService3",
        "protocol": "http://iiif.io/api/image",
        "profile": "level0",
        "width": width,
        "height": height,
        "sizes": sorted(sizes, key=lambda size: size["width"]),
        "tiles": [{"width": tile, "height": tile, "scaleFactors": iiif_scale_factors(width, height, tile)}],
        "preferredFormats": [fmt],
    }


def load_cell(path: Path, size: int):
    """A cell's pixels, or None (with the reason) if the file cannot be read as an image."""
    try:
        with Image.open(path) as image:
            pixels = np.asarray(image.convert("RGB"))
    except (OSError, ValueError, SyntaxError) as error:
        return None, f"cannot read cell: {error}"
    if pixels.shape[:2] != (size, size):
        raise PipelineError(f"cell {path.name} is {pixels.shape[1]}x{pixels.shape[0]}, expected {size}x{size}; "
                            "rerun the mosaic stage")
    return pixels, None


def write_pyramid(grid: pd.DataFrame, cols: int, rows: int, cells_dir, out_dir, cell_size: int, tile: int = 128,
                  overlap: int = 1, tile_format: str = "jpg", quality: int = 90, background=(0, 0, 0),
                  iiif_base: str | None = None, threads: int = 2, progress: bool = True) -> dict:
    """Write the pyramid of the cells placed by `grid` into out_dir; returns mosaic.json's content.

    With `iiif_base` (the URL the iiif/ folder will be served from) the IIIF files are written too.
    Cells that cannot be read are drawn in the background colour and listed in tiles_report.csv.
    """
    if tile <= 0 or overlap < 0:
        raise PipelineError("tile size must be positive and overlap not negative")
    if tile_format not in SAVE_OPTIONS:
        raise PipelineError(f"tile format must be one of {', '.join(SAVE_OPTIONS)}, not {tile_format!r}")
    by_cell = {(int(col), int(row)): key for key, col, row in grid[["id", "col", "row"]].itertuples(index=False)}
    if len(by_cell) != len(grid):
        raise PipelineError("the grid puts two images in the same cell")
    out_dir, cells_dir = Path(out_dir), Path(cells_dir)
    width, height = cols * cell_size, rows * cell_size
    sink = TileSink(out_dir, width, height, tile, overlap, tile_format, quality, iiif_base is not None, threads)
    top = PyramidLevel(sink.top, width, height, sink)
    empty = np.empty((cell_size, cell_size, 3), np.uint8)
    empty[:] = background
    failures = []
    bar = tqdm(total=len(grid), unit="cell", desc="tiles", disable=not progress, mininterval=1.0, file=sys.stderr)
    with bar, ThreadPoolExecutor(max_workers=max(1, threads)) as readers:
        for row in range(rows):
            keys = [by_cell.get((col, row)) for col in range(cols)]
            loaded = readers.map(lambda key: (empty, None) if key is None else
                                 load_cell(cells_dir / f"{key}{CELL_FORMAT}", cell_size), keys)
            pieces = []
            for key, (pixels, problem) in zip(keys, loaded):
                if problem is not None:
                    failures.append((key, problem))
                    pixels = empty
                pieces.append(pixels)
            top.push(np.concatenate(pieces, axis=1))
            bar.update(sum(key is not None for key in keys))
        top.finish()
    sink.close()
    (out_dir / f"{DZI_NAME}.dzi").write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<Image xmlns="http://schemas.microsoft.com/deepzoom/2008" Format="{tile_format}" Overlap="{overlap}" '
        f'TileSize="{tile}">\n  <Size Width="{width}" Height="{height}"/>\n</Image>\n', encoding="utf-8")
    if iiif_base is not None:
        (out_dir / "iiif" / "info.json").write_text(json.dumps(iiif_info(iiif_base, width, height, tile, tile_format),
                                                               indent=1))
    pd.DataFrame(failures, columns=["id", "reason"]).to_csv(out_dir / "tiles_report.csv", index=False)
    return {"dzi": f"{DZI_NAME}.dzi", "iiif": "iiif/info.json" if iiif_base is not None else None,
            "preview": "preview.jpg", "width": width, "height": height, "cols": cols, "rows": rows,
            "cellSize": cell_size, "tiles": sink.count, "placeholders": len(failures)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-in", dest="input", required=True, help="grid CSV (id,col,row)")
    parser.add_argument("-cells", required=True, help="folder of cells written by the mosaic stage")
    parser.add_argument("-out", dest="output", required=True, help="folder for mosaic.dzi, mosaic_files/ and iiif/")
    parser.add_argument("-tile", default="128", help="cell size in pixels (as given to the mosaic stage)")
    parser.add_argument("-tsize", type=int, default=128, help="tile size in pixels")
    parser.add_argument("-overlap", type=int, default=1, help="Deep Zoom tile overlap in pixels")
    parser.add_argument("-format", choices=tuple(SAVE_OPTIONS), default="jpg")
    parser.add_argument("-quality", type=int, default=90)
    parser.add_argument("-background", default="0,0,0", help="R,G,B of empty cells")
    parser.add_argument("-iiif", default=None, metavar="URL",
                        help="also write IIIF level 0 files, to be served at URL (e.g. https://example.org/site/tiles/iiif)")
    parser.add_argument("-jobs", type=int, default=2, help="threads reading cells and encoding tiles")
    args = parser.parse_args(argv)

    grid, cols, rows = read_grid(args.input)
    size = parse_tile(args.tile)
    print(f"tiles: {cols * size}x{rows * size} mosaic, {args.tsize}px tiles, overlap {args.overlap}"
          + (", IIIF level 0" if args.iiif else ""), file=sys.stderr)
    with atomic_dir(args.output) as temp:
        geometry = write_pyramid(grid, cols, rows, args.cells, temp, size, args.tsize, args.overlap, args.format,
                                 args.quality, parse_colour(args.background), args.iiif, args.jobs)
        (Path(temp) / "mosaic.json").write_text(json.dumps(geometry))
    for key, reason in pd.read_csv(Path(args.output) / "tiles_report.csv", dtype=str).itertuples(index=False):
        print(f"tiles: placeholder for cell {key}: {reason}", file=sys.stderr)
    print(f"tiles: wrote {geometry['tiles']} tiles to {args.output}/", file=sys.stderr)


if __name__ == "__main__":
    run_cli(main)
