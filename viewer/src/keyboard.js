/**
 * Keyboard focus cell on the mosaic: which cell an arrow key moves to, where it starts,
 * how far the view must pan to keep it visible, and what a screen reader hears. Pure.
 */
import { displayDate } from './data.js';

const DELTAS = {
  ArrowLeft: [-1, 0],
  ArrowRight: [1, 0],
  ArrowUp: [0, -1],
  ArrowDown: [0, 1],
};

/** [dcol, drow] for an arrow key name (KeyboardEvent.key), or null for any other key. */
export function arrowDelta(key) {
  return DELTAS[key] || null;
}

/** The cell one step from `cell` in the direction of `key`, kept inside the grid. */
export function moveCell(cell, key, grid) {
  const d = arrowDelta(key);
  if (!d) return cell;
  return {
    col: Math.min(grid.cols - 1, Math.max(0, cell.col + d[0])),
    row: Math.min(grid.rows - 1, Math.max(0, cell.row + d[1])),
  };
}

/** The grid cell containing image point (x, y), clamped into the grid (for the view's centre). */
export function clampedCell(x, y, grid) {
  const col = Math.floor((Number.isFinite(x) ? x : 0) / grid.cellWidth);
  const row = Math.floor((Number.isFinite(y) ? y : 0) / grid.cellHeight);
  return {
    col: Math.min(grid.cols - 1, Math.max(0, col)),
    row: Math.min(grid.rows - 1, Math.max(0, row)),
  };
}

/**
 * Shift {x, y} to apply to a view rectangle {x, y, width, height} so that `rect` (same units)
 * lies inside it with `margin` to spare on each side; {x: 0, y: 0} when it already does.
 * A rect too big for the view (with margins) is centred instead.
 */
export function panToShow(rect, view, margin = 0) {
  const axis = (start, size, vStart, vSize) => {
    const m = Math.min(margin, Math.max(0, (vSize - size) / 2));
    if (size + 2 * m > vSize) return start + size / 2 - (vStart + vSize / 2);
    if (start - m < vStart) return start - m - vStart;
    if (start + size + m > vStart + vSize) return start + size + m - (vStart + vSize);
    return 0;
  };
  return {
    x: axis(rect.x, rect.width, view.x, view.width),
    y: axis(rect.y, rect.height, view.y, view.height),
  };
}

/** Does `rect` overlap `view` at all? (both {x, y, width, height}) */
export function intersects(rect, view) {
  return rect.x < view.x + view.width && rect.x + rect.width > view.x
    && rect.y < view.y + view.height && rect.y + rect.height > view.y;
}

/** The item in cell (col, row), or -1 for an empty cell or one outside the grid. */
export function itemAt(index, col, row) {
  const inGrid = col >= 0 && row >= 0 && col < index.grid.cols && row < index.grid.rows;
  return inGrid ? index.cellItem[row * index.grid.cols + col] : -1;
}

/**
 * What the live region says about a cell: "<title>, <date label>, row R, column C"
 * (1-based), or "Empty cell, row R, column C". `rec` is the cell's item's record (data.js), null
 * for an empty cell.
 */
export function describeCell(rec, col, row) {
  const where = `row ${row + 1}, column ${col + 1}`;
  if (!rec) return `Empty cell, ${where}`;
  return `${rec.title || 'Untitled'}, ${displayDate(rec) || 'date unknown'}, ${where}`;
}

/**
 * The largest part of `area` that `cover` (a panel floating over it) leaves free: the strip
 * left, right, above or below the cover, whichever is biggest. Rectangles are
 * {left, top, right, bottom} in the same pixels; `area` itself when nothing covers it.
 */
export function freeArea(rect, cover) {
  // Copy the fields: a DOMRect keeps them as getters, which object spread would lose.
  const area = { left: rect.left, top: rect.top, right: rect.right, bottom: rect.bottom };
  if (!cover || cover.right <= area.left || cover.left >= area.right
    || cover.bottom <= area.top || cover.top >= area.bottom) return area;
  const strips = [
    { ...area, right: Math.max(area.left, cover.left) },
    { ...area, left: Math.min(area.right, cover.right) },
    { ...area, bottom: Math.max(area.top, cover.top) },
    { ...area, top: Math.min(area.bottom, cover.bottom) },
  ];
  const size = (r) => (r.right - r.left) * (r.bottom - r.top);
  return strips.reduce((best, r) => (size(r) > size(best) ? r : best));
}
