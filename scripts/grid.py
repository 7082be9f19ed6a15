"""Stage 3, grid: each image gets its own cell of a COLS x ROWS grid.

Three methods (``--method``):
- ``lap``: the 2-D embedding is scaled onto the grid and points are assigned to cell centres by an
  optimal linear assignment (Jonker-Volgenant, the ``lap`` package), which minimises the total squared
  displacement. A dense cost matrix grows with N^2, so large collections are first split into balanced
  halves along the longer side of the grid until each part has at most ``block`` cells, and each part
  is solved exactly. Then, given the features (``--features``), nearby images are swapped wherever that
  makes grid neighbourhoods more alike in feature space (``swap_refine``; ``--swap-radius 0``: off).
- ``rasterfairy``: the original's method (RasterFairy 1.0.6, installed without its dependencies and
  run on current numpy through a small shim), fed coordinates scaled to the grid; empty cells are the
  last cells of the bottom row, so the result does not depend on chance.
- ``flas``: Fast Linear Assignment Sorting (Barthel et al., Computer Graphics Forum 2023; PyPI
  ``vc-flas``) sorts the PCA features straight onto the grid, without the 2-D embedding; empty cells
  (holes) go wherever they disturb least.

Output: ``id,col,row`` with a ``# grid COLSxROWS`` header line.
"""
from __future__ import annotations

import argparse
import contextlib
import math
import sys

import numpy as np
import pandas as pd
from tqdm import tqdm

from common import PipelineError, atomic_path, resolve_grid_size, run_cli
from tables import load_features, read_embedding, read_grid

DEFAULT_BLOCK = 512  # 13,000 points in about 4 s on 2 cores; exact below this size
SWAP_RADIUS = 4  # cells: how far a grid neighbourhood reaches in swap_refine
SWAP_SWEEPS = 25  # at most; "auto" runs fewer from FEWER_SWEEPS_FROM images (sweeps_for)
FEWER_SWEEPS_FROM = 200_000  # images
MIN_SWEEPS = 5
SETTLED_SHARE = 0.001  # swap sweeps stop once one swaps fewer than this share of the images (0.1%)


def sweeps_for(count: int, sweeps="auto") -> int:
    """Swap sweeps for `count` images: a number as given, or "auto": SWAP_SWEEPS below FEWER_SWEEPS_FROM,
    then fewer in proportion (a sweep costs time in proportion to N, about 14 s per 100,000 images here, and
    most swaps happen in the first sweeps), never under MIN_SWEEPS."""
    if sweeps != "auto":
        return int(sweeps)
    if count < FEWER_SWEEPS_FROM:
        return SWAP_SWEEPS
    return max(MIN_SWEEPS, round(SWAP_SWEEPS * FEWER_SWEEPS_FROM / count))
SWAP_OFFSETS = ((1, 0), (0, 1), (1, 1), (1, -1), (2, 0), (0, 2), (2, 1), (1, 2), (2, -1), (1, -2), (2, 2), (2, -2),
                (3, 0), (0, 3), (4, 0), (0, 4))  # the pairs of cells tried, as (columns, rows) apart


def scale_to_grid(points: np.ndarray, cols: int, rows: int) -> np.ndarray:
    """Stretch points to fill [0, cols] x [0, rows], the grid's own aspect."""
    low = points.min(axis=0)
    span = np.where(np.ptp(points, axis=0) > 0, np.ptp(points, axis=0), 1.0)
    return (points - low) / span * np.array([cols, rows])


def _solve_exact(points: np.ndarray, cells: np.ndarray) -> np.ndarray:
    """Optimal assignment of points (n) to cells (m >= n); returns the chosen cell index per point."""
    import lap

    centres = cells + 0.5
    cost = ((points[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2)
    _, point_to_cell, _ = lap.lapjv(cost, extend_cost=True)
    return point_to_cell


def _assign(points: np.ndarray, index: np.ndarray, col0: int, col1: int, row0: int, row1: int,
            block: int, out: np.ndarray, usable: np.ndarray) -> None:
    """Assign points[index] to the usable cells in [col0,col1) x [row0,row1), recursively halving big regions."""
    width, height = col1 - col0, row1 - row0
    region = usable[row0:row1, col0:col1]
    if width * height <= block or len(index) <= 1:
        rows, cols = np.nonzero(region)  # row by row, as a meshgrid of the region
        cells = np.column_stack([cols + col0, rows + row0]).astype(float)
        chosen = _solve_exact(points[index], cells)
        out[index] = cells[chosen].astype(int)
        return
    axis = 0 if width >= height else 1
    if axis == 0:
        middle = col0 + width // 2
        first_cells = int(region[:, :middle - col0].sum())
    else:
        middle = row0 + height // 2
        first_cells = int(region[:middle - row0].sum())
    second_cells = int(region.sum()) - first_cells
    # Share points in proportion to cells, never more than a half can hold.
    share = round(len(index) * first_cells / max(1, first_cells + second_cells))
    share = min(first_cells, max(len(index) - second_cells, share))
    order = index[np.argsort(points[index, axis], kind="stable")]
    first, second = order[:share], order[share:]
    if axis == 0:
        _assign(points, first, col0, middle, row0, row1, block, out, usable)
        _assign(points, second, middle, col1, row0, row1, block, out, usable)
    else:
        _assign(points, first, col0, col1, row0, middle, block, out, usable)
        _assign(points, second, col0, col1, middle, row1, block, out, usable)


def assign_to_grid(points: np.ndarray, cols: int, rows: int, block: int = DEFAULT_BLOCK,
                   free: np.ndarray | None = None) -> np.ndarray:
    """Return an (N, 2) int array of (col, row), one distinct cell per point, none in the cells that the
    (rows, cols) mask `free` keeps free (see spare_cells)."""
    usable = np.ones((rows, cols), bool) if free is None else ~free
    if len(points) > usable.sum():
        raise PipelineError(f"{len(points)} images do not fit the {int(usable.sum())} usable cells of a "
                            f"{cols}x{rows} grid")
    scaled = scale_to_grid(np.asarray(points, dtype=float), cols, rows)
    out = np.zeros((len(points), 2), dtype=int)
    _assign(scaled, np.arange(len(points)), 0, cols, 0, rows, block, out, usable)
    return out


def spare_cells(cols: int, rows: int, count: int, spare: float) -> np.ndarray:
    """A (rows, cols) mask of the cells a fresh layout keeps free for later additions: about `spare` of
    them, spread evenly, never so many that fewer than `count` cells are left.

    They lie on a sheared lattice, one in every k = 1/spare cells with each row's shifted by about sqrt(k),
    so that every cell has a free one within a few cells: a picture added later (place_additions) can
    then sit beside the pictures it resembles instead of at the edge of the grid.
    """
    free = np.zeros((rows, cols), bool)
    if spare <= 0:
        return free
    period = max(2, round(1 / spare))
    shift = max(1, round(math.sqrt(period)))
    row_index, col_index = np.mgrid[0:rows, 0:cols]
    free[(col_index + shift * row_index) % period == period // 2] = True
    surplus = int(free.sum()) - (cols * rows - count)
    if surplus > 0:
        free.flat[np.flatnonzero(free)[-surplus:]] = False
    return free


def grid_size_with_spare(text: str, count: int, aspect: float, spare: float) -> tuple[int, int]:
    """The grid size ('auto' or COLSxROWS) for `count` images when a share `spare` of an auto grid stays free."""
    if spare > 0 and str(text).strip().lower() == "auto":
        return resolve_grid_size(text, math.ceil(count / (1 - spare)), aspect)
    return resolve_grid_size(text, count, aspect)


def swap_refine(features: np.ndarray, cells: np.ndarray, cols: int, rows: int, radius: int = SWAP_RADIUS,
                sweeps: int = SWAP_SWEEPS, progress: bool = False) -> np.ndarray:
    """Swap nearby images wherever that makes each one's grid neighbourhood more alike it in features.

    The assignment follows the 2-D embedding, so it keeps neighbourhoods only as well as t-SNE did;
    this pass looks at the features themselves. It lowers the sum, over pairs of images less than
    `radius` cells apart, of their squared feature distance divided by their squared grid distance.
    Each sweep tries every offset of SWAP_OFFSETS on a lattice of disjoint pairs of cells, computes
    every pair's change of that sum at once, and applies the improving swaps best first, skipping any
    within `radius` of one already applied (their changes would interact). The sweeps stop when one swaps
    fewer than SETTLED_SHARE of the images. Deterministic; empty cells stay where they are. Returns the new
    (N, 2) cells.
    """
    features = np.asarray(features, dtype=np.float32)
    occupant = np.full((rows, cols), -1)
    occupant[cells[:, 1], cells[:, 0]] = np.arange(len(cells))
    kernel = [(dx, dy, 1.0 / (dx * dx + dy * dy)) for dy in range(-radius, radius + 1)
              for dx in range(-radius, radius + 1) if 0 < dx * dx + dy * dy <= radius * radius]
    weight_of = {(dx, dy): weight for dx, dy, weight in kernel}
    # Per cell: the weighted sum of its neighbours' features, and their total weight.
    padded = np.zeros((rows + 2 * radius, cols + 2 * radius, features.shape[1]), np.float32)
    present = np.zeros((rows + 2 * radius, cols + 2 * radius), np.float32)
    filled = occupant >= 0
    padded[radius:-radius, radius:-radius][filled] = features[occupant[filled]]
    present[radius:-radius, radius:-radius] = filled
    sums = np.zeros((rows, cols, features.shape[1]), np.float32)
    weights = np.zeros((rows, cols), np.float32)
    for dx, dy, weight in kernel:
        sums += weight * padded[radius + dy:radius + dy + rows, radius + dx:radius + dx + cols]
        weights += weight * present[radius + dy:radius + dy + rows, radius + dx:radius + dx + cols]
    del padded, present
    bar = tqdm(total=sweeps, unit="sweep", desc="swaps", disable=not progress, mininterval=1.0, file=sys.stderr)
    for _ in range(sweeps):
        swapped = 0
        for dx, dy in SWAP_OFFSETS:
            stride = max(abs(dx), abs(dy)) + 1  # pairs on this lattice never share a cell
            for top in range(stride):
                for left in range(stride):
                    ys, xs = np.mgrid[top:rows:stride, left:cols:stride]
                    inside = (xs + dx >= 0) & (xs + dx < cols) & (ys + dy >= 0) & (ys + dy < rows)
                    ya, xa = ys[inside], xs[inside]
                    yb, xb = ya + dy, xa + dx
                    a, b = occupant[ya, xa], occupant[yb, xb]
                    both = (a >= 0) & (b >= 0)
                    ya, xa, yb, xb, a, b = ya[both], xa[both], yb[both], xb[both], a[both], b[both]
                    fa, fb = features[a], features[b]
                    pair = weight_of.get((dx, dy), 0.0)  # a and b's own term does not change
                    sum_a, sum_b = sums[ya, xa] - pair * fb, sums[yb, xb] - pair * fa
                    weight_a, weight_b = weights[ya, xa] - pair, weights[yb, xb] - pair
                    change = ((weight_a - weight_b) * ((fb * fb).sum(1) - (fa * fa).sum(1))
                              - 2 * ((fb - fa) * (sum_a - sum_b)).sum(1))
                    chosen = _apart(np.flatnonzero(change < -1e-6), change, ya, xa, yb, xb, rows, cols, radius)
                    if not len(chosen):
                        continue
                    ya, xa, yb, xb, a, b = ya[chosen], xa[chosen], yb[chosen], xb[chosen], a[chosen], b[chosen]
                    occupant[ya, xa], occupant[yb, xb] = b, a
                    moved = features[b] - features[a]  # what cell a gained; cell b gained the opposite
                    # Cells that see a (or b) at offset (kx, ky). The applied swaps lie more than `radius`
                    # apart, so within one offset no cell is reached twice and a plain indexed += is exact
                    # (np.add.at, which allows repeats, took two thirds of a sweep's time).
                    for kx, ky, weight in kernel:
                        for cy, cx, sign in ((ya, xa, 1.0), (yb, xb, -1.0)):
                            ty, tx = cy - ky, cx - kx
                            ok = (ty >= 0) & (ty < rows) & (tx >= 0) & (tx < cols)
                            sums[ty[ok], tx[ok]] += sign * weight * moved[ok]
                    swapped += len(chosen)
        bar.update()
        bar.set_postfix(swapped=swapped, refresh=False)
        if swapped < max(1, SETTLED_SHARE * len(cells)):  # the last sweeps of 100,000 swapped a few dozen, 9 s each
            break
    bar.close()
    out = np.zeros_like(cells)
    row_index, col_index = np.nonzero(occupant >= 0)
    out[occupant[row_index, col_index]] = np.column_stack([col_index, row_index])
    return out


def _apart(candidates, change, ya, xa, yb, xb, rows, cols, radius) -> np.ndarray:
    """The candidate swaps to apply, best first, none within `radius` cells of another applied one."""
    taken = np.zeros((rows + 2 * radius, cols + 2 * radius), bool)  # cells of applied swaps, padded
    chosen = []
    for index in candidates[np.argsort(change[candidates], kind="stable")]:
        y0, y1 = min(ya[index], yb[index]), max(ya[index], yb[index]) + 2 * radius + 1
        x0, x1 = min(xa[index], xb[index]), max(xa[index], xb[index]) + 2 * radius + 1
        if not taken[y0:y1, x0:x1].any():
            taken[ya[index] + radius, xa[index] + radius] = taken[yb[index] + radius, xb[index] + radius] = True
            chosen.append(index)
    return np.array(chosen, dtype=int)


def sort_with_flas(features: np.ndarray, cols: int, rows: int, seed: int = 0) -> np.ndarray:
    """(N, 2) int array of (col, row) from FLAS on the feature vectors; the same seed, the same grid."""
    from vc_flas import Grid, flas

    count = len(features)
    if count > cols * rows:
        raise PipelineError(f"{count} images do not fit a {cols}x{rows} grid")
    if cols < 2 or rows < 2:
        raise PipelineError("FLAS needs a grid of at least 2x2")
    slots = np.concatenate([np.arange(count), np.full(cols * rows - count, -1)]).reshape(rows, cols)
    grid = Grid(features.astype(np.float32), slots.astype(np.int32), np.zeros((rows, cols), dtype=bool),
                np.arange(count, dtype=np.int32))
    sorting = flas(grid, seed=seed).sorting
    cells = np.zeros((count, 2), dtype=int)
    rows_index, cols_index = np.nonzero(sorting >= 0)
    cells[sorting[rows_index, cols_index]] = np.column_stack([cols_index, rows_index])
    return cells


def sort_with_rasterfairy(points: np.ndarray, cols: int, rows: int) -> np.ndarray:
    """(N, 2) int array of (col, row) by the original's RasterFairy, on points scaled to the grid."""
    count = len(points)
    if count > cols * rows:
        raise PipelineError(f"{count} images do not fit a {cols}x{rows} grid")
    with _numpy_aliases_for_rasterfairy():
        try:
            import rasterfairy
        except ImportError:
            raise PipelineError("grid method rasterfairy needs `pip install --no-deps rasterfairy==1.0.6` "
                                "(done by make setup)") from None
        holes = np.zeros(cols * rows, dtype=int)
        holes[count:] = 1  # RasterFairy's mask marks unusable cells with 1
        target = {"width": cols, "height": rows, "mask": holes.reshape(rows, cols), "count": count, "hex": False}
        placed, _ = rasterfairy.transformPointCloud2D(scale_to_grid(np.asarray(points, float), cols, rows),
                                                      target=target)
    cells = np.rint(placed).astype(int)
    if len({tuple(cell) for cell in cells}) != count:
        raise PipelineError("RasterFairy put two images in one cell (points with identical coordinates?)")
    return cells


@contextlib.contextmanager
def _numpy_aliases_for_rasterfairy():
    """RasterFairy 1.0.6 uses np.float and np.int, which numpy 1.24 removed; lend them while it runs."""
    added = [name for name in ("float", "int") if name not in np.__dict__]
    for name in added:
        setattr(np, name, {"float": float, "int": int}[name])
    try:
        yield
    finally:
        for name in added:
            delattr(np, name)


PLACE_NEAR = 10  # existing pictures whose cells decide where an added picture may go
CANDIDATE_CELLS = 32  # free cells nearest its target, and a quarter as many nearest each of those pictures
PLACE_RADIUS = 1  # cells: the grid neighbourhood an added picture should resemble (1: its 8 neighbours)
PLACE_AT_ONCE = 500  # added pictures assigned in one exact assignment


def place_additions(ids: list[str], features: np.ndarray, previous: pd.DataFrame, cols: int, rows: int,
                    aspect: float = 1.0, spare: float = 0.0, compact: bool = False) -> tuple[np.ndarray, np.ndarray,
                                                                                               int, int, dict]:
    """A stable layout: the pictures of the `previous` layout (id, col, row[, placed]) of a cols x rows grid
    keep their cells, removed ones leave theirs free, and added ones go to free cells near the pictures
    they resemble most.

    Each added picture may go to the free cells nearest the median cell of its PLACE_NEAR most similar
    kept pictures (its target) and nearest each of their cells; it costs the mean squared feature distance
    to the kept pictures within PLACE_RADIUS cells of the free cell (weighted by 1 / squared grid distance,
    as swap_refine weighs them), and one exact assignment gives each its cell so that the total cost is least,
    PLACE_AT_ONCE pictures at a time in target order. Measured against placing each by its target alone
    (bench/growth.py), this puts added pictures among pictures of their subjects more often.
    When the free cells are too few the grid grows at its right and bottom edges, keeping `aspect`, until
    the added pictures fit (no picture moves). With `compact`, a grid larger than a fresh one (keeping
    `spare` free) for these pictures shrinks to it: the pictures outside it are placed again like added ones.

    Returns (cells (N, 2), placed (N,): the addition that placed each picture, 0 for the fresh layout,
    cols, rows, report: counts of kept, added, removed, moved pictures and the grid's growth).
    """
    from scipy.optimize import linear_sum_assignment
    from scipy.spatial import cKDTree

    from neighbours import nearest_among

    before = {key: (int(col), int(row)) for key, col, row in previous[["id", "col", "row"]].itertuples(index=False)}
    if len(set(before.values())) != len(previous) or min((min(cell) for cell in before.values()), default=0) < 0:
        raise PipelineError("the previous layout is not one: it puts two pictures in one cell, names one twice, "
                            "or has a negative cell")
    generation = dict(zip(previous["id"], previous["placed"], strict=True)) if "placed" in previous else {}
    row_of = {key: index for index, key in enumerate(ids)}
    report = {"previous": len(before), "removed": sum(key not in row_of for key in before),
              "grid_before": f"{cols}x{rows}"}
    if compact:
        small_cols, small_rows = grid_size_with_spare("auto", len(ids), aspect, spare)
        cols, rows = min(cols, small_cols), min(rows, small_rows)
    kept = [key for key in ids if key in before and before[key][0] < cols and before[key][1] < rows]
    report["moved"] = sum(key in before for key in ids) - len(kept)  # outside a compacted grid
    kept_set = set(kept)
    added = [key for key in ids if key not in kept_set]
    if not kept:
        raise PipelineError("none of the previous layout's pictures is left to keep: lay the collection out fresh "
                            "(layout.mode: fresh)")
    cells = np.zeros((len(ids), 2), dtype=int)
    placed = np.zeros(len(ids), dtype=int)
    kept_rows = np.array([row_of[key] for key in kept])
    cells[kept_rows] = [before[key] for key in kept]
    placed[kept_rows] = [int(generation.get(key, 0)) for key in kept]
    this_addition = (max(generation.values(), default=0) if generation else 0) + 1
    # Grow at the right and bottom edges (no kept cell moves) until the free cells hold the added pictures.
    while cols * rows - len(kept) < len(added):
        if cols / rows < aspect:
            cols += 1
        else:
            rows += 1
    report.update(kept=len(kept), added=len(added), grid=f"{cols}x{rows}")
    if added:
        occupant = np.full((rows + 2 * PLACE_RADIUS, cols + 2 * PLACE_RADIUS), -1)
        occupant[cells[kept_rows, 1] + PLACE_RADIUS, cells[kept_rows, 0] + PLACE_RADIUS] = kept_rows
        added_rows = np.array([row_of[key] for key in added])
        near = nearest_among(features[kept_rows], features[added_rows], PLACE_NEAR)
        near_cells = cells[kept_rows][near]  # (added, PLACE_NEAR, 2)
        targets = np.median(near_cells, axis=1)
        order = np.lexsort((targets[:, 0], targets[:, 1]))
        features = np.asarray(features, dtype=np.float64)
        squares = (features ** 2).sum(axis=1)
        offsets = [(dx, dy, 1.0 / (dx * dx + dy * dy)) for dy in range(-PLACE_RADIUS, PLACE_RADIUS + 1)
                   for dx in range(-PLACE_RADIUS, PLACE_RADIUS + 1) if (dx, dy) != (0, 0)]
        distances = []
        for start in range(0, len(order), PLACE_AT_ONCE):
            batch = order[start:start + PLACE_AT_ONCE]
            inside = occupant[PLACE_RADIUS:rows + PLACE_RADIUS, PLACE_RADIUS:cols + PLACE_RADIUS]
            free_rows, free_cols = np.nonzero(inside < 0)
            free = np.column_stack([free_cols, free_rows])
            tree = cKDTree(free)
            reach = min(len(free), max(CANDIDATE_CELLS, len(batch)))
            allowed = [tree.query(targets[batch], k=reach)[1].reshape(len(batch), -1)]
            beside = tree.query(near_cells[batch].reshape(-1, 2), k=min(len(free), max(1, CANDIDATE_CELLS // 4)))[1]
            allowed.append(beside.reshape(len(batch), -1))
            allowed = np.concatenate(allowed, axis=1)
            candidates = np.unique(allowed)
            members = added_rows[batch]
            cost = _neighbourhood_cost(features, squares, members, occupant, free[candidates], offsets)
            mask = np.ones_like(cost, bool)
            mask[np.arange(len(batch))[:, None], np.searchsorted(candidates, allowed)] = False
            cost[mask] = cost.max(initial=0) * 10 + 1  # a cell far from its likes: only when nothing else is left
            picked, columns = linear_sum_assignment(cost)
            chosen = free[candidates[columns]]
            cells[members[picked]] = chosen
            occupant[chosen[:, 1] + PLACE_RADIUS, chosen[:, 0] + PLACE_RADIUS] = members[picked]
            distances.append(np.abs(chosen - targets[batch[picked]]).max(axis=1))
        placed[added_rows] = this_addition
        report["added_cells_from_target"] = float(np.mean(np.concatenate(distances)))
    return cells, placed, cols, rows, report


def _neighbourhood_cost(features, squares, members, occupant, cells, offsets) -> np.ndarray:
    """(members, cells): the weighted mean squared feature distance from each picture to the pictures around
    each free cell (occupant: the grid padded by PLACE_RADIUS, -1 where empty); a cell with nobody around
    costs more than any other."""
    sums = np.zeros((len(cells), features.shape[1]))
    square_sums, weights = np.zeros(len(cells)), np.zeros(len(cells))
    for dx, dy, weight in offsets:
        who = occupant[cells[:, 1] + PLACE_RADIUS + dy, cells[:, 0] + PLACE_RADIUS + dx]
        there = who >= 0
        sums[there] += weight * features[who[there]]
        square_sums[there] += weight * squares[who[there]]
        weights[there] += weight
    cost = weights[None] * squares[members, None] + square_sums[None] - 2 * features[members] @ sums.T
    return np.where(weights[None] > 0, cost / np.maximum(weights[None], 1e-12), cost.max(initial=0) + 1)


def save_grid(path, ids: list[str], cells: np.ndarray, cols: int, rows: int, placed: np.ndarray | None = None) -> None:
    """The grid file: '# grid COLSxROWS', then id,col,row and placed (which stable addition placed the
    picture: 0 for a fresh layout)."""
    placed = np.zeros(len(ids), dtype=int) if placed is None else placed
    with atomic_path(path) as temp:
        with open(temp, "w", encoding="utf-8") as handle:
            handle.write(f"# grid {cols}x{rows}\n")
            pd.DataFrame({"id": ids, "col": cells[:, 0], "row": cells[:, 1], "placed": placed}).to_csv(handle,
                                                                                                       index=False)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--in", "-in", dest="input", required=True,
                        help="embedding CSV (id,x,y) for lap; features .npz for flas")
    parser.add_argument("--method", "-method", choices=("lap", "flas", "rasterfairy"), default="lap")
    parser.add_argument("--seed", "-seed", type=int, default=0, help="random seed of flas")
    parser.add_argument("--out", "-out", dest="output", required=True, help="grid CSV (id,col,row) to write")
    parser.add_argument("--grid-size", "-grid", dest="grid", default="auto",
                        help="COLSxROWS, or 'auto' for the smallest near-square grid")
    parser.add_argument("--aspect", "-aspect", type=float, default=1.0,
                        help="columns / rows of an 'auto' grid (1: square)")
    parser.add_argument("--block", "-block", type=int, default=DEFAULT_BLOCK,
                        help="largest part solved exactly (cells)")
    parser.add_argument("--features", "-features", default=None, help="lap: features .npz for the swap refinement")
    parser.add_argument("--swap-radius", "-swap-radius", dest="swap_radius", type=int, default=SWAP_RADIUS,
                        help="lap: grid neighbourhood of the swap refinement, in cells (0: no refinement)")
    parser.add_argument("--swap-sweeps", "-swap-sweeps", dest="swap_sweeps", default="auto",
                        help=f"lap: most sweeps of the swap refinement, or auto ({SWAP_SWEEPS}; fewer from "
                             f"{FEWER_SWEEPS_FROM:,} images)")
    parser.add_argument("--previous", default=None,
                        help="a stable layout: the grid CSV to keep (e.g. a published site's layout.csv); --in is "
                             "then the features .npz, and only added pictures are placed")
    parser.add_argument("--spare", type=float, default=0.0,
                        help="share of cells a fresh lap layout keeps free, spread evenly, for later additions; "
                             "with --previous, the share left free when the grid must grow")
    parser.add_argument("--compact", action="store_true",
                        help="with --previous: shrink a grid that removals left too large (its outer pictures move)")
    args = parser.parse_args(argv)
    if not 0 <= args.spare <= 0.5:
        raise PipelineError(f"spare must be between 0 and 0.5, not {args.spare}")

    placed = None
    if args.previous:
        ids, features, _ = load_features(args.input)
        previous, cols, rows = read_grid(args.previous)
        print(f"grid: {len(ids)} images, keeping the {len(previous)} placed in {args.previous}", file=sys.stderr)
        cells, placed, cols, rows, report = place_additions(ids, features, previous, cols, rows, args.aspect,
                                                            args.spare, args.compact)
        print(f"grid: {report['kept']} pictures kept their cells, {report['moved']} moved, {report['added']} added, "
              f"{report['removed']} removed; grid {report['grid_before']} -> {report['grid']}"
              + (f"; added pictures {report['added_cells_from_target']:.1f} cells from their targets on average"
                 if report["added"] else ""), file=sys.stderr)
        save_grid(args.output, ids, cells, cols, rows, placed)
        print(f"grid: wrote {args.output}", file=sys.stderr)
        return
    if args.method == "flas":
        ids, vectors, _ = load_features(args.input)
    else:
        embedding = read_embedding(args.input)
        ids, vectors = embedding["id"].tolist(), embedding[["x", "y"]].to_numpy()
    if args.spare > 0 and args.method != "lap":
        raise PipelineError(f"spare cells (layout.spare) need grid method lap, not {args.method}")
    cols, rows = grid_size_with_spare(args.grid, len(ids), args.aspect, args.spare)
    print(f"grid: {len(ids)} images onto {cols}x{rows} by {args.method}", file=sys.stderr)
    if args.method == "flas":
        cells = sort_with_flas(vectors, cols, rows, args.seed)
    elif args.method == "rasterfairy":
        cells = sort_with_rasterfairy(vectors, cols, rows)
    else:
        free = spare_cells(cols, rows, len(ids), args.spare)
        if free.any():
            print(f"grid: {int(free.sum())} cells kept free for later additions", file=sys.stderr)
        cells = assign_to_grid(vectors, cols, rows, args.block, free)
        if args.features and args.swap_radius > 0:
            feature_ids, features, _ = load_features(args.features)
            row_of = {key: index for index, key in enumerate(feature_ids)}
            missing = [key for key in ids if key not in row_of]
            if missing:
                raise PipelineError(f"{len(missing)} ids of the embedding have no features in {args.features}, "
                                    f"e.g. {missing[0]}")
            cells = swap_refine(features[[row_of[key] for key in ids]], cells, cols, rows, args.swap_radius,
                                sweeps_for(len(ids), args.swap_sweeps), progress=True)
            print(f"grid: refined by swaps within {args.swap_radius} cells", file=sys.stderr)
    save_grid(args.output, ids, cells, cols, rows, placed)
    print(f"grid: wrote {args.output}", file=sys.stderr)


if __name__ == "__main__":
    run_cli(main)
