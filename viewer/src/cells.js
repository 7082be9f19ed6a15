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
