"""The viewer's load and filter timings on a 13,000-item (or larger) site, in headless Chromium.

The site is built from the stage scripts directly, without features or t-SNE: the first 13,000 ids of the
library's images.csv (so titles, dates and subjects are real), laid out on the grid in file order, each
cell one of the 1,500 real 128 px thumbnails of ../shared/data/amnh-sample/sample.zip (hard-linked, so the
cells cost no disk space), then scripts/tiles.py, scripts/metadata.py and scripts/site.py with the
Snakefile's flags. Beyond the export's 13,191 ids (`--count 1000000`) its records are repeated under new
ids (`<id>-<k>`, with their subjects), and `--cell-size 16` keeps a million cells' pyramid small
(16,000 pixels square, 256 px tiles): the viewer's data, what this measures, is the same at any cell size.
viewer/e2e/perf.mjs then loads the page 3 times, each in a fresh browser context, and times it: navigation
start to the viewer's `viewer-ready` (mosaic visible), `viewer-data-loaded` (filters work) and `search-ready`
marks, the bytes downloaded before the mosaic was visible, hover-to-title times, the viewer's `filter-update`
measures for selecting subjects, switching any/all, setting a year range, each keystroke of a search and
resetting, the browser's input-to-next-paint time of the same interactions (Event Timing API), switching
to each other arrangement and back (the choice to the new pyramid's first tile), a lasso round 1,000 cells
of the whole mosaic (release to repainted mask and count), and the JavaScript heap of the page and its
search worker. The targets are issue 16's and issue 19's (a switch within 1 s, a lasso within 100 ms).

    python bench/viewer_perf.py [--workdir /tmp/viewer-perf] [--rebuild] [--loads 3] [--count 13000]
                                [--cell-size 128]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pandas as pd
from PIL import Image, ImageOps

from common import auto_grid_size
from machine import describe_machine  # bench/machine.py

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT.parent / "shared" / "data" / "amnh-sample"

CELL = 128
INTERACTIVE_MS = 2000  # navigation to the mosaic visible and the first interaction possible
FILTER_MS = 100  # a filter's input to the repainted mosaic
SEARCH_MS = 150  # a search keystroke to the repainted mosaic
HOVER_MS = 100  # pointer to title
FIRST_VIEW_MB = 5  # bytes downloaded before the mosaic is visible
HEAP_MB = 500
SWITCH_MS = 1000  # choosing another arrangement to its mosaic on screen
ARRANGEMENTS = ("date", "subject")


def run(*command):
    started = time.perf_counter()
    result = subprocess.run([str(c) for c in command], capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(map(str, command))} failed:\n{result.stdout[-3000:]}{result.stderr[-3000:]}")
    return time.perf_counter() - started


def repeated_records(work: Path, count: int) -> tuple[list[str], Path, Path]:
    """`count` ids with the export's records (repeated under new ids `<id>-<k>` beyond its own ids) and the
    items and subjects CSVs that hold them."""
    records = pd.read_csv(SAMPLE / "images.csv", dtype=str, keep_default_na=False).drop_duplicates("id")
    if count <= len(records):
        return records["id"].tolist()[:count], SAMPLE / "images.csv", SAMPLE / "subjects.csv"
    items, subjects = work / f"items-{count}.csv", work / f"subjects-{count}.csv"
    rounds = -(-count // len(records))
    ids = [key if k == 0 else f"{key}-{k}" for k in range(rounds) for key in records["id"]][:count]
    if not items.is_file():
        repeated = pd.concat([records.assign(id=records["id"] if k == 0 else records["id"] + f"-{k}")
                              for k in range(rounds)]).iloc[:count]
        repeated.to_csv(items, index=False)
        by_id = pd.read_csv(SAMPLE / "subjects.csv", dtype=str, keep_default_na=False)
        pd.concat([by_id.assign(id=by_id["id"] if k == 0 else by_id["id"] + f"-{k}") for k in range(rounds)]
                  ).to_csv(subjects, index=False)
    return ids, items, subjects


def build_site(work: Path, count: int, cell: int = CELL) -> Path:
    """The site of `count` ids with the sample's thumbnails (at `cell` pixels) as cells; returns its folder."""
    work.mkdir(parents=True, exist_ok=True)
    thumbs = work / ("thumbs" if cell == CELL else f"thumbs-{cell}")
    if not thumbs.is_dir():
        temp = work / "thumbs.tmp"
        temp.mkdir(exist_ok=True)
        with zipfile.ZipFile(SAMPLE / "sample.zip") as archive:
            for name in sorted(archive.namelist()):
                if not name.lower().endswith(".jpg"):
                    continue
                with archive.open(name) as handle, Image.open(handle) as image:
                    image = ImageOps.exif_transpose(image).convert("RGB")
                    if image.size != (cell, cell):
                        image = ImageOps.fit(image, (cell, cell), Image.Resampling.LANCZOS)
                    image.save(temp / Path(name).name, quality=90)
        temp.rename(thumbs)
    pictures = sorted(thumbs.glob("*.jpg"))

    ids, items_csv, subjects_csv = repeated_records(work, count)
    cols, rows = auto_grid_size(count)
    grid = work / "grid.csv"
    with open(grid, "w", encoding="utf-8") as handle:
        handle.write(f"# grid {cols}x{rows}\n")
        pd.DataFrame({"id": ids, "col": [k % cols for k in range(count)],
                      "row": [k // cols for k in range(count)]}).to_csv(handle, index=False)
    cells = work / "cells"
    if not cells.is_dir() or len(list(cells.glob("*.jpg"))) != count:
        temp = work / "cells.tmp"
        temp.mkdir(exist_ok=True)
        for k, key in enumerate(ids):
            target = temp / f"{key}.jpg"
            if not target.exists():
                os.link(pictures[k % len(pictures)], target)
        temp.rename(cells)

    timings = {}
    python = sys.executable
    if not (work / "tiles" / "mosaic.dzi").is_file():
        timings["tiles"] = run(python, ROOT / "scripts" / "tiles.py", "--in", grid, "--cells", cells,
                               "--out", work / "tiles", "--cell-size", cell, "--tile-size",
                               CELL if cell == CELL else 256, "--overlap", 1,
                               "--format", "jpg", "--quality", 90, "--background", "0,0,0", "--jobs", 2)
    if not (work / "items.json").is_file():
        timings["metadata"] = run(python, ROOT / "scripts" / "metadata.py", "--in", items_csv,
                                  f"--subjects={subjects_csv}", "--preset", "original", "--columns={}",
                                  "--subject-columns=null", "--grid", grid, "--out", work / "items.json",
                                  "--report", work / "metadata_report.csv", "--subjects-out", work / "subjects.csv",
                                  "--subjects-top", 64, "--max-unmatched", 0.5, "--years", "1400-")
    arranged = []
    for kind in ARRANGEMENTS:  # as the Snakefile's rules arrangement and arrangement_tiles
        folder = work / "arrangements" / kind
        if not (folder / "tiles" / "mosaic.dzi").is_file():
            folder.mkdir(parents=True, exist_ok=True)
            timings[f"arrangement {kind}"] = run(python, ROOT / "scripts" / "arrangements.py", "--items",
                                                 work / "items.json", "--kind", kind, "--out", folder / "grid.csv",
                                                 "--groups", folder / "groups.json")
            timings[f"arrangement {kind} tiles"] = run(
                python, ROOT / "scripts" / "tiles.py", "--in", folder / "grid.csv", "--cells", cells,
                "--out", folder / "tiles", "--geometry", folder / "mosaic.json", "--cell-size", cell,
                "--tile-size", cell, "--overlap", 0, "--format", "jpg", "--quality", 90,
                "--background", "0,0,0", "--jobs", 2)
        arranged += ["--arrangement", kind, folder]
    site = work / "site"
    if site.exists():
        subprocess.run(["rm", "-rf", str(site)], check=True)
    timings["site"] = run(python, ROOT / "scripts" / "site.py", "--tiles", work / "tiles", "--cells", cells,
                          *arranged,
                          "--items", work / "items.json", "--out", site, "--viewer", ROOT / "viewer",
                          "--name", "amnh13k", "--title=AMNH photographs (13,000, benchmark)",
                          "--description=The library's metadata on the sample's thumbnails, for timing the viewer.",
                          "--about=[]")
    for stage, seconds in timings.items():
        print(f"built {stage} in {seconds:.1f} s", file=sys.stderr)
    return site


def summary(values):
    values = [v for v in values if v is not None]
    if not values:
        return None, None
    return statistics.median(values), max(values)


def fmt(pair, unit=" ms", floor=None):
    median, largest = pair
    if median is None:
        return f"< {floor}{unit}" if floor else "n/a"
    return f"{median:.0f} / {largest:.0f}{unit}" if largest >= 10 else f"{median:.1f} / {largest:.1f}{unit}"


def measure_site(site: Path, loads: int, raw: Path, keep: str | None = None) -> list[str]:
    """Load the site `loads` times in headless Chromium (viewer/e2e/perf.mjs); the report's lines."""
    subprocess.run(["node", str(ROOT / "viewer" / "e2e" / "perf.mjs"), str(site), "--loads", str(loads),
                    "--json", str(raw)], check=True)
    result = json.loads(raw.read_text())
    if keep:
        Path(keep).write_text(json.dumps(result, indent=1))
    loads = result["loads"]
    problems = [p for load in loads for p in load["problems"]]
    lines = [f"Machine: {describe_machine()}, no GPU; headless Chromium {result['chromium']}; "
             f"{result['count']:,} items, {len(loads)} page loads, each in a fresh browser context.\n",
             "| measured | median / max | target |\n|---|---|---|"]
    def verdict(largest, target):
        return "met" if largest is not None and largest <= target else "**missed**"

    ready = summary([load["ready"] for load in loads])
    data = summary([load["dataLoaded"] for load in loads])
    lines.append(f"| navigation start to `viewer-ready` (mosaic visible, pan and zoom work) | {fmt(ready)} | "
                 f"{INTERACTIVE_MS:,} ms: {verdict(ready[1], INTERACTIVE_MS)} |")
    lines.append(f"| navigation start to `viewer-data-loaded` (filters work) | {fmt(data)} | "
                 f"{INTERACTIVE_MS:,} ms: {verdict(data[1], INTERACTIVE_MS)} |")
    lines.append(f"| navigation start to `search-ready` (search worker's index built) | "
                 f"{fmt(summary([load['searchReady'] for load in loads]))} | |")
    first = summary([load["bytesBeforeReady"] / 1e6 for load in loads])
    files = max(load["filesBeforeReady"] for load in loads)
    lines.append(f"| downloaded before the mosaic was visible ({files} files at most) | {first[0]:.2f} / "
                 f"{first[1]:.2f} MB | {FIRST_VIEW_MB} MB: {verdict(first[1], FIRST_VIEW_MB)} |")
    for kind, what in (("cold", "a chunk not yet fetched"), ("warm", "again")):
        hover = summary([ms for load in loads for ms in load["hover"][kind]])
        lines.append(f"| hover to title, {what} | {fmt(hover)} | {HOVER_MS} ms: {verdict(hover[1], HOVER_MS)} |")
    for name in loads[0]["actions"]:
        target = {"search keystroke": SEARCH_MS, "switch arrangement": SWITCH_MS}.get(name, FILTER_MS)
        measure = "arrangement-switch" if name == "switch arrangement" else "filter-update"
        measures = summary([m for load in loads for m in load["actions"][name]["measures"]])
        paint = summary([p for load in loads for p in load["actions"][name]["paint"]])
        count = sum(len(load["actions"][name]["measures"]) for load in loads)
        lines.append(f"| {name}: `{measure}` ({count} measures) | {fmt(measures)} | {target:,} ms: "
                     f"{verdict(measures[1], target)} |")
        paint_verdict = "met" if paint[1] is None or paint[1] <= target else "**missed**"
        lines.append(f"| {name}: input to next paint | {fmt(paint, floor=16)} | {target:,} ms: {paint_verdict} |")
    page = summary([load["heap"]["page"] for load in loads])
    worker = summary([sum(w or 0 for w in load["heap"]["workers"]) for load in loads])
    both = summary([load["heap"]["page"] + sum(w or 0 for w in load["heap"]["workers"]) for load in loads])
    lines.append(f"| JavaScript heap: page / search worker / both | {page[1]:.0f} / {worker[1]:.0f} / {both[1]:.0f} MB "
                 f"(max) | {HEAP_MB} MB: {verdict(both[1], HEAP_MB)} |")
    lines.append(f"\nSubjects {', '.join(result['subjects'])}; years {result['years'][0]}-{result['years'][1]}; "
                 f"search '{result['search']}' ({loads[-1]['searchCount']}); "
                 f"the lasso round 1,000 cells: {loads[-1]['selected']}.")
    if problems:
        lines.append("\nPage problems: " + "; ".join(sorted(set(problems))))
    return lines


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", default="/tmp/viewer-perf", help="where the site is built (kept for reruns)")
    parser.add_argument("--rebuild", action="store_true", help="build everything again")
    parser.add_argument("--count", type=int, default=13000)
    parser.add_argument("--cell-size", type=int, default=CELL, help="pixels of a cell (16 keeps a million small)")
    parser.add_argument("--loads", type=int, default=3)
    parser.add_argument("--json", default=None, help="also write the raw timings here")
    args = parser.parse_args()
    work = Path(args.workdir)
    if args.rebuild:
        subprocess.run(["rm", "-rf", str(work)], check=True)
    site = build_site(work, args.count, args.cell_size)
    print("\n".join(measure_site(site, args.loads, work / "perf.json", args.json)))


if __name__ == "__main__":
    main()
