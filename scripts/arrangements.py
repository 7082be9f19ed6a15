"""Stage 6e, arrangements: the same pictures on other grids than the similarity map, for the viewer to switch to.

- ``date``: a column of pictures per period, side by side in time order and stacked from the bottom, so the
  mosaic reads as a histogram of the collection (as PixPlot's and VIKUS Viewer's timelines do); undated
  pictures are the last column. The period is the year, decade, quarter century or century, whichever
  gives at most MAX_PERIODS columns.
- ``subject``: a block per named subject (each picture in the block of the first named subject its record
  lists: catalogues list the main one first), largest first, packed in shelves of one height each;
  pictures with none of the named subjects are the last block ("Other subjects").

Within a column or block the pictures keep their order on the similarity grid (row by row), so alike
pictures still sit together. Each arrangement is a grid file like the grid stage's (the tiles stage makes
its pyramid from the mosaic's cells, which are reused) and a list of its groups with their boxes, which the
viewer labels.

    arrangements.py --items items.json --kind date --out arrangements/date/grid.csv --groups groups.json
"""
from __future__ import annotations

import argparse
import json
import math
import sys

import numpy as np

from common import PipelineError, atomic_path, run_cli

KINDS = {"date": "By date", "subject": "By subject"}
MAX_PERIODS = 40  # columns of a date arrangement, at most (the period grows until they fit)
PERIODS = (1, 10, 25, 100, 250, 1000)  # years per column, the smallest that fits is taken
ASPECT = 1.6  # columns / rows aimed at (a screen's shape)
GAP = 1  # empty cells between columns and between blocks


def period_of(years: list[int | None]) -> int:
    known = [year for year in years if year is not None]
    if not known:
        return PERIODS[-1]
    span = max(known) - min(known)
    return next((period for period in PERIODS if span // period + 1 <= MAX_PERIODS), PERIODS[-1])


def period_label(start: int, period: int) -> str:
    if period == 1:
        return str(start)
    if period == 10:
        return f"{start}s"
    return f"{start}–{start + period - 1}"


def date_groups(years: list[int | None]) -> list[tuple[str, list[int]]]:
    """(label, positions) per period in time order, then the undated; positions keep their order."""
    period = period_of(years)
    groups: dict[int, list[int]] = {}
    undated = []
    for position, year in enumerate(years):
        if year is None:
            undated.append(position)
        else:
            groups.setdefault(year // period * period, []).append(position)
    ordered = [(period_label(start, period), groups[start]) for start in sorted(groups)]
    return ordered + ([("Undated", undated)] if undated else [])


def subject_groups(subjects: list[list[int]], names: list[str]) -> list[tuple[str, list[int]]]:
    """(subject, positions) per named subject, largest first (then by name), and the pictures with none."""
    other = len(names) - 1 if names and names[-1] == "Other" else None
    groups: dict[int, list[int]] = {}
    rest = []
    for position, own in enumerate(subjects):
        first = next((subject for subject in own if subject != other), None)
        (rest if first is None else groups.setdefault(first, [])).append(position)
    ordered = sorted(groups.items(), key=lambda pair: (-len(pair[1]), names[pair[0]]))
    return [(names[subject], members) for subject, members in ordered] + ([("Other subjects", rest)] if rest else [])


def columns(groups: list[tuple[str, list[int]]], count: int) -> tuple[np.ndarray, int, int, list[dict]]:
    """Each group a column filled from the bottom row up, columns left to right with a gap between them: (cell
    (col, row) per position, cols, rows, boxes). Columns are one cell wide, or as much wider as keeps them
    within a common height, chosen so the whole is about ASPECT wide: small periods stand as a histogram
    and a crowded one (often the undated) widens instead of stretching the mosaic into empty cells."""
    sizes = [len(members) for _, members in groups]

    def shape(height: int) -> tuple[list[int], int, int]:
        widths = [max(1, math.ceil(size / height)) for size in sizes]
        return widths, sum(widths) + GAP * (len(widths) - 1), max(math.ceil(s / w) for s, w in zip(sizes, widths,
                                                                                                     strict=True))

    heights = range(1, max(sizes) + 1)
    height = min(heights, key=lambda h: abs(math.log(shape(h)[1] / shape(h)[2] / ASPECT)))
    widths, cols, rows = shape(height)
    cells = np.zeros((count, 2), dtype=np.int64)
    boxes = []
    left = 0
    for (label, members), width in zip(groups, widths, strict=True):
        order = np.arange(len(members))
        cells[members, 0] = left + order % width
        cells[members, 1] = rows - 1 - order // width
        top = rows - math.ceil(len(members) / width)
        boxes.append({"label": label, "count": len(members), "box": [left, top, left + width - 1, rows - 1]})
        left += width + GAP
    return cells, cols, rows, boxes


def shelves(sizes: list[int], limit: int) -> list[tuple[int, int, int, int]]:
    """(left, top, width, height) of blocks of these sizes (largest first) in shelves at most `limit` cells wide:
    a shelf is as tall as its first block is when near-square, and the blocks after it in the shelf take
    that height (their width what they need), so little of a shelf stays empty."""
    placed = []
    left = top = height = 0
    for size in sizes:
        width = max(1, math.ceil(size / height)) if height else 0
        if not height or (left and left + width > limit):
            top, left = (top + height + GAP if height else 0), 0
            height = math.ceil(math.sqrt(size))
            width = math.ceil(size / height)
        placed.append((left, top, width, height))
        left += width + GAP
    return placed


def blocks(groups: list[tuple[str, list[int]]], count: int) -> tuple[np.ndarray, int, int, list[dict]]:
    """Each group a block filled row by row, the blocks packed in shelves (see shelves), the shelves' width
    chosen for the fewest cells among the shapes from half to one and a half times ASPECT wide: (cell per
    position, cols, rows, boxes)."""
    sizes = [len(members) for _, members in groups]
    side = math.isqrt(sum(sizes)) + 1

    def extent(placed) -> tuple[int, int]:
        return (max(left + width for left, _, width, _ in placed),
                max(top + height for _, top, _, height in placed))

    def aspect(placed) -> float:
        cols, rows = extent(placed)
        return cols / rows

    layouts = [shelves(sizes, limit) for limit in range(max(1, side // 2), 3 * side)]
    fitting = [placed for placed in layouts if ASPECT / 2 <= aspect(placed) <= 1.5 * ASPECT]
    if not fitting:  # a few very unequal blocks: the shape nearest ASPECT
        fitting = [min(layouts, key=lambda placed: abs(math.log(aspect(placed) / ASPECT)))]
    placed = min(fitting, key=lambda layout: (extent(layout)[0] * extent(layout)[1], extent(layout)[0]))
    cols, rows = extent(placed)
    cells = np.zeros((count, 2), dtype=np.int64)
    boxes = []
    for (label, members), (left, top, width, _) in zip(groups, placed, strict=True):
        order = np.arange(len(members))
        cells[members, 0] = left + order % width
        cells[members, 1] = top + order // width
        used = math.ceil(len(members) / width)
        boxes.append({"label": label, "count": len(members), "box": [left, top, left + width - 1, top + used - 1]})
    return cells, cols, rows, boxes


def arrange(items: dict, kind: str) -> tuple[list[str], np.ndarray, int, int, list[dict]]:
    """(ids, cells, cols, rows, groups) of an arrangement of the metadata stage's items (any order: they are
    taken in similarity-grid order first)."""
    if kind not in KINDS:
        raise PipelineError(f"unknown arrangement {kind!r}; choose from {', '.join(KINDS)}")
    cols = max(items["col"], default=0) + 1
    order = sorted(range(len(items["id"])), key=lambda i: (items["row"][i], items["col"][i]))
    ids = [str(items["id"][i]) for i in order]
    if not ids:
        raise PipelineError("no items to arrange")
    if kind == "date":
        groups = date_groups([items["yearStart"][i] for i in order])
        cells, cols, rows, boxes = columns(groups, len(ids))
    else:
        subjects = items.get("subjects") or [[] for _ in order]
        groups = subject_groups([subjects[i] for i in order], [str(name) for name in items.get("subjectNames", [])])
        cells, cols, rows, boxes = blocks(groups, len(ids))
    return ids, cells, cols, rows, boxes


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", required=True, help="the metadata stage's items.json")
    parser.add_argument("--kind", required=True, choices=tuple(KINDS))
    parser.add_argument("--out", required=True, help="the arrangement's grid CSV (as the grid stage writes)")
    parser.add_argument("--groups", required=True, help="JSON: label, count and box of each column or block")
    args = parser.parse_args(argv)
    with open(args.items, encoding="utf-8") as handle:
        items = json.load(handle)
    ids, cells, cols, rows, groups = arrange(items, args.kind)
    with atomic_path(args.out) as temp, open(temp, "w", encoding="utf-8", newline="") as handle:
        handle.write(f"# grid {cols}x{rows}\nid,col,row\n")
        for key, (col, row) in zip(ids, cells.tolist(), strict=True):
            quoted = '"' + key.replace('"', '""') + '"' if any(c in key for c in ',"\n\r') else key
            handle.write(f"{quoted},{col},{row}\n")
    with atomic_path(args.groups) as temp:
        temp.write_text(json.dumps({"name": args.kind, "label": KINDS[args.kind], "cols": cols, "rows": rows,
                                    "groups": groups}, ensure_ascii=False, indent=1), encoding="utf-8")
    print(f"{KINDS[args.kind]}: {len(groups)} groups on a {cols}x{rows} grid ({len(ids)} pictures, "
          f"{cols * rows - len(ids)} cells empty)", file=sys.stderr)


if __name__ == "__main__":
    run_cli(main)
