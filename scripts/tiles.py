"""Stage 5, tiles: the cells arranged on the grid and written as one image pyramid, served two ways.

The pyramid is built straight from the cell thumbnails, never from the whole mosaic (14,592 x 14,848
pixels for 13,000 images). The mosaic is cut into horizontal bands a few tiles high, and worker
processes (``--jobs``) each take one band at a time: decode its cells into a strip of the
full-resolution mosaic (plus a margin of the overlap), write its tiles, halve it (2x2 mean) and write
the next level's tiles, and hand the band's rows of the level below that back, in order. The deepest
two levels, which hold about 19 of every 20 tiles, are so written on every core at once. From there
one streaming pass in the main process continues down to one pixel, each level fed rows from the top
down and cutting tiles as soon as their rows are complete. Memory stays at a few strips per process.

Each level's tiles are written as
- Deep Zoom, as OpenSeadragon reads it: ``mosaic.dzi`` + ``mosaic_files/<level>/<col>_<row>.<format>``
  (tiles overlap their neighbours by ``overlap`` pixels);
- IIIF Image API 3 level 0 (unless turned off): ``iiif/info.json`` and each tile without overlap once, in
  a flat store that the site lays out under the names clients ask for (see iiif_layout.py):
  ``iiif/<scale factor>/<col>_<row>.<format>`` and whole-image sizes as ``iiif/full/<w>,<h>.<format>``.
  With no overlap a Deep Zoom tile is its IIIF tile: one file, two names (a hard link);
plus ``preview.jpg`` (the whole mosaic at most 1,024 pixels wide) and ``tiles_report.csv`` (cells that
could not be read and got a placeholder); the geometry the later stages need goes to ``mosaic.json``
beside the folder.
"""
from __future__ import annotations

import argparse
import collections
import filecmp
import functools
import json
import math
import multiprocessing
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image
from tqdm import tqdm

import iiif_layout
from common import (
    CELL_FORMAT,
    PipelineError,
    atomic_dir,
    atomic_path,
    cell_files,
    in_order,
    link_files,
    link_or_copy,
    parse_colour,
    parse_tile,
    process_pool,
    run_cli,
)
from tables import read_grid

tqdm.monitor_interval = 0  # no monitor thread in a process that forks workers
DZI_NAME = "mosaic"
PREVIEW_SIZE = 1024  # longest side of preview.jpg, and of the largest whole image in IIIF `sizes`
BAND_LEVELS = 2  # deepest levels written band by band in worker processes
BAND_HEIGHT = 1024  # pixel rows of a band at full resolution (rounded to whole tiles of every band level)
HALVING_ROWS = 256  # rows halved at a time (even)
SINK_THREADS = 4  # threads saving tiles in each band's worker: a file and its IIIF folders wait on the disk


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
        self.folders: set[Path] = set()  # made already: one mkdir per folder, not per tile
        self.preview_size: tuple[int, int] | None = None

    def _save(self, pixels: np.ndarray, path: Path, links: list[Path]) -> None:
        for target in (path, *links):
            if target.parent not in self.folders:
                target.parent.mkdir(parents=True, exist_ok=True)
                self.folders.add(target.parent)
        Image.fromarray(pixels).save(path, **self.options)
        for link in links:
            link_or_copy(path, link)

    def _submit(self, pixels: np.ndarray, path: Path, links: list[Path] = ()) -> None:
        while len(self.pending) >= self.limit:  # bound the tiles waiting in memory
            self.pending.popleft().result()
        self.pending.append(self.pool.submit(self._save, np.ascontiguousarray(pixels), path, list(links)))
        self.count += 1

    def tile_row(self, level: int, row: int, strip: np.ndarray, strip_top: int, level_width: int,
                 level_height: int, only=None, left: int = 0) -> None:
        """Cut and write tile row `row` of `level` (or the tiles of columns `only`); strip holds level rows
        from strip_top on, and level columns from `left` on."""
        tile, overlap = self.tile, self.overlap
        y0, y1 = row * tile, min(level_height, (row + 1) * tile)
        folder = self.out_dir / f"{DZI_NAME}_files" / str(level)
        for col in range(math.ceil(level_width / tile)) if only is None else only:
            x0, x1 = col * tile, min(level_width, (col + 1) * tile)
            top, bottom = max(0, y0 - overlap), min(level_height, y1 + overlap)
            start, stop = max(0, x0 - overlap), min(level_width, x1 + overlap)
            path = folder / f"{col}_{row}.{self.format}"
            scale = self._iiif_scale(level) if self.iiif else None
            flat = None if scale is None else self.out_dir / "iiif" / iiif_layout.flat_tile(scale, col, row,
                                                                                            self.format)
            if flat is not None and not overlap:  # the same pixels: one file under both names
                self._submit(strip[top - strip_top:bottom - strip_top, start - left:stop - left], path, [flat])
                continue
            self._submit(strip[top - strip_top:bottom - strip_top, start - left:stop - left], path)
            if flat is not None:
                self._submit(strip[y0 - strip_top:y1 - strip_top, x0 - left:x1 - left], flat)

    def _iiif_scale(self, level: int) -> int | None:
        """The IIIF scale factor of a level, or None below the level that fits one tile (those are `sizes`)."""
        scale = 2 ** (self.top - level)
        return scale if scale in iiif_layout.scale_factors(self.width, self.height, self.tile) else None

    def whole_level(self, level: int, pixels: np.ndarray) -> None:
        """A small level as one image: IIIF `sizes` entry, and preview.jpg for the largest of them."""
        height, width = pixels.shape[:2]
        one_tile = width <= self.tile and height <= self.tile and self._iiif_scale(level) is not None
        if self.iiif and not one_tile:  # a level of one tile already has its `full` names
            self._submit(pixels, self.out_dir / "iiif" / iiif_layout.flat_size(width, height, self.format))
        if max(width, height) <= PREVIEW_SIZE and self.preview_size is None:  # the largest
            Image.fromarray(pixels).save(self.out_dir / "preview.jpg", quality=85)
            self.preview_size = (width, height)

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

    def push_pairs(self, finer: PyramidLevel, rows: np.ndarray) -> None:
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
                self.coarser.push(halve(self.odd_row))
                self.odd_row = None
            self.coarser.finish()


def halve(rows: np.ndarray) -> np.ndarray:
    """2x2 mean, rounded half up; an odd last row or column is averaged with itself.

    Pillow's reduce(2), a few rows at a time to bound its working copies: about 5x faster than the
    same mean in numpy, with identical output.
    """
    return np.concatenate([np.asarray(Image.fromarray(rows[start:start + HALVING_ROWS]).reduce(2))
                           for start in range(0, len(rows), HALVING_ROWS)])


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
    info = {
        "@context": "http://iiif.io/api/image/3/context.json",
        "id": base_url.rstrip("/"),
        "type": "ImageService3",
        "protocol": "http://iiif.io/api/image",
        "profile": "level0",
        "width": width,
        "height": height,
        "sizes": sorted(sizes, key=lambda size: size["width"]),
        "tiles": [{"width": tile, "height": tile, "scaleFactors": iiif_layout.scale_factors(width, height, tile)}],
        "preferredFormats": [fmt],
    }
    largest = info["sizes"][-1]
    if (largest["width"], largest["height"]) != (width, height):  # `max` is the largest whole image written
        info["maxWidth"], info["maxHeight"] = largest["width"], largest["height"]
    return info


def load_cell(path: Path | None, size: int):
    """A cell's pixels, or None (with the reason) if there is no file or it cannot be read as an image."""
    if path is None:
        return None, "no cell: the mosaic stage made none for this image"
    try:
        with Image.open(path) as image:
            pixels = np.asarray(image.convert("RGB"))
    except (OSError, ValueError, SyntaxError) as error:
        return None, f"cannot read cell: {error}"
    if pixels.shape[:2] != (size, size):
        raise PipelineError(f"cell {path.name} is {pixels.shape[1]}x{pixels.shape[0]}, expected {size}x{size}; "
                            "rerun the mosaic stage")
    return pixels, None


class Bands:
    """The mosaic cut into bands of pixel rows, and the work of one band: everything a worker needs."""

    def __init__(self, by_cell: dict, cols: int, rows: int, cell_paths: dict, out_dir: Path, cell_size: int,
                 tile: int, overlap: int, tile_format: str, quality: int, background, iiif: bool):
        self.by_cell, self.cols, self.cell_paths, self.cell_size = by_cell, cols, cell_paths, cell_size
        self.sink_settings = (out_dir, cols * cell_size, rows * cell_size, tile, overlap, tile_format, quality, iiif)
        self.width, self.height, self.tile, self.overlap = cols * cell_size, rows * cell_size, tile, overlap
        self.empty = np.empty((cell_size, cell_size, 3), np.uint8)
        self.empty[:] = background
        # Band levels: the deepest ones, as long as they are too big to be kept whole (see whole_level).
        self.levels, side = 0, max(self.width, self.height)
        while self.levels < BAND_LEVELS and side > whole_image_limit(tile):
            self.levels, side = self.levels + 1, math.ceil(side / 2)
        # Band edges fall on tile rows of every band level and on whole 2x2 blocks of every halving.
        step = tile * 2 ** self.levels if self.levels else cell_size
        size = max(step, BAND_HEIGHT // step * step)
        self.spans = [(start, min(self.height, start + size)) for start in range(0, self.height, size)]
        margin = overlap * 2 ** max(0, self.levels - 1)  # rows beyond the edges that the overlaps need
        self.margin = math.ceil(margin / 2 ** self.levels) * 2 ** self.levels

    def cells_in(self, start: int, stop: int) -> int:
        """Cells whose first pixel row is in [start, stop), for the progress bar."""
        rows = range(math.ceil(start / self.cell_size), math.ceil(stop / self.cell_size))
        return sum((col, row) in self.by_cell for row in rows for col in range(self.cols))

    def read_rows(self, start: int, stop: int):
        """Full-resolution mosaic rows [start, stop), and the (id, reason) of cells drawn as placeholders."""
        first, last = start // self.cell_size, math.ceil(stop / self.cell_size)
        failures, strips = [], []
        for row in range(first, last):
            pieces = []
            for col in range(self.cols):
                key = self.by_cell.get((col, row))
                pixels, problem = (self.empty, None) if key is None else load_cell(
                    self.cell_paths.get(key), self.cell_size)
                if problem is not None:
                    failures.append((key, problem))
                    pixels = self.empty
                pieces.append(pixels)
            strips.append(np.concatenate(pieces, axis=1))
        rows = np.concatenate(strips)
        return rows[start - first * self.cell_size:stop - first * self.cell_size], failures

    def write(self, span: tuple[int, int]):
        """Write the band's tiles on its levels; return its rows of the next coarser level, failures and tile count.

        A band's own rows decide its own tile rows; the margin rows above and below only lend the
        overlapping pixels (their cells are decoded again by the neighbouring band: with 128 px cells,
        two rows of cells more per eight).
        """
        start, stop = span
        begin, end = max(0, start - self.margin), min(self.height, stop + self.margin)
        strip, failures = self.read_rows(begin, end)
        sink = TileSink(*self.sink_settings, threads=SINK_THREADS)
        level = sink.top
        level_width, level_height = self.width, self.height
        for _ in range(self.levels):
            first_row = start // self.tile
            last_row = math.ceil(stop / self.tile) if stop == level_height else stop // self.tile
            for tile_row in range(first_row, last_row):
                sink.tile_row(level, tile_row, strip, begin, level_width, level_height)
            strip = halve(strip)  # odd only at the bottom of an odd-height level, as in one pass over it
            at_bottom = stop == level_height
            level, level_width, level_height = level - 1, math.ceil(level_width / 2), math.ceil(level_height / 2)
            begin, start, stop = begin // 2, start // 2, level_height if at_bottom else stop // 2
        sink.close()
        return strip[start - begin:stop - begin], failures, sink.count


_BANDS: Bands | None = None  # the plan, set in each worker process before it takes bands


def _set_bands(bands: Bands) -> None:
    global _BANDS
    _BANDS = bands


def _write_band(span: tuple[int, int]):
    return _BANDS.write(span)


def write_pyramid(grid: pd.DataFrame, cols: int, rows: int, cells, out_dir, cell_size: int, tile: int = 128,
                  overlap: int = 1, tile_format: str = "jpg", quality: int = 90, background=(0, 0, 0),
                  iiif_base: str | None = None, jobs: int = 2, progress: bool = True) -> dict:
    """Write the pyramid of the cells placed by `grid` into out_dir; returns mosaic.json's content.

    `cells` is the mosaic stage's folder of cells, or a list of its shards' folders (gathered here).
    With `iiif_base` (the URL the iiif/ folder will be served from) the IIIF files are written too.
    Cells that cannot be read are drawn in the background colour and listed in tiles_report.csv.
    `jobs` worker processes write the bands of the deepest levels (1: all in this process).
    """
    if tile <= 0 or overlap < 0:
        raise PipelineError("tile size must be positive and overlap not negative")
    if tile_format not in SAVE_OPTIONS:
        raise PipelineError(f"tile format must be one of {', '.join(SAVE_OPTIONS)}, not {tile_format!r}")
    by_cell = {(int(col), int(row)): key for key, col, row in grid[["id", "col", "row"]].itertuples(index=False)}
    if len(by_cell) != len(grid):
        raise PipelineError("the grid puts two images in the same cell")
    out_dir = Path(out_dir)
    cell_paths = cell_files([cells] if isinstance(cells, str | Path) else cells)
    out_dir.mkdir(parents=True, exist_ok=True)
    width, height = cols * cell_size, rows * cell_size
    bands = Bands(by_cell, cols, rows, cell_paths, out_dir, cell_size, tile, overlap, tile_format, quality,
                  background, iiif_base is not None)
    workers = min(max(1, jobs), len(bands.spans))
    # Where the system can fork, workers are forked (at the first submit) before this process starts
    # any thread of its own (the sink's start with its first tile; tqdm's monitor thread is off) and
    # inherit the plan; elsewhere (Windows) they are spawned and receive it pickled.
    start = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    pool = (process_pool(workers, start, _set_bands, (bands,))
            if workers > 1 else None)
    sink = TileSink(out_dir, width, height, tile, overlap, tile_format, quality, iiif_base is not None, jobs)
    coarser = PyramidLevel(sink.top - bands.levels, math.ceil(width / 2 ** bands.levels),
                           math.ceil(height / 2 ** bands.levels), sink)
    failures, band_tiles = [], 0
    bar = tqdm(total=len(grid), unit="cell", desc="tiles", disable=not progress, mininterval=1.0, file=sys.stderr)
    try:
        with bar:
            done = in_order(pool, _write_band, bands.spans, 2 * workers) if pool else map(bands.write, bands.spans)
            for span, (rows_below, band_failures, count) in zip(bands.spans, done, strict=True):
                coarser.push(rows_below)
                failures += band_failures
                band_tiles += count
                bar.update(bands.cells_in(*span))
            coarser.finish()
    finally:
        if pool:
            pool.shutdown(cancel_futures=True)
        sink.close()
    _write_descriptions(out_dir, width, height, tile, overlap, tile_format, iiif_base, failures,
                        pyramid_settings(cols, rows, cell_size, tile, overlap, tile_format, quality, background,
                                         iiif_base))
    return {"dzi": f"{DZI_NAME}.dzi", "iiif": "iiif/info.json" if iiif_base is not None else None,
            "preview": "preview.jpg", "previewSize": list(sink.preview_size), "width": width, "height": height,
            "cols": cols, "rows": rows,
            "cellSize": cell_size, "tiles": band_tiles + sink.count, "placeholders": len(failures)}


SETTINGS_FILE = "build.json"  # in the tiles folder: what a later build must match to reuse its tiles


def pyramid_settings(cols: int, rows: int, cell_size: int, tile: int, overlap: int, tile_format: str, quality: int,
                     background, iiif_base: str | None) -> dict:
    """Everything besides the cells that decides a pyramid's tiles (written to build.json beside them)."""
    return {"cols": cols, "rows": rows, "cellSize": cell_size, "tile": tile, "overlap": overlap, "format": tile_format,
            "quality": quality, "background": list(background), "iiif": iiif_base}


def _same_cell(new: Path | None, old: Path) -> bool:
    """Whether two cell files hold the same picture: the same file (the mosaic's cache links one file into
    every build) or the same bytes."""
    if new is None or not old.is_file():
        return False
    if os.path.samefile(new, old):
        return True
    return new.stat().st_size == old.stat().st_size and filecmp.cmp(new, old, shallow=False)


def changed_cells(by_cell: dict, cell_paths: dict, cols: int, rows: int, previous_by_cell: dict, previous_cols: int,
                  previous_rows: int, previous_cells: Path) -> np.ndarray:
    """A (rows, cols) mask of the cells whose pixels differ from the previous build's: another picture or
    none, a picture whose cell file changed, and every cell beyond the previous grid. When the grid
    shrank, its last column and row count as changed too (the mosaic's edge moved through them)."""
    changed = np.zeros((rows, cols), bool)
    changed[previous_rows:, :] = True
    changed[:, previous_cols:] = True
    if cols < previous_cols:
        changed[:, -1] = True
    if rows < previous_rows:
        changed[-1, :] = True
    for (col, row) in set(by_cell) | set(previous_by_cell):
        if col >= cols or row >= rows or changed[row, col]:
            continue
        key, old = by_cell.get((col, row)), previous_by_cell.get((col, row))
        if key != old or (key is not None and
                          not _same_cell(cell_paths.get(key), previous_cells / f"{key}{CELL_FORMAT}")):
            changed[row, col] = True
    return changed


def _tile_touches(changed: np.ndarray, cell_size: int, width: int, height: int, scale: int, level_width: int,
                  level_height: int, tile: int, overlap: int) -> np.ndarray:
    """(tile rows, tile cols) mask of a level's tiles whose pixels (overlap included) come from a changed cell."""
    totals = np.zeros((changed.shape[0] + 1, changed.shape[1] + 1), np.int64)
    totals[1:, 1:] = changed.cumsum(0).cumsum(1)

    def cell_spans(count, level_size, size):
        index = np.arange(math.ceil(level_size / tile))
        first = np.maximum(0, index * tile - overlap) * scale // cell_size
        last = -(-np.minimum(np.minimum(level_size, (index + 1) * tile + overlap) * scale, size) // cell_size)
        return np.minimum(first, count), np.minimum(last, count)

    col0, col1 = cell_spans(changed.shape[1], level_width, width)
    row0, row1 = cell_spans(changed.shape[0], level_height, height)
    return (totals[row1][:, col1] - totals[row0][:, col1] - totals[row1][:, col0] + totals[row0][:, col0]) > 0


class _LevelPixels:
    """A level's pixels in any rectangle, from the tiles this build rendered (kept in memory) and, where it
    reused a tile, from the previous build's file (decoded; its overlap cut away)."""

    def __init__(self, folder: Path, width: int, height: int, tile: int, overlap: int):
        self.folder, self.width, self.height, self.tile, self.overlap = folder, width, height, tile, overlap
        self.cores: dict[tuple[int, int], np.ndarray] = {}

    def _core(self, col: int, row: int, fmt: str) -> np.ndarray:
        if (col, row) in self.cores:
            return self.cores[(col, row)]
        with Image.open(self.folder / f"{col}_{row}.{fmt}") as image:
            pixels = np.asarray(image.convert("RGB"))
        left, top = (self.overlap if col else 0), (self.overlap if row else 0)
        width = min(self.width, (col + 1) * self.tile) - col * self.tile
        height = min(self.height, (row + 1) * self.tile) - row * self.tile
        return pixels[top:top + height, left:left + width]

    def region(self, x0: int, y0: int, x1: int, y1: int, fmt: str) -> np.ndarray:
        out = np.zeros((y1 - y0, x1 - x0, 3), np.uint8)
        tile = self.tile
        for row in range(y0 // tile, math.ceil(y1 / tile)):
            for col in range(x0 // tile, math.ceil(x1 / tile)):
                core = self._core(col, row, fmt)
                cx, cy = col * tile, row * tile
                ax0, ay0 = max(x0, cx), max(y0, cy)
                ax1, ay1 = min(x1, cx + core.shape[1]), min(y1, cy + core.shape[0])
                out[ay0 - y0:ay1 - y0, ax0 - x0:ax1 - x0] = core[ay0 - cy:ay1 - cy, ax0 - cx:ax1 - cx]
        return out


def update_pyramid(grid: pd.DataFrame, cols: int, rows: int, cells, out_dir, previous_site, cell_size: int,
                   tile: int = 128, overlap: int = 1, tile_format: str = "jpg", quality: int = 90,
                   background=(0, 0, 0), iiif_base: str | None = None, jobs: int = 2,
                   previous_cells=None) -> dict | None:
    """Write the pyramid of `grid` into out_dir by reusing a previous build's (a published site: its
    tiles/, layout.csv and thumbs/, or `previous_cells` for the cells: a published arrangement's are the
    site's thumbs/): every tile whose pixels come only from unchanged cells is hard-linked
    from it (the same bytes and modification time, so a sync uploads only what changed), and only the
    others are rendered. Returns mosaic.json's content with a `changed` summary, or None when the previous
    build cannot be reused (missing, or made with other settings): then write_pyramid does the whole.

    A rendered tile above the deepest level is made from the level below's tiles, decoded where they were
    reused: it can differ from a fresh build's by the tiles' JPEG rounding (bench/RESULTS.md).
    """
    previous_site = Path(previous_site)
    old_tiles = previous_site / "tiles"
    settings = pyramid_settings(cols, rows, cell_size, tile, overlap, tile_format, quality, background, iiif_base)
    try:
        old_settings = json.loads((old_tiles / SETTINGS_FILE).read_text())
        previous, previous_cols, previous_rows = read_grid(previous_site / "layout.csv")
    except (OSError, ValueError, PipelineError):
        return None
    if {**old_settings, "cols": cols, "rows": rows} != settings:
        return None
    by_cell = {(int(col), int(row)): key for key, col, row in grid[["id", "col", "row"]].itertuples(index=False)}
    if len(by_cell) != len(grid):
        raise PipelineError("the grid puts two images in the same cell")
    previous_by_cell = {(int(col), int(row)): key for key, col, row in
                        previous[["id", "col", "row"]].itertuples(index=False)}
    cell_paths = cell_files([cells] if isinstance(cells, str | Path) else cells)
    changed = changed_cells(by_cell, cell_paths, cols, rows, previous_by_cell, previous_cols, previous_rows,
                            Path(previous_cells) if previous_cells else previous_site / "thumbs")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    width, height = cols * cell_size, rows * cell_size
    old_width, old_height = previous_cols * cell_size, previous_rows * cell_size
    sink = TileSink(out_dir, width, height, tile, overlap, tile_format, quality, iiif_base is not None, jobs)
    old_top = max(0, math.ceil(math.log2(max(old_width, old_height))))
    empty = np.empty((cell_size, cell_size, 3), np.uint8)
    empty[:] = background
    failures = []

    @functools.lru_cache(maxsize=4096)
    def cell_pixels(col: int, row: int) -> np.ndarray:
        key = by_cell.get((col, row))
        if key is None:
            return empty
        pixels, problem = load_cell(cell_paths.get(key), cell_size)
        if problem is not None:
            failures.append((key, problem))
            return empty
        return pixels

    def full_resolution(x0, y0, x1, y1):
        out = np.empty((y1 - y0, x1 - x0, 3), np.uint8)
        for row in range(y0 // cell_size, math.ceil(y1 / cell_size)):
            for col in range(x0 // cell_size, math.ceil(x1 / cell_size)):
                cx, cy = col * cell_size, row * cell_size
                ax0, ay0, ax1, ay1 = max(x0, cx), max(y0, cy), min(x1, cx + cell_size), min(y1, cy + cell_size)
                out[ay0 - y0:ay1 - y0, ax0 - x0:ax1 - x0] = cell_pixels(col, row)[ay0 - cy:ay1 - cy, ax0 - cx:ax1 - cx]
        return out

    tiles_dir, old_dir = out_dir / f"{DZI_NAME}_files", old_tiles / f"{DZI_NAME}_files"
    finer = None
    rendered, reused, deepest = 0, 0, None
    try:
        for level in range(sink.top, -1, -1):
            scale = 2 ** (sink.top - level)
            level_width, level_height = math.ceil(width / scale), math.ceil(height / scale)
            old_level = level - sink.top + old_top
            touched = _tile_touches(changed, cell_size, width, height, scale, level_width, level_height, tile, overlap)
            if old_level < 0:
                touched[:] = True
            pixels = _LevelPixels(tiles_dir / str(level), level_width, level_height, tile, overlap)
            (tiles_dir / str(level)).mkdir(parents=True, exist_ok=True)
            links = []
            for row, col in zip(*np.nonzero(~touched), strict=True):
                name = f"{col}_{row}.{tile_format}"
                links.append((old_dir / str(old_level) / name, tiles_dir / str(level) / name))
                if iiif_base is not None and sink._iiif_scale(level) is not None:  # from the site's IIIF names
                    x0, y0 = col * tile, row * tile
                    w, h = min(level_width, x0 + tile) - x0, min(level_height, y0 + tile) - y0
                    served = iiif_layout.tile_names(width, height, scale, x0, y0, w, h)[0]
                    links.append((iiif_layout.served_file(old_tiles / "iiif", served, tile_format),
                                  out_dir / "iiif" / iiif_layout.flat_tile(scale, col, row, tile_format)))
            link_files(links)
            reused += int((~touched).sum())
            for row, col in zip(*np.nonzero(touched), strict=True):
                x0, y0 = max(0, col * tile - overlap), max(0, row * tile - overlap)
                x1 = min(level_width, (col + 1) * tile + overlap)
                y1 = min(level_height, (row + 1) * tile + overlap)
                if finer is None:
                    strip = full_resolution(x0, y0, x1, y1)
                else:
                    strip = halve(finer.region(2 * x0, 2 * y0, min(2 * x1, finer.width), min(2 * y1, finer.height),
                                               tile_format))
                sink.tile_row(level, row, strip, y0, level_width, level_height, only=(col,), left=x0)
                core_x, core_y = col * tile - x0, row * tile - y0
                pixels.cores[(col, row)] = strip[core_y:core_y + min(tile, level_height - row * tile),
                                                 core_x:core_x + min(tile, level_width - col * tile)]
            rendered += int(touched.sum())
            if deepest is None:
                deepest = {"tiles": int(touched.size), "changed": int(touched.sum())}
            if max(level_width, level_height) <= whole_image_limit(tile):
                sink.whole_level(level, pixels.region(0, 0, level_width, level_height, tile_format))
            finer = pixels
    finally:
        sink.close()
    _write_descriptions(out_dir, width, height, tile, overlap, tile_format, iiif_base, failures, settings)
    return {"dzi": f"{DZI_NAME}.dzi", "iiif": "iiif/info.json" if iiif_base is not None else None,
            "preview": "preview.jpg", "previewSize": list(sink.preview_size), "width": width, "height": height,
            "cols": cols, "rows": rows,
            "cellSize": cell_size, "tiles": sink.count + reused, "placeholders": len(failures),
            "changed": {"cells": int(changed.sum()), "tilesRendered": rendered, "tilesReused": reused,
                        "deepestLevel": deepest}}


def _write_descriptions(out_dir: Path, width, height, tile, overlap, tile_format, iiif_base, failures, settings):
    """The files beside the tiles: the .dzi, IIIF info.json, tiles_report.csv and build.json."""
    (out_dir / f"{DZI_NAME}.dzi").write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<Image xmlns="http://schemas.microsoft.com/deepzoom/2008" Format="{tile_format}" Overlap="{overlap}" '
        f'TileSize="{tile}">\n  <Size Width="{width}" Height="{height}"/>\n</Image>\n', encoding="utf-8")
    if iiif_base is not None:
        (out_dir / "iiif" / "info.json").write_text(json.dumps(iiif_info(iiif_base, width, height, tile, tile_format),
                                                               indent=1))
    pd.DataFrame(failures, columns=["id", "reason"]).to_csv(out_dir / "tiles_report.csv", index=False)
    (out_dir / SETTINGS_FILE).write_text(json.dumps(settings, indent=1))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--in", "-in", dest="input", required=True, help="grid CSV (id,col,row)")
    parser.add_argument("--cells", "-cells", required=True, nargs="+",
                        help="folder(s) of cells written by the mosaic stage (one per shard)")
    parser.add_argument("--out", "-out", dest="output", required=True,
                        help="folder for mosaic.dzi, mosaic_files/ and iiif/")
    parser.add_argument("--cell-size", "-tile", dest="tile", default="128",
                        help="cell size in pixels (as given to the mosaic stage)")
    parser.add_argument("--tile-size", "-tsize", dest="tsize", type=int, default=128, help="tile size in pixels")
    parser.add_argument("--overlap", "-overlap", type=int, default=1, help="Deep Zoom tile overlap in pixels")
    parser.add_argument("--format", "-format", choices=tuple(SAVE_OPTIONS), default="jpg")
    parser.add_argument("--quality", "-quality", type=int, default=90)
    parser.add_argument("--background", "-background", default="0,0,0", help="R,G,B of empty cells")
    parser.add_argument("--iiif", "-iiif", default=None, metavar="URL",
                        help="also write IIIF level 0 files, to be served at URL (e.g. https://example.org/site/tiles/iiif)")
    parser.add_argument("--jobs", "-jobs", type=int, default=2, help="worker processes reading cells and writing tiles")
    parser.add_argument("--previous", default=None, metavar="SITE",
                        help="a published site (its tiles/, layout.csv, thumbs/) whose tiles of unchanged cells are "
                             "reused as they are")
    parser.add_argument("--previous-cells", default=None, metavar="FOLDER",
                        help="the previous build's cells, when not in --previous's thumbs/ (a published arrangement's)")
    parser.add_argument("--geometry", default=None,
                        help="JSON of the pyramid's geometry for the later stages (default: mosaic.json beside --out)")
    args = parser.parse_args(argv)

    grid, cols, rows = read_grid(args.input)
    size = parse_tile(args.tile)
    print(f"tiles: {cols * size}x{rows * size} mosaic, {args.tsize}px tiles, overlap {args.overlap}"
          + (", IIIF level 0" if args.iiif else ""), file=sys.stderr)
    settings = (size, args.tsize, args.overlap, args.format, args.quality, parse_colour(args.background), args.iiif)
    with atomic_dir(args.output) as temp:
        geometry = update_pyramid(grid, cols, rows, args.cells, temp, args.previous, *settings, args.jobs,
                                  args.previous_cells) if args.previous else None
        if args.previous and geometry is None:
            print(f"tiles: the tiles of {args.previous} were made with other settings (or are incomplete): "
                  "writing every tile", file=sys.stderr)
        if geometry is None:
            geometry = write_pyramid(grid, cols, rows, args.cells, temp, *settings, args.jobs)
    with atomic_path(args.geometry or Path(args.output).with_name("mosaic.json")) as temp:
        temp.write_text(json.dumps(geometry))
    for key, reason in pd.read_csv(Path(args.output) / "tiles_report.csv", dtype=str).itertuples(index=False):
        print(f"tiles: placeholder for cell {key}: {reason}", file=sys.stderr)
    if "changed" in geometry:
        changed = geometry["changed"]
        print(f"tiles: {changed['cells']} cells changed since {args.previous}: {changed['tilesRendered']} tiles "
              f"rendered, {changed['tilesReused']} kept as they were (deepest level: "
              f"{changed['deepestLevel']['changed']} of {changed['deepestLevel']['tiles']} changed)", file=sys.stderr)
    print(f"tiles: wrote {geometry['tiles']} tiles to {args.output}/", file=sys.stderr)


if __name__ == "__main__":
    run_cli(main)
