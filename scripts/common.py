"""Helpers shared by every stage: image ids, grid sizes, tables keyed by id, atomic writes.

Each stage script imports these instead of re-implementing them, so that ids, grid sizes
and file handling mean the same thing everywhere in the pipeline.
"""
from __future__ import annotations

import collections
import contextlib
import glob
import json
import math
import os
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

CELL_FORMAT = ".jpg"  # file type of the mosaic cells, which the site also serves as thumbnails


class PipelineError(Exception):
    """An error in the user's input that the CLI reports as one clear line, without a traceback."""


def image_id(path: str | os.PathLike) -> str:
    """The id of an image is its file name without extension, kept as a string (ids like 007 or K9045)."""
    return Path(path).stem


def find_images(pattern: str) -> dict[str, str]:
    """Map id -> path for the files matching a glob, sorted by id.

    Two files with the same id (photo.jpg and photo.png) would make every later join ambiguous,
    so they are an error naming both files.
    """
    paths = sorted(p for p in glob.glob(pattern, recursive=True) if os.path.isfile(p))
    by_id: dict[str, str] = {}
    for path in paths:
        key = image_id(path)
        if key in by_id:
            raise PipelineError(
                f"two images have the same id {key!r}: {by_id[key]} and {path}; "
                "rename one of them (the id is the file name without extension)"
            )
        by_id[key] = path
    return dict(sorted(by_id.items()))


def parse_grid_size(text: str) -> tuple[int, int]:
    """Parse 'COLSxROWS' (the original's -grid/-gsize format) into (cols, rows)."""
    try:
        cols, rows = (int(part) for part in str(text).lower().split("x"))
    except ValueError:
        raise PipelineError(f"grid size {text!r} is not of the form COLSxROWS, e.g. 114x116") from None
    if cols <= 0 or rows <= 0:
        raise PipelineError(f"grid size {text!r} must have positive columns and rows")
    return cols, rows


def parse_tile(text: str) -> int:
    """Accept the original's '128x128' or a plain '128'; cells are square."""
    parts = {int(part) for part in str(text).lower().split("x") if part}
    if len(parts) != 1 or min(parts) <= 0:
        raise PipelineError(f"tile size {text!r} must be a positive size such as 128 or 128x128")
    return parts.pop()


def parse_colour(text: str) -> tuple[int, int, int]:
    """Parse 'R,G,B' (0-255 each), the form the Snakefile passes colours in."""
    try:
        colour = tuple(int(part) for part in str(text).split(","))
    except ValueError:
        colour = ()
    if len(colour) != 3 or not all(0 <= part <= 255 for part in colour):
        raise PipelineError(f"colour {text!r} must be three numbers 0-255 like 0,0,0")
    return colour


def auto_grid_size(count: int, aspect: float = 1.0) -> tuple[int, int]:
    """The smallest grid of about `aspect` (columns / rows; 1 is square) that holds `count` images."""
    if count <= 0:
        raise PipelineError("cannot size a grid for zero images")
    rows = max(1, round(math.sqrt(count / aspect)))
    return math.ceil(count / rows), rows


def resolve_grid_size(text: str, count: int, aspect: float = 1.0) -> tuple[int, int]:
    """Grid size from config ('auto' or 'COLSxROWS'), checked against the number of images."""
    if str(text).strip().lower() == "auto":
        return auto_grid_size(count, aspect)
    cols, rows = parse_grid_size(text)
    if cols * rows < count:
        min_cols, min_rows = auto_grid_size(count)
        raise PipelineError(
            f"grid {cols}x{rows} has {cols * rows} cells but there are {count} images; "
            f"use at least {count} cells, e.g. {min_cols}x{min_rows}, or grid size 'auto'"
        )
    return cols, rows


def load_features(path):
    """Read a features file (written by the features stage) as (ids, vectors, description)."""
    try:
        with np.load(path, allow_pickle=False) as data:
            return [str(key) for key in data["ids"]], data["features"], json.loads(str(data["description"]))
    except FileNotFoundError:
        raise PipelineError(f"features file not found: {path}") from None
    except (KeyError, ValueError, OSError) as error:
        raise PipelineError(f"{path} is not a features file written by the features stage ({error})") from None


def nearest_neighbours(points: np.ndarray, queries: np.ndarray, k: int, ordered: bool = False) -> np.ndarray:
    """Indices of the k nearest points (Euclidean, the query itself excluded) of each query index.

    Distances come in blocks of 256 queries by |a|^2 + |b|^2 - 2ab, so memory stays at 256 x N.
    With `ordered` each row runs from the nearest out; otherwise the k are in no particular order.
    """
    points = np.asarray(points, dtype=np.float64)
    k = min(k, len(points) - 1)
    squares = (points ** 2).sum(axis=1)
    found = []
    for start in range(0, len(queries), 256):
        chunk = queries[start:start + 256]
        distances = squares[chunk, None] + squares[None, :] - 2 * points[chunk] @ points.T
        distances[np.arange(len(chunk)), chunk] = np.inf
        nearest = np.argpartition(distances, k, axis=1)[:, :k]
        if ordered:
            order = np.argsort(np.take_along_axis(distances, nearest, axis=1), axis=1, kind="stable")
            nearest = np.take_along_axis(nearest, order, axis=1)
        found.append(nearest)
    return np.concatenate(found) if found else np.zeros((0, max(k, 0)), dtype=int)


def read_embedding(path) -> pd.DataFrame:
    """Read an embedding file (id,x,y) with ids kept as text."""
    return pd.read_csv(path, dtype={"id": str}, keep_default_na=False)


def read_table(path: str | os.PathLike, required: list[str]) -> pd.DataFrame:
    """Read a CSV whose `id` column (and every other column) stays text, checking required columns."""
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
    except FileNotFoundError:
        raise PipelineError(f"file not found: {path}") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise PipelineError(f"cannot read {path} as CSV: {error}") from None
    missing = [column for column in required if column not in table.columns]
    if missing:
        raise PipelineError(f"{path} lacks column(s) {', '.join(missing)}; it has {', '.join(table.columns)}")
    return table


def read_grid(path: str | os.PathLike) -> tuple[pd.DataFrame, int, int]:
    """Read a grid file (id,col,row with a '# grid COLSxROWS' header line) into a table and its size."""
    with open(path, encoding="utf-8") as handle:
        first = handle.readline().strip()
    if not first.startswith("# grid "):
        raise PipelineError(f"{path} is not a grid file (its first line should be '# grid COLSxROWS')")
    cols, rows = parse_grid_size(first.removeprefix("# grid "))
    table = pd.read_csv(path, comment="#", dtype={"id": str, "col": int, "row": int}, keep_default_na=False)
    return table, cols, rows


def in_cell_order(grid: pd.DataFrame, cols: int) -> pd.DataFrame:
    """The grid's rows in cell order (row by row), the order of the viewer's arrays."""
    return grid.assign(cell=grid["row"] * cols + grid["col"]).sort_values("cell")


@contextlib.contextmanager
def atomic_path(final: str | os.PathLike):
    """Yield a temporary path next to `final`, renamed onto it only if the block succeeds.

    A crash halfway through never leaves a partial output that a rerun would mistake for a
    finished one, and an existing output is only replaced by a complete new one.
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    suffix = "".join(final.suffixes)
    handle, temp_name = tempfile.mkstemp(prefix=f".{final.stem}-", suffix=suffix, dir=final.parent)
    os.close(handle)
    temp = Path(temp_name)
    try:
        yield temp
        os.replace(temp, final)
    finally:
        if temp.exists():
            temp.unlink()


@contextlib.contextmanager
def atomic_dir(final: str | os.PathLike):
    """Like atomic_path for a folder: build it under a temporary name, then swap it in whole."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    temp = Path(tempfile.mkdtemp(prefix=f".{final.name}-", dir=final.parent))
    try:
        yield temp
        if final.exists():
            shutil.rmtree(final)
        os.replace(temp, final)
    finally:
        if temp.exists():
            shutil.rmtree(temp)


def link_or_copy(source: str | os.PathLike, target: str | os.PathLike) -> None:
    """A hard link where the file system allows (no extra disk space), else a copy."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def in_order(pool, function, items, ahead: int):
    """function(item) for each item on a concurrent.futures pool, yielded in the items' order, with at
    most `ahead` results computed or in progress beyond the one being consumed (a bound on memory)."""
    window: collections.deque = collections.deque()
    for item in items:
        window.append(pool.submit(function, item))
        if len(window) >= ahead:
            yield window.popleft().result()
    while window:
        yield window.popleft().result()


def run_cli(main) -> None:
    """Run a stage's main(); user errors become one 'error:' line and exit status 1."""
    try:
        main()
    except PipelineError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(1)
