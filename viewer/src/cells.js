/**
 * Grid geometry: image pixel coordinates <-> grid cells <-> items. Pure, for hit-testing.
 * Cell (col,row) covers x in [col*cellWidth, (col+1)*cellWidth) and y likewise.
 */

/** The cell under image point (x, y), or null outside the mosaic. */
export function cellAt(x, y, grid) {
  if (!Number.isFinite(x) || !Number.isFinite(y) || x < 0 || y < 0) return null;
  const col = Math.floor(x / grid.cellWidth);
  const row = Math.floor(y / grid.cellHeight);
  if (col >= grid.cols || row >= grid.rows) return null;
  return { col, row };
}

/** Item index at (col,row) through the cell->item index, or -1 for an empty cell. */
export function itemAtCell(index, col, row) {
  const { cols, rows } = index.grid;
  if (col < 0 || row < 0 || col >= cols || row >= rows) return -1;
  return index.cellItem[row * cols + col];
}

/** Item index under image point (x, y), or -1. */
export function itemAtImagePoint(index, x, y) {
  const cell = cellAt(x, y, index.grid);
  return cell ? itemAtCell(index, cell.col, cell.row) : -1;
}

/** Image-pixel rectangle of a cell, for drawing the hover outline. */
export function cellRect(col, row, grid) {
  return { x: col * grid.cellWidth, y: row * grid.cellHeight, width: grid.cellWidth, height: grid.cellHeight };
}

/**
 * The two-way maps between items and cells for a cell column (item i's cell row·cols+col, Uint32Array, one
 * per item position): col, row (-1 outside the grid) and cellItem (-1 = empty cell), plus how many items lay
 * outside the grid or shared a cell (the later one wins). One pass, shared by every arrangement of the mosaic.
 */
export function cellMaps(cell, grid, count) {
  const size = grid.cols * grid.rows;
  const col = new Int32Array(count), row = new Int32Array(count);
  const cellItem = new Int32Array(size).fill(-1);
  let outside = 0, clashes = 0;
  for (let i = 0; i < count; i++) {
    const c = cell[i];
    if (c >= size) { outside++; col[i] = row[i] = -1; continue; }
    col[i] = c % grid.cols;
    row[i] = (c - col[i]) / grid.cols;
    if (cellItem[c] !== -1) clashes++;
    cellItem[c] = i;
  }
  return { cell, col, row, cellItem, outside, clashes };
}

/**
 * The cells' box [col0, row0, col1, row1] (inclusive) of `items` in the index's current arrangement, or null
 * when none of them has a cell there.
 */
export function itemsBox(index, items) {
  let c0 = Infinity, r0 = Infinity, c1 = -1, r1 = -1;
  for (const i of items) {
    const c = index.col[i], r = index.row[i];
    if (c < 0) continue;
    if (c < c0) c0 = c;
    if (c > c1) c1 = c;
    if (r < r0) r0 = r;
    if (r > r1) r1 = r;
  }
  return c1 < 0 ? null : [c0, r0, c1, r1];
}

/**
 * The outline of the region the cells of `items` cover in the index's current arrangement (a hotspot, a
 * selection): the cell edges
 * between a member cell and a cell that is not one (or the grid's border), as segments x0, y0, x1, y1 in
 * grid units (cell (c, r) spans [c, c + 1] x [r, r + 1]), runs along a row or column joined into one. Drawn
 * as it is at any zoom, this shows a region where a cell is too small for outlines of its own.
 */
export function itemsOutline(index, items) {
  const box = itemsBox(index, items);
  if (!box) return new Float64Array(0);
  const [c0, r0, c1, r1] = box; // only the box's edges can be the region's
  const width = c1 - c0 + 1;
  const inside = new Uint8Array(width * (r1 - r0 + 1));
  for (const i of items) {
    const c = index.col[i];
    if (c >= 0) inside[(index.row[i] - r0) * width + c - c0] = 1;
  }
  const at = (c, r) => (c >= c0 && r >= r0 && c <= c1 && r <= r1 ? inside[(r - r0) * width + c - c0] : 0);
  const segments = [];
  // Horizontal edges: above row r (between rows r - 1 and r), for r = r0 .. r1 + 1; vertical ones likewise.
  for (let r = r0; r <= r1 + 1; r++) {
    let run = -1;
    for (let c = c0; c <= c1 + 1; c++) {
      const edge = c <= c1 && at(c, r) !== at(c, r - 1);
      if (edge && run < 0) run = c;
      if (!edge && run >= 0) { segments.push(run, r, c, r); run = -1; }
    }
  }
  for (let c = c0; c <= c1 + 1; c++) {
    let run = -1;
    for (let r = r0; r <= r1 + 1; r++) {
      const edge = r <= r1 && at(c, r) !== at(c - 1, r);
      if (edge && run < 0) run = r;
      if (!edge && run >= 0) { segments.push(c, run, c, r); run = -1; }
    }
  }
  return Float64Array.from(segments);
}
