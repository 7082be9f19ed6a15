"""Stage 4, mosaic: every gridded image fitted to one square cell of the mosaic.

libvips (pyvips) makes each cell with shrink-on-load, honouring EXIF orientation and converting
any colour mode to 8-bit sRGB, then fills the cell by centre-cropping as the original did (or
letterboxes it). A file that fails to decode here gets a plain placeholder cell and a line in
``cells_report.csv``, so the mosaic never stops halfway. Cells are kept in a cache (``--cache``) under
the image's path, size and modification time and the cell settings, and hard-linked from there: a build
that adds pictures to a collection makes only the new pictures' cells, and an unchanged picture's cell is
the same file in every build (the tiles stage recognises it). With ``--shard i/N`` a job makes only the cells
of the images in shard i (fixed by a hash of the id, as for extraction), so a large mosaic spreads over a
cluster; the tiles stage gathers the shards' folders and places the cells.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import sys
from functools import partial
from pathlib import Path

import pandas as pd
from tqdm import tqdm

from common import (
    CELL_FORMAT,
    PipelineError,
    atomic_dir,
    atomic_path,
    link_or_copy,
    parse_colour,
    parse_tile,
    process_pool,
    run_cli,
    settings_folder,
)
from images import ImageFile, find_images, parse_shard, read_all, shard_of
from tables import read_grid


def make_cell(path: str, size: int, fit: str = "crop", background=(0, 0, 0)):
    """Return a size x size 8-bit sRGB pyvips image of the picture at `path`."""
    import pyvips

    image = pyvips.Image.thumbnail(path, size, height=size, crop="centre" if fit == "crop" else "none")
    if image.hasalpha():
        image = image.flatten(background=list(background))
    if image.interpretation not in ("srgb",) or image.bands != 3:
        image = image.colourspace("srgb")
    image = image.cast("uchar") if image.format != "uchar" else image
    if image.width != size or image.height != size:  # letterbox
        image = image.gravity("centre", size, size, extend="background", background=list(background))
    return image


def placeholder_cell(size: int, colour=(128, 128, 128)):
    import pyvips

    return (pyvips.Image.black(size, size, bands=3) + list(colour)).cast("uchar")


class CellCache:
    """Cells on disk, keyed by the picture's path, size and modification time within a folder named by a
    hash of the cell settings (size, fit, background), so that changing a setting starts a fresh folder."""

    def __init__(self, root: str | os.PathLike, settings: dict):
        self.folder = settings_folder(root, settings)

    def path(self, image: ImageFile) -> Path:
        name = f"{os.path.abspath(image.path)}\0{image.size}\0{image.mtime_ns}"
        digest = hashlib.sha256(name.encode("utf-8", "surrogateescape")).hexdigest()
        return self.folder / digest[:2] / f"{digest}{CELL_FORMAT}"


CHUNK = 256  # images a worker process makes per task


def make_cells(images: dict[str, ImageFile | str], out_dir: str | Path, size: int, fit: str = "crop",
               background=(0, 0, 0), threads: int = 2, cache: CellCache | None = None,
               progress: bool = True) -> tuple[list[tuple[str, str, str]], int]:
    """Write out_dir/<id>.jpg for each id -> image, from the cache where it has the cell; return (id, path,
    reason) for the placeholders used (never cached: a fixed file is tried again) and how many came from
    the cache. An image is a row of images.csv, or a path (then its size and time are read here).

    With `threads` above 1 the cells are made by that many worker processes, CHUNK images at a time: libvips
    spends most of a small picture's time (about 5 ms of CPU for a 128 px JPEG) in Python and per-image set-up
    that holds the GIL, so two threads made 1.3 cells for one, where two processes make nearly two.
    """
    items = list(images.items())
    chunks = [items[start:start + CHUNK] for start in range(0, len(items), CHUNK)]
    task = partial(_make_chunk, out_dir=Path(out_dir), size=size, fit=fit, background=tuple(background), cache=cache)
    failures, reused = [], 0
    with tqdm(total=len(items), unit="img", desc="mosaic", disable=not progress, mininterval=1.0,
              file=sys.stderr) as bar:
        # Spawned, not forked: libvips' own threads do not survive a fork.
        pool = process_pool(min(threads, len(chunks)), "spawn") if threads > 1 and len(chunks) > 1 else None
        try:
            for chunk, (chunk_failures, chunk_reused) in zip(chunks, (pool.map if pool else map)(task, chunks),
                                                              strict=True):
                failures += chunk_failures
                reused += chunk_reused
                bar.update(len(chunk))
        finally:
            if pool:
                pool.shutdown(cancel_futures=True)
    return failures, reused


def _make_chunk(items, out_dir: Path, size: int, fit: str, background, cache: CellCache | None):
    """make_cells' work on some of the images, in one process: (failures, how many came from the cache)."""
    import pyvips

    failures, reused = [], 0
    for key, image in items:
        if not isinstance(image, ImageFile):
            status = os.stat(image)
            image = ImageFile(key, image, status.st_size, status.st_mtime_ns)
        target = out_dir / f"{key}{CELL_FORMAT}"
        cached = cache.path(image) if cache is not None else None
        if cached is not None and cached.is_file():
            link_or_copy(cached, target)
            reused += 1
            continue
        try:
            cell = make_cell(image.path, size, fit, background)
            if cached is None:
                cell.write_to_file(str(target), Q=95)
            else:
                cached.parent.mkdir(exist_ok=True)
                with atomic_path(cached, tidy=False) as temp:
                    cell.write_to_file(str(temp), Q=95)
                link_or_copy(cached, target)
        except pyvips.Error as error:
            placeholder_cell(size).write_to_file(str(target), Q=95)
            lines = dict.fromkeys(line.strip() for line in str(error).strip().splitlines())  # libvips repeats some
            failures.append((key, image.path, "; ".join(lines)))
    return failures, reused


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--in", "-in", dest="input", required=True, help="grid CSV (id,col,row): which images to place")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--images", help="image list written by the images stage (images.csv)")
    source.add_argument("--image-glob", "-image", dest="image", help="glob of the collection's images, quoted")
    parser.add_argument("--out", "-out", dest="output", required=True, help="folder of cells to write")
    parser.add_argument("--cell-size", "-tile", dest="tile", default="128",
                        help="cell size in pixels, e.g. 128 or 128x128")
    parser.add_argument("--fit", "-fit", choices=("crop", "letterbox"), default="crop")
    parser.add_argument("--background", "-background", default="0,0,0",
                        help="R,G,B behind letterboxed or transparent images")
    parser.add_argument("--jobs", "-jobs", type=int, default=2)
    parser.add_argument("--cache", default=None, help="folder of cached cells (default: no cache)")
    parser.add_argument("--shard", type=parse_shard, default=(0, 1), metavar="I/N",
                        help="make only the cells of shard I of N (default 0/1: all)")
    args = parser.parse_args(argv)

    grid, _, _ = read_grid(args.input)
    images = {row.id: row for row in read_all(args.images)[0]} if args.images else find_images(args.image)
    missing = [key for key in grid["id"] if key not in images]
    if missing:
        raise PipelineError(f"{len(missing)} gridded id(s) have no image in {args.images or args.image}, "
                            f"e.g. {missing[:3]}")
    size = parse_tile(args.tile)
    background = parse_colour(args.background)
    shard, shards = args.shard
    wanted = {key: images[key] for key in grid["id"] if shard_of(key, shards) == shard}
    cache = CellCache(args.cache, {"size": size, "fit": args.fit, "background": list(background),
                                   "format": CELL_FORMAT}) if args.cache else None
    with atomic_dir(args.output) as temp:
        failures, reused = make_cells(wanted, temp, size, args.fit, background, args.jobs, cache)
        pd.DataFrame(failures, columns=["id", "path", "reason"]).to_csv(Path(temp) / "cells_report.csv", index=False)
    for _key, path, reason in failures:
        print(f"mosaic: placeholder for {path}: {reason}", file=sys.stderr)
    part = f" (shard {shard} of {shards})" if shards > 1 else ""
    print(f"mosaic: wrote {len(wanted)} cells of {size}px to {args.output}{part}"
          + (f", {reused} of them from the cache {args.cache}" if cache else ""), file=sys.stderr)


if __name__ == "__main__":
    run_cli(main)
