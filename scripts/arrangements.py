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
viewer labels, and their slots: the cells each group may fill. With `spare` a group's slot has room for that
share more pictures (the top of a date column, the rest of a subject block).

A stable build (`--previous`, the published arrangement: layout.csv and groups.json) keeps the arrangement
as the similarity grid is kept: a picture still in the same group keeps its cell, an added one takes its
group's next free cell in the slot, a removed one leaves its cell free. So the arrangement's tiles are
reused like the mosaic's. When that cannot be done (a new period or subject, a slot full, a previous
arrangement without slots) the arrangement is made afresh, and the log says why.

    arrangements.py --items items.json --kind date --out arrangements/date/grid.csv --groups groups.json
        [--spare 0.1] [--previous site/arrangements/date]
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np

from common import PipelineError, atomic_path, run_cli
from tables import read_grid

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


def room(size: int, spare: float) -> int:
    """Cells a group of `size` pictures is given: `spare` more, for pictures added in stable builds."""
    return math.ceil(size * (1 + spare))


def fill_cell(slot: list[int], order: int, upward: bool) -> tuple[int, int]:
    """The cell of a slot [left, top, right, bottom] that the order-th picture takes: row by row from the
    bottom (a date column) or from the top (a subject block)."""
    left, top, right, bottom = slot
    width = right - left + 1
    return left + order % width, (bottom - order // width if upward else top + order // width)


def columns(groups: list[tuple[str, list[int]]], count: int, spare: float = 0.0
            ) -> tuple[np.ndarray, int, int, list[dict]]:
    """Each group a column filled from the bottom row up, columns left to right with a gap between them: (cell
    (col, row) per position, cols, rows, boxes). Columns are one cell wide, or as much wider as keeps them
    within a common height, chosen so the whole is about ASPECT wide: small periods stand as a histogram
    and a crowded one (often the undated) widens instead of stretching the mosaic into empty cells. The
    shape is chosen for each column's room (see room), so the tallest has that room above it too."""
    sizes = [room(len(members), spare) for _, members in groups]

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
        slot = [left, 0, left + width - 1, rows - 1]
        for order, member in enumerate(members):
            cells[member] = fill_cell(slot, order, upward=True)
        top = rows - math.ceil(len(members) / width)
        boxes.append({"label": label, "count": len(members), "box": [left, top, left + width - 1, rows - 1],
                      "slot": slot})
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


def blocks(groups: list[tuple[str, list[int]]], count: int, spare: float = 0.0
           ) -> tuple[np.ndarray, int, int, list[dict]]:
    """Each group a block filled row by row, the blocks packed in shelves (see shelves) by their room (see
    room), the shelves' width chosen for the fewest cells among the shapes from half to one and a half times
    ASPECT wide: (cell per position, cols, rows, boxes)."""
    sizes = [room(len(members), spare) for _, members in groups]
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
    for (label, members), (left, top, width, height) in zip(groups, placed, strict=True):
        slot = [left, top, left + width - 1, top + height - 1]
        for order, member in enumerate(members):
            cells[member] = fill_cell(slot, order, upward=False)
        used = math.ceil(len(members) / width)
        boxes.append({"label": label, "count": len(members), "box": [left, top, left + width - 1, top + used - 1],
                      "slot": slot})
    return cells, cols, rows, boxes


def keep_previous(groups: list[tuple[str, list[int]]], ids: list[str], previous: dict, kind: str
                  ) -> tuple[np.ndarray, list[dict], dict] | str:
    """The stable arrangement: (cells, boxes, counts of kept and placed pictures) on the previous
    arrangement's grid, or the reason it cannot be kept. `previous` holds the published arrangement's
    `cells` ({id: (col, row)}) and `groups` (groups.json's, with their slots). A picture whose previous cell
    lies in the slot of the group it is in now keeps it; the others take their group's first free cells in
    fill order, in their order on the similarity grid."""
    slots = {group["label"]: group.get("slot") for group in previous["groups"]}
    if any(slot is None for slot in slots.values()):
        return "the previous arrangement has no slots (made by an earlier version)"
    new_groups = [label for label, _ in groups if label not in slots]
    if new_groups:
        return f"new groups: {', '.join(new_groups[:5])}"
    covered = np.zeros((previous["rows"], previous["cols"]), dtype=np.int64)
    for left, top, right, bottom in slots.values():
        if not (0 <= left <= right < previous["cols"] and 0 <= top <= bottom < previous["rows"]):
            return "a group's slot lies outside the previous grid"
        covered[top:bottom + 1, left:right + 1] += 1
    if covered.max() > 1:
        return "the groups' slots overlap"
    upward = kind == "date"
    cells = np.zeros((len(ids), 2), dtype=np.int64)
    boxes, kept = {}, 0
    for label, members in groups:
        slot = slots[label]
        left, top, right, bottom = slot
        inside = {member: previous["cells"].get(ids[member]) for member in members}
        inside = {member: cell for member, cell in inside.items()
                  if cell is not None and left <= cell[0] <= right and top <= cell[1] <= bottom}
        taken = set(inside.values())
        free = (cell for cell in (fill_cell(slot, order, upward) for order in
                                  range((right - left + 1) * (bottom - top + 1))) if cell not in taken)
        for member in members:
            cell = inside.get(member) or next(free, None)
            if cell is None:
                return f"the group {label!r} has outgrown its slot ({len(members)} pictures)"
            cells[member] = cell
        kept += len(inside)
        rows_used = cells[members, 1]
        box = [left, int(rows_used.min()), right, bottom] if upward else [left, top, right, int(rows_used.max())]
        boxes[label] = {"label": label, "count": len(members), "box": box, "slot": slot}
    # The groups in the previous order (that of a fresh arrangement then), an emptied one left out.
    ordered = [boxes[group["label"]] for group in previous["groups"] if group["label"] in boxes]
    return cells, ordered, {"kept": kept, "placed": len(ids) - kept}


def arrange(items: dict, kind: str, spare: float = 0.0, previous: dict | None = None
            ) -> tuple[list[str], np.ndarray, int, int, list[dict]]:
    """(ids, cells, cols, rows, groups) of an arrangement of the metadata stage's items (any order: they are
    taken in similarity-grid order first), with `spare` room in each group; kept from `previous` (see
    keep_previous and read_previous) where it can be."""
    if kind not in KINDS:
        raise PipelineError(f"unknown arrangement {kind!r}; choose from {', '.join(KINDS)}")
    cols = max(items["col"], default=0) + 1
    order = sorted(range(len(items["id"])), key=lambda i: (items["row"][i], items["col"][i]))
    ids = [str(items["id"][i]) for i in order]
    if not ids:
        raise PipelineError("no items to arrange")
    if kind == "date":
        groups = date_groups([items["yearStart"][i] for i in order])
    else:
        subjects = items.get("subjects") or [[] for _ in order]
        groups = subject_groups([subjects[i] for i in order], [str(name) for name in items.get("subjectNames", [])])
    if previous is not None:
        kept = keep_previous(groups, ids, previous, kind)
        if not isinstance(kept, str):
            cells, boxes, counts = kept
            print(f"{KINDS[kind]}: kept the cells of {counts['kept']} pictures, placed {counts['placed']}",
                  file=sys.stderr)
            return ids, cells, previous["cols"], previous["rows"], boxes
        print(f"{KINDS[kind]}: arranged afresh, as the previous arrangement cannot be kept: {kept}", file=sys.stderr)
    cells, cols, rows, boxes = (columns if kind == "date" else blocks)(groups, len(ids), spare)
    return ids, cells, cols, rows, boxes


def read_previous(folder) -> dict | None:
    """A published arrangement (the site's arrangements/<name>/: layout.csv and groups.json) as
    keep_previous takes it, or None when there is none or it cannot be read (then the arrangement is made
    afresh, which costs only its tiles: the log says so)."""
    folder = Path(folder)
    if not (folder / "layout.csv").is_file() or not (folder / "groups.json").is_file():
        return None
    try:
        layout, cols, rows = read_grid(folder / "layout.csv")
        groups = json.loads((folder / "groups.json").read_text(encoding="utf-8"))["groups"]
        cells = dict(zip(layout["id"], zip(layout["col"].tolist(), layout["row"].tolist(), strict=True),
                         strict=True))
        for group in groups:
            slot = group.get("slot") if isinstance(group, dict) and "label" in group else ()
            if slot is not None and not (isinstance(slot, list) and len(slot) == 4
                                         and all(isinstance(value, int) for value in slot)):
                raise ValueError(f"a group without a label, or with a slot that is not four cells: {group}")
    except (PipelineError, ValueError, KeyError, TypeError, UnicodeDecodeError) as error:
        print(f"arrangements: the published arrangement in {folder} cannot be read ({error}): arranged afresh",
              file=sys.stderr)
        return None
    return {"cells": cells, "cols": cols, "rows": rows, "groups": groups}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", required=True, help="the metadata stage's items.json")
    parser.add_argument("--kind", required=True, choices=tuple(KINDS))
    parser.add_argument("--out", required=True, help="the arrangement's grid CSV (as the grid stage writes)")
    parser.add_argument("--groups", required=True, help="JSON: label, count, box and slot of each column or block")
    parser.add_argument("--spare", type=float, default=0.0,
                        help="share of room each group keeps for pictures added later (layout.spare)")
    parser.add_argument("--previous", default=None, metavar="FOLDER",
                        help="the published arrangement (layout.csv, groups.json) whose cells a stable build keeps")
    args = parser.parse_args(argv)
    with open(args.items, encoding="utf-8") as handle:
        items = json.load(handle)
    previous = read_previous(args.previous) if args.previous else None
    ids, cells, cols, rows, groups = arrange(items, args.kind, args.spare, previous)
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
