"""Tiles stage benchmark: the mosaic's Deep Zoom pyramid written the original's way, by libvips and by ours.

For N thumbnails placed on a grid, each run in its own spawned process, so that its peak memory is
its own (that process's VmHWM, or the polled Pss of it and its worker processes together, whichever
is larger); seconds are the run's own work, without starting the process and importing:
- ``original``: the 2019 scripts' way, rewritten here: the whole mosaic pasted into one Pillow image,
  then a writer like the ``deepzoom`` package's ImageCreator (each level resized from the whole
  image with Lanczos, each tile cropped from it and saved);
- ``libvips``: the stage's previous implementation, pyvips arrayjoin of the cells and dzsave;
- ``ours``: ``scripts/tiles.py``'s ``write_pyramid``, Deep Zoom only (the same outputs as the other
  two), then with the IIIF level 0 files too, then without tile overlap.
All write 128 px tiles, overlap 1 (unless said), JPEG quality 90. For each run: seconds, peak memory,
output size (distinct files, hard links counted once) and tile count. Then the pixels of ours are
compared with the original's and libvips's, tile by tile, at the deepest level and two coarser ones.

Input: the 1,500 thumbnails of ../shared/data/amnh-sample/sample.zip (or, if it is absent,
recoloured crops of scikit-image's photographs), centre-cropped to exactly 128 x 128 and saved at
JPEG quality 95 once, then hard-linked under N ids, so the N cell files share 1,500 files' disk cache.
Nothing is deleted until every run is done. On ext4, for a few minutes after many files are deleted,
creating files costs several times more system time (the inode allocator checks and skips recently
deleted inodes: `recently_deleted` in a kernel profile), which would penalise whichever run followed
a deletion; so run this where nothing large was deleted in the last five minutes.

Grid: 114x116 for 13,000 (the mosaic of 14,592 x 14,848 pixels the stage's figures are quoted for),
else the workflow's near-square auto grid; cells placed by a seeded random permutation.

    python bench/mosaic_tiles.py [--sizes 13000 100000] [--skip-original] [--keep]
"""
from __future__ import annotations

import argparse
import io
import math
import multiprocessing
import os
import queue
import shutil
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image, ImageOps

import tiles
from common import auto_grid_size

ROOT = Path(__file__).resolve().parent.parent


SAMPLE = ROOT.parent / "shared" / "data" / "amnh-sample" / "sample.zip"
CELL = 128
TILE, OVERLAP, QUALITY = 128, 1, 90
GRIDS = {13000: (114, 116)}
ORIGINAL_MAX = 50000  # above this many cells the original's one whole-mosaic image is not attempted
IIIF_BASE = "http://127.0.0.1:8080/tiles/iiif"


def sample_pictures(sample: Path):
    """The sample's thumbnails, or stand-ins: crops of scikit-image's photographs, channels shuffled."""
    if sample.exists():
        with zipfile.ZipFile(sample) as archive:
            for name in sorted(n for n in archive.namelist() if n.endswith(".jpg")):
                yield Image.open(io.BytesIO(archive.read(name)))
        return
    from skimage import data

    photos = [data.astronaut(), data.coffee(), data.chelsea(), data.rocket(), data.immunohistochemistry()]
    rng = np.random.default_rng(0)
    for index in range(1500):
        photo = photos[index % len(photos)]
        side = int(rng.integers(CELL, min(photo.shape[:2]) + 1))
        y, x = (int(rng.integers(0, extent - side + 1)) for extent in photo.shape[:2])
        yield Image.fromarray(np.ascontiguousarray(photo[y:y + side, x:x + side][..., rng.permutation(3)]))


def make_cells(folder: Path, count: int, sample: Path) -> tuple[Path, list[str]]:
    """count cell files <id>.jpg of exactly CELL x CELL, hard links to the fitted pictures; returns (folder, ids)."""
    fitted_dir, cells_dir = folder / "fitted", folder / "cells"
    fitted_dir.mkdir()
    cells_dir.mkdir()
    fitted = []
    for index, picture in enumerate(sample_pictures(sample)):
        path = fitted_dir / f"{index:04d}.jpg"
        ImageOps.fit(picture.convert("RGB"), (CELL, CELL), Image.LANCZOS).save(path, quality=95)
        fitted.append(path)
    ids = [f"c{index:06d}" for index in range(count)]
    for index, key in enumerate(ids):
        os.link(fitted[index % len(fitted)], cells_dir / f"{key}.jpg")
    return cells_dir, ids


def place(ids: list[str], cols: int, rows: int, seed: int = 0) -> pd.DataFrame:
    """One image per cell in a seeded random order: neighbouring cells are unrelated, as in any layout's tiles."""
    cells = np.random.default_rng(seed).permutation(cols * rows)[:len(ids)]
    return pd.DataFrame({"id": ids, "col": cells % cols, "row": cells // cols})


def write_dzi_descriptor(out: Path, width: int, height: int, overlap: int) -> None:
    """The .dzi that the deepzoom package writes beside its tiles."""
    (out / "mosaic.dzi").write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<Image TileSize="{TILE}" Overlap="{overlap}" Format="jpg" xmlns="http://schemas.microsoft.com/deepzoom/2008">'
        f'<Size Width="{width}" Height="{height}"/></Image>\n')


def run_original(grid: pd.DataFrame, cols: int, rows: int, cells_dir: Path, out: Path) -> None:
    """The 2019 way: one Pillow image of the whole mosaic, then the deepzoom package's ImageCreator loop.

    Levels 0 (one pixel) up to full size, as the package orders them; each level is resized from the
    whole image with Lanczos (the old ANTIALIAS), each tile cropped from the level and saved.
    """
    mosaic = Image.new("RGB", (cols * CELL, rows * CELL))
    for key, col, row in grid[["id", "col", "row"]].itertuples(index=False):
        with Image.open(cells_dir / f"{key}.jpg") as cell:
            mosaic.paste(cell, (int(col) * CELL, int(row) * CELL))
    width, height = mosaic.size
    deepest = math.ceil(math.log2(max(width, height)))
    for level in range(deepest + 1):
        scale = 0.5 ** (deepest - level)
        size = (math.ceil(width * scale), math.ceil(height * scale))
        image = mosaic if size == mosaic.size else mosaic.resize(size, Image.LANCZOS)
        folder = out / "mosaic_files" / str(level)
        folder.mkdir(parents=True)
        tile_cols, tile_rows = math.ceil(size[0] / TILE), math.ceil(size[1] / TILE)
        for col in range(tile_cols):
            for row in range(tile_rows):
                x, y = col * TILE - (OVERLAP if col else 0), row * TILE - (OVERLAP if row else 0)
                w = min(TILE + OVERLAP * (col > 0) + OVERLAP * (col < tile_cols - 1), size[0] - x)
                h = min(TILE + OVERLAP * (row > 0) + OVERLAP * (row < tile_rows - 1), size[1] - y)
                image.crop((x, y, x + w, y + h)).save(folder / f"{col}_{row}.jpg", "JPEG", quality=QUALITY)
        del image
    write_dzi_descriptor(out, width, height, OVERLAP)


def run_libvips(grid: pd.DataFrame, cols: int, rows: int, cells_dir: Path, out: Path) -> None:
    """The stage before ours: a lazy arrayjoin of the cell files (black where empty), streamed by dzsave."""
    import pyvips

    by_cell = {(int(col), int(row)): key for key, col, row in grid[["id", "col", "row"]].itertuples(index=False)}
    empty = pyvips.Image.black(CELL, CELL, bands=3).cast("uchar")
    pieces = [pyvips.Image.new_from_file(str(cells_dir / f"{by_cell[(col, row)]}.jpg"), access="sequential")
              if (col, row) in by_cell else empty for row in range(rows) for col in range(cols)]
    pyvips.Image.arrayjoin(pieces, across=cols).dzsave(
        str(out / "mosaic"), tile_size=TILE, overlap=OVERLAP, suffix=f".jpg[Q={QUALITY}]", layout="dz",
        depth="onepixel")


def run_ours(grid: pd.DataFrame, cols: int, rows: int, cells_dir: Path, out: Path, overlap: int,
             iiif_base: str | None, jobs: int) -> None:
    """The stage as the workflow runs it, less the CLI (which only adds mosaic.json)."""
    tiles.write_pyramid(grid, cols, rows, cells_dir, out, CELL, TILE, overlap, "jpg", QUALITY,
                        iiif_base=iiif_base, jobs=jobs, progress=False)


def idle() -> None:
    """Nothing: the memory of a child that has only imported this module."""


def _peak_rss_mb() -> float:
    """This process's own high-water resident memory (VmHWM), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _descendants(pid: int) -> list[int]:
    """pid and every process below it (ours forks worker processes)."""
    found, waiting = [], [pid]
    while waiting:
        current = waiting.pop()
        found.append(current)
        for task in Path(f"/proc/{current}/task").iterdir():
            waiting += [int(child) for child in (task / "children").read_text().split()]
    return found


def _tree_pss_mb(pid: int) -> float:
    """Proportional resident memory (Pss) of a process and its workers together, in MB.

    Pss splits each page shared between processes (forked workers share their parent's) among them,
    so the sum is the memory the run as a whole holds; for one process it is about its resident size.
    """
    total = 0
    for member in _descendants(pid):
        try:
            for line in Path(f"/proc/{member}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total / 1024


def _child(results, function, args):
    started = time.perf_counter()
    function(*args)
    results.put((time.perf_counter() - started, _peak_rss_mb()))


class Stopped(Exception):
    """A run that failed or was stopped for using too much memory."""


def timed(limit_mb: float, function, *args) -> tuple[float, float]:
    """Run function(*args) in a fresh spawned process; return (seconds, peak memory in MB).

    Peak memory: the larger of the child's own high-water resident size (VmHWM) and the highest
    Pss of the child and its worker processes together, polled every 0.1 s. The child is killed if
    that passes limit_mb, so that a run too big for the machine is reported instead of taking the
    machine down.
    """
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    process = context.Process(target=_child, args=(results, function, args))
    process.start()
    resident = 0.0
    while True:
        try:
            outcome = results.get(timeout=0.1)
            break
        except queue.Empty:
            if not process.is_alive():
                raise Stopped(f"failed (exit code {process.exitcode})") from None
            try:
                resident = max(resident, _tree_pss_mb(process.pid))
            except (FileNotFoundError, ProcessLookupError):
                continue
            if resident > limit_mb:
                process.kill()
                process.join()
                raise Stopped(f"stopped at {resident:.0f} MB resident (limit {limit_mb:.0f} MB)") from None
    process.join()
    seconds, own_peak = outcome
    return seconds, max(own_peak, resident)


def output_figures(out: Path) -> tuple[float, int, int]:
    """(MB on disk, Deep Zoom tiles, other IIIF image files), every file counted once however many links it has."""
    seen, total, deep_zoom, iiif = set(), 0, 0, 0
    for folder, _, names in os.walk(out):
        for name in names:
            stat = os.stat(os.path.join(folder, name))
            if (stat.st_dev, stat.st_ino) in seen:
                continue
            seen.add((stat.st_dev, stat.st_ino))
            total += stat.st_size
            if name.endswith(".jpg") and "mosaic_files" in folder:
                deep_zoom += 1
            elif name.endswith(".jpg") and "iiif" in folder:
                iiif += 1
    return total / 1e6, deep_zoom, iiif


def tile_sizes(out: Path) -> dict[int, dict[str, tuple[int, int]]]:
    """Each Deep Zoom level's tile names and pixel sizes (read from the headers only)."""
    levels = {}
    for folder in (out / "mosaic_files").iterdir():
        if folder.is_dir():
            levels[int(folder.name)] = {}
            for path in folder.glob("*.jpg"):
                with Image.open(path) as image:
                    levels[int(folder.name)][path.name] = image.size
    return levels


def compare(first: Path, second: Path, steps=(0, 3, 6)) -> list[str]:
    """Markdown rows: per level, whether the tile names and sizes agree, and PSNR and mean |difference|."""
    a, b = tile_sizes(first), tile_sizes(second)
    deepest = max(b)
    same_names = a.keys() == b.keys() and all(a[level].keys() == b[level].keys() for level in b)
    same_sizes = same_names and a == b
    rows = [f"| all {len(b)} levels | {sum(map(len, a.values()))} vs {sum(map(len, b.values()))} | "
            f"{'yes' if same_names else 'NO'} | {'yes' if same_sizes else 'NO'} | | |"]
    for level in (deepest - step for step in steps if deepest - step in a and deepest - step in b):
        common = sorted(a[level].keys() & b[level].keys())
        squared = absolute = values = 0
        for name in common:
            if a[level][name] != b[level][name]:
                continue
            with Image.open(first / "mosaic_files" / str(level) / name) as one, \
                    Image.open(second / "mosaic_files" / str(level) / name) as other:
                difference = np.asarray(one.convert("RGB"), np.int32) - np.asarray(other.convert("RGB"), np.int32)
            squared += int((difference ** 2).sum())
            absolute += int(np.abs(difference).sum())
            values += difference.size
        psnr = 10 * math.log10(255 ** 2 * values / squared) if squared else float("inf")
        names_agree = a[level].keys() == b[level].keys()
        sizes_agree = names_agree and a[level] == b[level]
        rows.append(f"| {level} (deepest{'-' + str(deepest - level) if level != deepest else ''}) | "
                    f"{len(a[level])} vs {len(b[level])} | {'yes' if names_agree else 'NO'} | "
                    f"{'yes' if sizes_agree else 'NO'} | {psnr:.1f} | {absolute / max(values, 1):.2f} |")
    return rows


def benchmark(count: int, args, work: Path) -> None:
    cols, rows = GRIDS.get(count) or auto_grid_size(count)
    folder = Path(tempfile.mkdtemp(prefix=f"cells-{count}-", dir=work))
    cells_dir, ids = make_cells(folder, count, args.sample)
    grid = place(ids, cols, rows)
    source = ("1,500 sample thumbnails" if args.sample.exists()
              else f"1,500 generated pictures ({args.sample} not found)")
    print(f"\n### {count:,} thumbnails ({source}, hard-linked), grid {cols}x{rows}, "
          f"mosaic {cols * CELL:,} x {rows * CELL:,} px\n")
    _, baseline = timed(args.memory_limit, idle)
    runs = []
    if args.skip_original:
        print("original: skipped (--skip-original)")
    elif count > ORIGINAL_MAX:
        print(f"original: skipped above {ORIGINAL_MAX:,} images: its whole mosaic alone would be one "
              f"{cols * CELL * rows * CELL * 4 / 1e9:.1f} GB Pillow image (4 bytes a pixel), before any resizing")
    else:
        runs.append(("original (Pillow whole image + deepzoom-style writer)", "original", run_original, ()))
    if not args.skip_libvips:
        runs.append(("libvips (arrayjoin + dzsave)", "libvips", run_libvips, ()))
    runs += [(f"ours (write_pyramid, {args.jobs} worker processes, Deep Zoom)", "ours", run_ours,
              (OVERLAP, None, args.jobs)),
             ("ours + IIIF level 0", "ours-iiif", run_ours, (OVERLAP, IIIF_BASE, args.jobs)),
             ("ours, overlap 0", "ours-overlap0", run_ours, (0, None, args.jobs))]
    table, outputs, original = [], {}, None
    for label, name, function, extra in runs:
        out = folder / name
        out.mkdir()
        os.sync()  # the previous run's files reach the disk before this run starts
        try:
            seconds, peak = timed(args.memory_limit, function, grid, cols, rows, cells_dir, out, *extra)
        except Stopped as reason:
            table.append(f"| {label} | {reason} | | | | | |")
            continue
        megabytes, deep_zoom, iiif = output_figures(out)
        if name == "original":
            original = (seconds, peak)
        versus = (f"| {original[0] / seconds:.2f}x | {peak / original[1]:.1%} |" if original
                  else "| | |")
        table.append(f"| {label} | {seconds:.1f} | {peak:.0f} | {megabytes:.0f} | "
                     f"{deep_zoom}{f' + {iiif} IIIF' if iiif else ''} {versus}")
        print(f"  {label}: {seconds:.1f} s, {peak:.0f} MB", file=sys.stderr, flush=True)
        outputs[name] = out
    print("| run | seconds | peak memory MB | output MB | tiles | vs original (time) | memory vs original |\n"
          "|---|---|---|---|---|---|---|")
    print("\n".join(table))
    print(f"\nvs original (time): the original's seconds over the run's (above 1: faster). A child process that "
          f"only imports this script peaks at {baseline:.0f} MB; every figure includes it.")
    for other in ("original", "libvips"):
        if other in outputs and "ours" in outputs:
            print(f"\nPixels, {other} against ours (Deep Zoom, overlap {OVERLAP}; tiles both wrote):\n\n"
                  "| level | tiles | same names | same pixel sizes | PSNR dB | mean abs difference (0-255) |\n"
                  "|---|---|---|---|---|---|")
            print("\n".join(compare(outputs[other], outputs["ours"])), flush=True)
    if args.keep:
        print(f"\nkept in {folder}")
    else:
        shutil.rmtree(folder)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[13000])
    parser.add_argument("--skip-original", action="store_true",
                        help=f"do not run the original (never run above {ORIGINAL_MAX:,} images)")
    parser.add_argument("--skip-libvips", action="store_true")
    parser.add_argument("--jobs", type=int, default=2, help="worker processes of ours")
    parser.add_argument("--memory-limit", type=float, default=16000, help="MB resident at which a run is stopped")
    parser.add_argument("--sample", type=Path, default=SAMPLE, help="zip of thumbnails (generated pictures if absent)")
    parser.add_argument("--keep", action="store_true", help="keep the cells and every run's output")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-tiles-"))
    try:
        for count in args.sizes:
            benchmark(count, args, work)
    finally:
        if not args.keep:
            shutil.rmtree(work)


if __name__ == "__main__":
    main()
