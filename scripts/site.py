"""Stage 7, site: the viewer, the tiles, the cell thumbnails and the JSON as one static folder.

Any web server can host the result (``npm start`` in viewer/ serves it locally). Files are
hard-linked from the earlier stages' outputs where the file system allows, so the site costs
almost no extra disk space. The viewer is bundled from viewer/ by its own build script (Node.js).

The viewer's data files are written by site_data.py (chunked, so that a million items stay light).

Publishing never takes a good site away: the new site is built beside the old one, which stays in
place and servable until the new one is complete and takes its name in one step. The site it replaces
is kept as the standby (``.site.standby`` beside it) and becomes the next build's starting point:
updating its tens of thousands of tile folders in place costs far less than making them anew and
deleting the old ones. After a fresh layout (every tile new) the standby is brought up to date right after
publishing, so the next build starts from a current copy. The folder is not
a Snakemake output (Snakemake deletes a job's outputs before it runs); the rule's output is a small
receipt written after the switch. Then the published layout is also copied beside the results
(``published_layout.csv``): the layout a stable build keeps (see the layout section of config.yaml).
"""
from __future__ import annotations

import argparse
import csv
import filecmp
import hashlib
import json
import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

from common import (
    FOLDER_MODE,
    PipelineError,
    atomic_path,
    cell_files,
    exchange_folders,
    link_or_copy,
    read_geometry,
    remove_leftovers,
    replace_files,
    run_cli,
)
from iiif_layout import lay_out
from site_data import CHUNK_SIZE, write_arrangement_cells, write_facets, write_hotspots, write_site_data
from tables import read_grid


def build_viewer(viewer_dir: str | Path, out_dir: str | Path) -> None:
    """Run the viewer's build script, which writes index.html and assets/ into out_dir."""
    viewer_dir = Path(viewer_dir)
    if not (viewer_dir / "node_modules").is_dir():
        raise PipelineError(f"the viewer's packages are not installed: "
                            f"run `npm ci --prefix {viewer_dir}` (or `make setup`)")
    if shutil.which("node") is None:
        raise PipelineError("Node.js (node) is needed to build the viewer; install Node.js 20 or newer")
    result = subprocess.run(["node", str(viewer_dir / "build.mjs"), "--out", str(Path(out_dir).resolve())],
                            capture_output=True, text=True)
    if result.returncode != 0:
        raise PipelineError(f"viewer build failed:\n{result.stdout}{result.stderr}")


def collection_json(mosaic: dict, name: str, title: str, description: str, about: list[str]) -> dict:
    """The viewer's description of this collection: texts, grid geometry (`mosaic`, the tiles stage's
    mosaic.json) and where the data lies."""
    return {
        "name": name,
        "title": title,
        "description": description,
        "about": about,
        "grid": {"cols": mosaic["cols"], "rows": mosaic["rows"],
                 "cellWidth": mosaic["cellSize"], "cellHeight": mosaic["cellSize"]},
        "tiles": {"dzi": f"tiles/{mosaic['dzi']}", "width": mosaic["width"], "height": mosaic["height"]},
    }


LINK_THREADS = 8  # folders mirrored at once by mirror_tree
WHOLE_FROM_DEPTH = 2  # mirror_tree: a folder this deep is mirrored with all it holds by one task


def _remove(entry: os.DirEntry) -> None:
    if entry.is_dir(follow_symlinks=False):
        shutil.rmtree(entry.path)
    else:
        os.unlink(entry.path)


def mirror_tree(source, target, threads: int | None = None, skip: tuple[str, ...] = ()) -> None:
    """Make target hold every file of the tiles folder as a hard link, leaving out reports (*.csv) and
    Snakemake's marks; a target that exists already (the standby site, see main) is brought up to date:
    files that are the source's already (same inode) are left alone, others linked anew, the rest removed.
    Top-level names in `skip` are neither mirrored nor removed (the IIIF store, which lay_out serves).

    The IIIF layout has about seven folders per tile (670,000 at 100,000 images), and making or removing
    a folder costs this VM's file system 80-260 microseconds, so a site updated in place is far cheaper
    than one made afresh (and the old one deleted). A new tree is made by several threads (LINK_THREADS,
    unless `threads` says): the top two levels one by one, then each folder two levels down (an IIIF region, a
    Deep Zoom level) as one task; an existing one is brought up to date by one thread, which was quickest
    here (13,000 images, nothing changed: 6.5 s with one, 9.3 s with two, 14.6 s with eight), and the
    files it finds changed are then replaced by replace_files (on threads when there are many: the site
    replaced by a fresh build, whose every file changed)."""
    source, target = os.fspath(source), os.fspath(target)
    if threads is None:
        threads = 1 if os.path.isdir(target) else LINK_THREADS
    os.makedirs(target, exist_ok=True)
    same_device = os.stat(source).st_dev == os.stat(target).st_dev  # else inodes say nothing: copy anew
    replaced = []  # (source or None, target) of what the target holds that is not the source's: done at the end

    def mirror(relative: str, whole: bool) -> list[str]:
        """Bring one folder up to date; its subfolders too when `whole`, else return them."""
        there = os.path.join(target, relative)
        try:
            os.mkdir(there)
            existing = {}
        except FileExistsError:
            with os.scandir(there) as entries:
                existing = {entry.name: entry for entry in entries}
        subfolders = []
        for name in skip if not relative else ():
            existing.pop(name, None)
        with os.scandir(os.path.join(source, relative)) as entries:
            for entry in entries:
                if entry.name.startswith(".snakemake_") or (not relative and entry.name in skip):
                    continue
                old = existing.pop(entry.name, None)
                if entry.is_dir(follow_symlinks=False):
                    if old is not None and not old.is_dir(follow_symlinks=False):
                        os.unlink(old.path)
                    subfolders.append(os.path.join(relative, entry.name))
                elif not entry.name.endswith(".csv"):
                    if old is None:
                        link_or_copy(entry.path, os.path.join(there, entry.name))
                    elif not (same_device and old.inode() == entry.inode() and old.is_file(follow_symlinks=False)):
                        replaced.append((entry.path, old.path))
        replaced.extend((None, old.path) for old in existing.values())  # gone from the source
        if not whole:
            return subfolders
        for folder in subfolders:
            mirror(folder, True)
        return []

    level = [""]
    for _ in range(WHOLE_FROM_DEPTH):
        level = [folder for parent in level for folder in mirror(parent, False)]
    if threads <= 1:
        for folder in level:
            mirror(folder, True)
    else:
        with ThreadPoolExecutor(max_workers=threads) as pool:
            for _ in pool.map(lambda folder: mirror(folder, True), level):
                pass
    replace_files(replaced)


def folder_summary(folder, served: tuple[str, int] | None = None) -> tuple[int, int]:
    """(files, bytes) of a site folder, each hard-linked file counted once by its bytes (IIIF names of the
    same tile). `served`: (the flat IIIF store, the number of files its layout serves) when tiles/iiif was
    laid out from one; that tree (about five folders per tile) is then not walked, its files being links
    to the store's (walking it took most of a 13,000-image site update's 3 s summary)."""
    sizes = {}

    def walk(top: str, skip: str | None = None) -> int:
        files, pending = 0, [top]
        while pending:
            with os.scandir(pending.pop()) as entries:
                for entry in entries:
                    if entry.is_dir(follow_symlinks=False):
                        if entry.path != skip:
                            pending.append(entry.path)
                    elif entry.is_file(follow_symlinks=False):
                        status = entry.stat(follow_symlinks=False)
                        files += 1
                        sizes[(status.st_dev, status.st_ino)] = status.st_size
        return files

    if not served:
        return walk(os.fspath(folder)), sum(sizes.values())
    files = walk(os.fspath(folder), skip=os.path.join(os.fspath(folder), "tiles", "iiif"))
    walk(served[0])  # for the bytes of the files served under the IIIF names
    return files + served[1], sum(sizes.values())


LINKED_TREES = ("tiles", "thumbs", "arrangements")  # a standby site's trees of links, updated in place


def assemble(out_dir, viewer_dir, tiles_dir, cell_folders, items: dict, collection: dict, manifest=None,
             neighbours: dict | None = None, chunk_size: int = CHUNK_SIZE, layout=None,
             annotated_manifest=None, hotspots: dict | None = None, arrangements: list[dict] = ()
             ) -> tuple[str, int] | None:
    """Write the complete site into out_dir (a fresh folder); the cells of the mosaic's folders (one per
    shard) become one folder of thumbnails, `items` and `neighbours` (the metadata and neighbours stages'
    JSON) the viewer's data files, `layout` (the grid stage's CSV) layout.csv: where each picture is, the
    layout a stable build keeps. The manifests are served as iiif/manifest.json and (the one with an
    annotation per cell) iiif/manifest-cells.json. `hotspots` ({"hotspots": the stage's list, "members":
    {id: number}}) and `arrangements` (name, label and folder of each: grid.csv, groups.json, tiles/ and
    mosaic.json) are what the viewer explores with, and the metadata's facets its extra filters. Returns
    (the flat IIIF store, the files served from it) when there is one, for folder_summary."""
    out_dir = Path(out_dir)
    out_dir.mkdir(exist_ok=True)
    with os.scandir(out_dir) as entries:  # a standby site: all but the big trees of links is written anew
        for entry in entries:
            if entry.name not in LINKED_TREES:
                _remove(entry)
    build_viewer(viewer_dir, out_dir)
    if layout:
        link_or_copy(layout, out_dir / "layout.csv")
    mirror_tree(tiles_dir, out_dir / "tiles", skip=("iiif",))
    store, served = Path(tiles_dir) / "iiif", out_dir / "tiles" / "iiif"
    laid_out = None
    if store.is_dir():  # the tiles stage's flat IIIF store, laid out under the names clients ask for
        laid_out = (os.fspath(store), lay_out(store, served)[1])
    elif served.exists():
        shutil.rmtree(served)
    link_or_copy(Path(tiles_dir) / "preview.jpg", out_dir / "preview.jpg")
    for source, name in ((manifest, "manifest.json"), (annotated_manifest, "manifest-cells.json")):
        if source:
            (out_dir / "iiif").mkdir(exist_ok=True)
            link_or_copy(source, out_dir / "iiif" / name)
    thumbs = cell_files(cell_folders)
    (out_dir / "thumbs").mkdir(exist_ok=True)
    with os.scandir(out_dir / "thumbs") as entries:
        for entry in entries:
            path = thumbs.get(Path(entry.name).stem)
            if path is not None and path.name == entry.name and os.path.samefile(path, entry.path):
                del thumbs[path.stem]
            else:
                _remove(entry)
    for path in thumbs.values():
        link_or_copy(path, out_dir / "thumbs" / path.name)
    wanted = {arrangement["name"] for arrangement in arrangements}
    if (out_dir / "arrangements").is_dir():  # arrangements no longer built leave the site
        for old in (out_dir / "arrangements").iterdir():
            if old.name not in wanted:
                shutil.rmtree(old)
    for arrangement in arrangements:  # its tiles, and the layout and groups a stable build keeps
        folder, published = Path(arrangement["folder"]), out_dir / "arrangements" / arrangement["name"]
        mirror_tree(folder / "tiles", published / "tiles", skip=("iiif",))
        for source, name in ((folder / "grid.csv", "layout.csv"), (folder / "groups.json", "groups.json")):
            (published / name).unlink(missing_ok=True)
            link_or_copy(source, published / name)
    (out_dir / "data").mkdir(exist_ok=True)
    collection = {**collection, "items": write_site_data(out_dir / "data", items, collection["grid"]["cols"],
                                                         neighbours, chunk_size)}
    ids = [str(key) for key in items["id"]]
    if items.get("facets"):
        collection["facets"] = write_facets(out_dir / "data", items["facets"])
    if hotspots and hotspots["hotspots"]:
        collection["hotspots"] = write_hotspots(out_dir / "data", ids, hotspots["hotspots"], hotspots["members"])
    if arrangements:
        collection["arrangements"] = [{"name": "similarity", "label": "Similarity"}] + [
            arrangement_entry(out_dir, arrangement, ids) for arrangement in arrangements]
    (out_dir / "data" / "collection.json").write_text(json.dumps(collection, ensure_ascii=False, indent=1),
                                                      encoding="utf-8")
    return laid_out


def arrangement_entry(out_dir: Path, arrangement: dict, ids: list[str]) -> dict:
    """An arrangement's collection.json entry, and its cell column (data/arrangements/<name>/cells.bin)."""
    folder, name = Path(arrangement["folder"]), arrangement["name"]
    grid, cols, rows = read_grid(folder / "grid.csv")
    geometry = read_geometry(folder / "mosaic.json")
    cells = dict(zip(grid["id"], (grid["row"] * cols + grid["col"]).tolist(), strict=True))
    write_arrangement_cells(out_dir / "data" / "arrangements" / name / "cells.bin", ids, cells)
    groups = json.loads((folder / "groups.json").read_text(encoding="utf-8"))
    return {"name": name, "label": groups["label"], "dzi": f"arrangements/{name}/tiles/{geometry['dzi']}",
            "width": geometry["width"], "height": geometry["height"],
            "grid": {"cols": cols, "rows": rows, "cellWidth": geometry["cellSize"], "cellHeight": geometry["cellSize"]},
            "cells": f"data/arrangements/{name}/cells.bin",
            "groups": [{key: group[key] for key in ("label", "count", "box")} for group in groups["groups"]]}


def keep_unchanged(new_site, old_site, skip=LINKED_TREES) -> tuple[int, int]:
    """Replace each file of the new site that has the same bytes as the published one by a hard link to it,
    so it keeps its modification time and a sync (rsync, an object store's) uploads only what changed.
    tiles/ and thumbs/ are left out: they are links to the tiles stage's files and the cell cache already
    (the tiles of unchanged cells are the published files themselves). Returns (kept, new or changed)."""
    new_site, old_site = Path(new_site), Path(old_site)
    kept = changed = 0
    if not old_site.is_dir():
        return kept, changed
    paths = [path for top in new_site.iterdir() if top.name not in skip
             for path in ([top] if top.is_file() else top.rglob("*"))]
    for path in paths:
        relative = path.relative_to(new_site)
        if not path.is_file():
            continue
        old = old_site / relative
        if old.is_file() and os.path.samefile(old, path):  # a link to it already: rename would not replace it
            kept += 1
        elif old.is_file() and old.stat().st_size == path.stat().st_size and filecmp.cmp(old, path, shallow=False):
            link = path.with_name(f".{path.name}.unchanged")
            os.link(old, link)
            os.replace(link, path)
            kept += 1
        else:
            changed += 1
    return kept, changed


def standby_folder(site: Path) -> Path:
    """Where the next site is made: the site that the published one replaced, updated in place (its
    folders and unchanged files kept) and then swapped in; never served, and free to delete. Anything
    else under that name (a file, a link that would send the build elsewhere) is removed first."""
    standby = site.with_name(f".{site.name}.standby")
    if standby.is_symlink() or (standby.exists() and not standby.is_dir()):
        standby.unlink()
    return standby


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiles", "-tiles", required=True, help="folder with mosaic.dzi from the tiles stage")
    parser.add_argument("--geometry", default=None, help="mosaic.json of the tiles stage (default: beside --tiles)")
    parser.add_argument("--cells", "-cells", required=True, nargs="+",
                        help="folder(s) of cells from the mosaic stage (one per shard)")
    parser.add_argument("--items", "-items", required=True, help="items JSON from the metadata stage")
    parser.add_argument("--neighbours", "-neighbours", default=None,
                        help="neighbours JSON from the neighbours stage (more like this)")
    parser.add_argument("--manifest", "-manifest", default=None,
                        help="IIIF manifest from the manifest stage, served as iiif/manifest.json")
    parser.add_argument("--annotated-manifest", default=None,
                        help="the manifest with one annotation per cell, served as iiif/manifest-cells.json")
    parser.add_argument("--layout", default=None, help="grid CSV of the grid stage, published as layout.csv")
    parser.add_argument("--published-layout", default=None,
                        help="where to keep a copy of the layout once the site is published (a stable build's input)")
    parser.add_argument("--chunk-size", type=int, default=CHUNK_SIZE,
                        help="items per chunk of titles, links and neighbours that the viewer fetches on demand")
    parser.add_argument("--out", "-out", dest="output", required=True,
                        help="site folder to publish: replaced whole, and only once the new one is complete")
    parser.add_argument("--receipt", default=None,
                        help="JSON to write once the site is published (the workflow's record that it was)")
    parser.add_argument("--viewer", "-viewer", default="viewer", help="the viewer's source folder")
    parser.add_argument("--name", "-name", default="collection")
    parser.add_argument("--title", "-title", default="Image collection")
    parser.add_argument("--description", "-description", default="")
    parser.add_argument("--about", "-about", default="[]", help="JSON list of paragraphs for the about page")
    parser.add_argument("--hotspots", default=None, help="hotspots.json of the hotspots stage")
    parser.add_argument("--hotspot-members", default=None, help="hotspots.csv of the hotspots stage (id,hotspot)")
    parser.add_argument("--arrangement", nargs=2, action="append", default=[], metavar=("NAME", "FOLDER"),
                        help="another arrangement: its name and the folder of its grid.csv, groups.json, tiles/")
    args = parser.parse_args(argv)

    try:
        about = json.loads(args.about)
    except json.JSONDecodeError:
        about = [args.about]
    geometry = read_geometry(args.geometry or Path(args.tiles).with_name("mosaic.json"))
    collection = collection_json(geometry, args.name, args.title, args.description, about)
    items = json.loads(Path(args.items).read_text(encoding="utf-8"))
    neighbours = json.loads(Path(args.neighbours).read_text(encoding="utf-8")) if args.neighbours else None
    output = Path(args.output)
    remove_leftovers(output)  # of the versions before the standby site
    standby = standby_folder(output)
    hotspots = None
    if args.hotspots:
        with open(args.hotspot_members, newline="", encoding="utf-8") as handle:
            members = {row["id"]: int(row["hotspot"]) for row in csv.DictReader(handle)}
        hotspots = {"hotspots": json.loads(Path(args.hotspots).read_text(encoding="utf-8"))["hotspots"],
                    "members": members}
    arrangements = [{"name": name, "folder": folder} for name, folder in args.arrangement]

    def assemble_into(folder):
        return assemble(folder, args.viewer, args.tiles, args.cells, items, collection, args.manifest, neighbours,
                        args.chunk_size, args.layout, args.annotated_manifest, hotspots, arrangements)

    laid_out = assemble_into(standby)
    kept, changed = keep_unchanged(standby, output)
    files, size = folder_summary(standby, laid_out)
    summary = {"site": str(output), "items": len(items["id"]), "files": files, "bytes": size}
    os.chmod(standby, FOLDER_MODE)
    exchange_folders(standby, output)  # the site replaced is the next build's standby
    if args.layout and args.published_layout:  # the layout the next stable build keeps: now the site's
        with atomic_path(args.published_layout) as temp:
            shutil.copyfile(args.layout, temp)
    if args.receipt:
        with atomic_path(args.receipt) as temp:
            published = datetime.now(UTC).isoformat(timespec="seconds")
            # The layout's digest names the published version: a saved layout.csv with it can be pinned.
            layout = hashlib.sha256(Path(args.layout).read_bytes()).hexdigest() if args.layout else None
            temp.write_text(json.dumps({**summary, "published": published, "layoutSha256": layout}, indent=1),
                            encoding="utf-8")
    if kept:
        print(f"site: {kept} files besides the tiles and thumbnails as they were, {changed} new or changed",
              file=sys.stderr)
    print(f"site: published {args.output}: {summary['items']} items, {summary['files']} files "
          f"(serve it with `npm start --prefix {args.viewer}`)", file=sys.stderr)
    if "changed" not in geometry:
        # The tiles were all made anew (a fresh layout), so every tile of the replaced site, now the
        # standby, is stale. It is brought up to date now: the replaced site's files are freed in the build
        # that replaced them (about 20 s at 13,000 images here, most of it the disk freeing their blocks),
        # and the next build (an addition, say) starts from a current standby and changes only what it must.
        assemble_into(standby)
        print("site: the replaced site (the next build's standby) brought up to date", file=sys.stderr)


if __name__ == "__main__":
    run_cli(main)
