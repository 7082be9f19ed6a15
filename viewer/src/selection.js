/**
 * Lasso and rectangle selection on the mosaic: which cells' centres fall inside a shape drawn over it, and
 * the items in them. Shapes are in grid units (x = image x / cellWidth, y = image y / cellHeight), so cell
 * (c, r) has its centre at (c + 0.5, r + 0.5) whatever the cell size. A polygon is filled by scanlines
 * through the rows' centres (the even-odd rule, as the canvas draws it): the cost is the rows it spans times
 * its corners plus the cells inside, so a lasso round thousands of cells stays well within a frame. Pure.
 */

/** Is point (x, y) inside the polygon [x0, y0, x1, y1, ...] (even-odd rule, closed implicitly)? */
export function pointInPolygon(x, y, polygon) {
  let inside = false;
  const n = polygon.length / 2;
  for (let k = 0, j = n - 1; k < n; j = k++) {
    const xk = polygon[2 * k], yk = polygon[2 * k + 1], xj = polygon[2 * j], yj = polygon[2 * j + 1];
    if ((yk > y) !== (yj > y) && x < ((xj - xk) * (y - yk)) / (yj - yk) + xk) inside = !inside;
  }
  return inside;
}

/**
 * Indices (row·cols + col) of the cells of `grid` whose centres lie inside the polygon [x0, y0, x1, y1, ...]
 * (grid units), row by row, left to right. Fewer than three corners select nothing.
 */
export function cellsInPolygon(polygon, grid) {
  const n = polygon.length / 2;
  const out = [];
  if (n < 3) return out;
  let top = Infinity, bottom = -Infinity;
  for (let k = 0; k < n; k++) {
    top = Math.min(top, polygon[2 * k + 1]);
    bottom = Math.max(bottom, polygon[2 * k + 1]);
  }
  const r0 = Math.max(0, Math.ceil(top - 0.5)), r1 = Math.min(grid.rows - 1, Math.floor(bottom - 0.5));
  const crossings = [];
  for (let r = r0; r <= r1; r++) {
    const y = r + 0.5;
    crossings.length = 0;
    for (let k = 0, j = n - 1; k < n; j = k++) {
      const xk = polygon[2 * k], yk = polygon[2 * k + 1], xj = polygon[2 * j], yj = polygon[2 * j + 1];
      if ((yk > y) !== (yj > y)) crossings.push(((xj - xk) * (y - yk)) / (yj - yk) + xk);
    }
    crossings.sort((a, b) => a - b);
    for (let k = 0; k + 1 < crossings.length; k += 2) {
      // centres c + 0.5 with a <= c + 0.5 < b (pointInPolygon's x < crossing, counted from the left)
      const first = Math.max(0, Math.ceil(crossings[k] - 0.5));
      const last = Math.min(grid.cols - 1, Math.ceil(crossings[k + 1] - 0.5) - 1);
      for (let c = first; c <= last; c++) out.push(r * grid.cols + c);
    }
  }
  return out;
}

/** The polygon (grid units) of the rectangle spanned by two corners, for cellsInPolygon. */
export function rectanglePolygon(a, b) {
  return [a.x, a.y, b.x, a.y, b.x, b.y, a.x, b.y];
}

/**
 * Selection flags (Uint8Array per item position, 1 = selected) for the items in `cells` of the index's
 * current arrangement (empty cells are skipped); with how many.
 */
export function itemsInCells(index, cells) {
  const flags = new Uint8Array(index.count);
  let n = 0;
  for (const cell of cells) {
    const i = index.cellItem[cell];
    if (i >= 0 && !flags[i]) { flags[i] = 1; n++; }
  }
  return { flags, n };
}

/** A copy of `selection` ({flags, n}, or null: nothing selected) with item i added or taken out. */
export function toggleItem(selection, i, count) {
  const flags = selection ? selection.flags.slice() : new Uint8Array(count);
  flags[i] = flags[i] ? 0 : 1;
  const n = (selection ? selection.n : 0) + (flags[i] ? 1 : -1);
  return n > 0 ? { flags, n } : null;
}
