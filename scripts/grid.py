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
import sys

import numpy as np
import pandas as pd
from tqdm import tqdm

from common import PipelineError, atomic_path, resolve_grid_size, run_cli
from tables import load_features, read_embedding

DEFAULT_BLOCK = 512  # 13,000 points in about 4 s on 2 cores; exact below this size
SWAP_RADIUS = 4  # cells: how far a grid neighbourhood reaches in swap_refine
SWAP_SWEEPS = 25  # at most; "auto" runs fewer from FEWER_SWEEPS_FROM images (sweeps_for)
FEWER_SWEEPS_FROM = 200_000  # images
MIN_SWEEPS = 5


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
            block: int, out: np.ndarray) -> None:
    """Assign points[index] to cells in [col0,col1) x [row0,row1), recursively halving big regions."""
    width, height = col1 - col0, row1 - row0
    if width * height <= block or len(index) <= 1:
        cols, rows = np.meshgrid(np.arange(col0, col1), np.arange(row0, row1))
        cells = np.column_stack([cols.ravel(), rows.ravel()]).astype(float)
        chosen = _solve_exact(points[index], cells)
        out[index] = cells[chosen].astype(int)
        return
    axis = 0 if width >= height else 1
    if axis == 0:
        middle = col0 + width // 2
        first_cells = (middle - col0) * height
    else:
        middle = row0 + height // 2
        first_cells = width * (middle - row0)
    second_cells = width * height - first_cells
    # Share points in proportion to cells, never more than a half can hold.
    share = round(len(index) * first_cells / (first_cells + second_cells))
    share = min(first_cells, max(len(index) - second_cells, share))
    order = index[np.argsort(points[index, axis], kind="stable")]
    first, second = order[:share], order[share:]
    if axis == 0:
        _assign(points, first, col0, middle, row0, row1, block, out)
        _assign(points, second, middle, col1, row0, row1, block, out)
    else:
        _assign(points, first, col0, col1, row0, middle, block, out)
        _assign(points, second, col0, col1, middle, row1, block, out)


def assign_to_grid(points: np.ndarray, cols: int, rows: int, block: int = DEFAULT_BLOCK) -> np.ndarray:
    """Return an (N, 2) int array of (col, row), one distinct cell per point."""
    if len(points) > cols * rows:
        raise PipelineError(f"{len(points)} images do not fit a {cols}x{rows} grid")
    scaled = scale_to_grid(np.asarray(points, dtype=float), cols, rows)
    out = np.zeros((len(points), 2), dtype=int)
    _assign(scaled, np.arange(len(points)), 0, cols, 0, rows, block, out)
    return out


def swap_refine(features: np.ndarray, cells: np.ndarray, cols: int, rows: int, radius: int = SWAP_RADIUS,
                sweeps: int = SWAP_SWEEPS, progress: bool = False) -> np.ndarray:
    """Swap nearby images wherever that makes each one's grid neighbourhood more alike it in features.

    The assignment follows the 2-D embedding, so it keeps neighbourhoods only as well as t-SNE did;
    this pass looks at the features themselves. It lowers the sum, over pairs of images less than
    `radius` cells apart, of their squared feature distance divided by their squared grid distance.
    Each sweep tries every offset of SWAP_OFFSETS on a lattice of disjoint pairs of cells, computes
    every pair's change of that sum at once, and applies the improving swaps best first, skipping any
    within `radius` of one already applied (their changes would interact). Deterministic; empty cells
    stay where they are. Returns the new (N, 2) cells.
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
                    for kx, ky, weight in kernel:  # cells that see a (or b) at offset (kx, ky)
                        for cy, cx, sign in ((ya, xa, 1.0), (yb, xb, -1.0)):
                            ty, tx = cy - ky, cx - kx
                            ok = (ty >= 0) & (ty < rows) & (tx >= 0) & (tx < cols)
                            np.add.at(sums, (ty[ok], tx[ok]), sign * weight * moved[ok])
                    swapped += len(chosen)
        bar.update()
        bar.set_postfix(swapped=swapped, refresh=False)
        if not swapped:
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


def save_grid(path, ids: list[str], cells: np.ndarray, cols: int, rows: int) -> None:
    with atomic_path(path) as temp:
        with open(temp, "w", encoding="utf-8") as handle:
            handle.write(f"# grid {cols}x{rows}\n")
            pd.DataFrame({"id": ids, "col": cells[:, 0], "row": cells[:, 1]}).to_csv(handle, index=False)


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
    args = parser.parse_args(argv)

    if args.method == "flas":
        ids, vectors, _ = load_features(args.input)
    else:
        embedding = read_embedding(args.input)
        ids, vectors = embedding["id"].tolist(), embedding[["x", "y"]].to_numpy()
    cols, rows = resolve_grid_size(args.grid, len(ids), args.aspect)
    print(f"grid: {len(ids)} images onto {cols}x{rows} by {args.method}", file=sys.stderr)
    if args.method == "flas":
        cells = sort_with_flas(vectors, cols, rows, args.seed)
    elif args.method == "rasterfairy":
        cells = sort_with_rasterfairy(vectors, cols, rows)
    else:
        cells = assign_to_grid(vectors, cols, rows, args.block)
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
    save_grid(args.output, ids, cells, cols, rows)
    print(f"grid: wrote {args.output}", file=sys.stderr)


if __name__ == "__main__":
    run_cli(main)
