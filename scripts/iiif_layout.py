"""The file names of a static IIIF Image API level 0 service, and the folder that serves them.

A level 0 service is a folder of files named as a client asks for them: every tile under
``<x,y,w,h>/<w,h>/0/default.<format>``, again under the ``w,`` size that Image API 2 clients ask for, and
the whole image at small sizes under ``full/``. That is about five folders per tile (670,000 at 100,000
images), and making or deleting a folder costs this kind of file system 80-260 microseconds. So the
tiles stage writes each IIIF file once in a flat store, a few folders in all (``<scale>/<col>_<row>.<format>``
per scale factor and ``full/<w>,<h>.<format>``, beside ``info.json``), and only the site lays the store
out under the served names (`lay_out`), updating the folders of the site it replaced in place.

Standard library only: the site stage imports it.
"""
from __future__ import annotations

import json
import math
import os
import shutil
from concurrent.futures import ThreadPoolExecutor

from common import link_or_copy, replace_files

INFO = "info.json"
SIZES = "full"  # the flat store's folder of whole-image sizes (the other folders are scale factors)
LAYOUT_THREADS = 8  # region folders made at once when the served folder is new


def scale_factors(width: int, height: int, tile: int) -> list[int]:
    """Powers of two from full resolution down to the first level that fits in one tile."""
    factors = [1]
    while math.ceil(width / factors[-1]) > tile or math.ceil(height / factors[-1]) > tile:
        factors.append(factors[-1] * 2)
    return factors


def tile_names(width: int, height: int, scale: int, x: int, y: int, w: int, h: int) -> list[str]:
    """Every `<region>/<size>` under which a client may request a tile at `scale` whose level pixels start
    at x, y and measure w x h: its x,y,w,h region (and `full` for a tile that is the whole image), its
    w,h and w, sizes (and `max` at full size)."""
    region_w, region_h = min(w * scale, width - x * scale), min(h * scale, height - y * scale)
    regions = [f"{x * scale},{y * scale},{region_w},{region_h}"]
    if x == 0 and y == 0 and region_w == width and region_h == height:
        regions.append("full")
    return [f"{region}/{size}" for region in regions for size in _sizes(width, height, w, h)]


def size_names(width: int, height: int, w: int, h: int, largest: bool = False) -> list[str]:
    """Every `full/<size>` under which a client may request the whole image at w x h; `max` too for the
    largest whole image written (info.json's maxWidth and maxHeight say so where it is not full size:
    level 0 must answer `max`)."""
    return [f"full/{size}" for size in _sizes(width, height, w, h)] + (["full/max"] if largest else [])


def _sizes(width, height, w, h):
    return [f"{w},{h}", f"{w},"] + (["max"] if (w, h) == (width, height) else [])


def served_file(root, name: str, fmt: str) -> str:
    """The path of a served name (from tile_names or size_names) under the folder root."""
    return os.path.join(root, name, "0", f"default.{fmt}")


def flat_tile(scale: int, col: int, row: int, fmt: str) -> str:
    """Where the flat store keeps the tile (col, row) of a scale factor."""
    return f"{scale}/{col}_{row}.{fmt}"


def flat_size(w: int, h: int, fmt: str) -> str:
    """Where the flat store keeps the whole image at w x h."""
    return f"{SIZES}/{w},{h}.{fmt}"


def served_names(store) -> dict[str, dict[str, str]]:
    """{region: {size: file of the store}} for every file the flat store holds (its info.json says the
    image's size and tile size)."""
    info = json.loads(open(os.path.join(store, INFO), encoding="utf-8").read())
    width, height, tile = info["width"], info["height"], info["tiles"][0]["width"]
    layout: dict[str, dict[str, str]] = {}

    def add(names, path):
        for name in names:
            region, size = name.split("/")
            layout.setdefault(region, {})[size] = path

    largest = (info.get("maxWidth"), info.get("maxHeight"))
    with os.scandir(store) as folders:
        for folder in folders:
            if not folder.is_dir(follow_symlinks=False):
                continue
            with os.scandir(folder.path) as entries:
                for entry in entries:
                    stem = entry.name.rsplit(".", 1)[0]
                    if folder.name == SIZES:
                        w, h = (int(v) for v in stem.split(","))
                        add(size_names(width, height, w, h, largest=(w, h) == largest), entry.path)
                        continue
                    scale = int(folder.name)
                    col, row = (int(v) for v in stem.split("_"))
                    level_w, level_h = math.ceil(width / scale), math.ceil(height / scale)
                    x, y = col * tile, row * tile
                    add(tile_names(width, height, scale, x, y, min(tile, level_w - x), min(tile, level_h - y)),
                        entry.path)
    return layout


def _remove(path: str) -> None:
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    else:
        os.unlink(path)


def _same_file(path: str, source: os.stat_result) -> bool:
    try:
        status = os.lstat(path)
    except FileNotFoundError:
        return False
    return (status.st_ino, status.st_dev) == (source.st_ino, source.st_dev)


def lay_out(store, target, threads: int | None = None) -> tuple[int, int]:
    """Make the folder `target` serve the flat store under the IIIF names, every file a hard link to the
    store's (a copy across devices). A target that exists (the site's standby) is brought up to date in
    place: names that are the store's file already are left alone, others linked anew, the rest removed.
    A new target is made by LAYOUT_THREADS threads, an existing one by one (which was quickest here when
    few files change: threads contend in the kernel). Returns (names linked anew, files served: the names
    and info.json)."""
    store, target = os.fspath(store), os.fspath(target)
    layout = served_names(store)
    fmt = json.loads(open(os.path.join(store, INFO), encoding="utf-8").read()).get("preferredFormats", ["jpg"])[0]
    leaf = f"default.{fmt}"
    if threads is None:
        threads = 1 if os.path.isdir(target) else LAYOUT_THREADS
    os.makedirs(target, exist_ok=True)
    with os.scandir(target) as entries:
        for entry in entries:
            if entry.name not in layout and entry.name != INFO:
                _remove(entry.path)
    info = os.path.join(target, INFO)
    if not _same_file(info, os.stat(os.path.join(store, INFO))):
        if os.path.lexists(info):
            _remove(info)
        link_or_copy(os.path.join(store, INFO), info)

    def region(item) -> int:
        name, sizes = item
        folder = os.path.join(target, name)
        try:
            os.mkdir(folder)
            existing = set()
        except FileExistsError:
            existing = set(os.listdir(folder))
        for stale in existing - set(sizes):
            _remove(os.path.join(folder, stale))
        linked = 0
        sources = {}
        for size, source in sizes.items():
            rotation = os.path.join(folder, size, "0")
            if size in existing:
                if source not in sources:
                    sources[source] = os.stat(source)
                # The store's file there already: left alone (one lstat, where listing each folder cost a
                # site update at 13,000 images about 2 s).
                target_file = os.path.join(rotation, leaf)
                if _same_file(target_file, sources[source]):
                    continue
                if os.path.isdir(rotation) and not os.path.islink(rotation):  # another file: relinked in place
                    relinked.append((source, target_file))
                    continue
                _remove(os.path.join(folder, size))
            os.makedirs(rotation)
            link_or_copy(source, os.path.join(rotation, leaf))
            linked += 1
        return linked

    relinked = []  # (store file, served name) where the folders are there but hold another file
    served = 1 + sum(len(sizes) for sizes in layout.values())
    if threads <= 1:
        linked = sum(map(region, layout.items()))
    else:
        with ThreadPoolExecutor(max_workers=threads) as pool:
            linked = sum(pool.map(region, layout.items(), chunksize=256))
    return linked + replace_files(relinked), served
