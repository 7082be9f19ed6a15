"""Helpers shared by every stage: user errors, grid sizes, atomic writes, the CLI wrapper.

Each stage script imports these instead of re-implementing them, so that grid sizes and file
handling mean the same thing everywhere in the pipeline. The Snakefile imports this module too,
so it uses the standard library only; readers of the stages' data files are in tables.py.
"""
from __future__ import annotations

import collections
import contextlib
import json
import math
import os
import shutil
import sys
import tempfile
from pathlib import Path

CELL_FORMAT = ".jpg"  # file type of the mosaic cells, which the site also serves as thumbnails


class PipelineError(Exception):
    """An error in the user's input that the CLI reports as one clear line, without a traceback."""


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


def read_geometry(path: str | os.PathLike) -> dict:
    """The pyramid's geometry as the tiles stage wrote it (mosaic.json): sizes, cells, tiles, where the DZI
    and IIIF files lie."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PipelineError(f"{path} not found: it is written by the tiles stage") from None


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
