/**
 * Arrangements of the mosaic (collection.json `arrangements`, viewer/README.md "Exploring"): the similarity
 * grid every site has, and others (by date, by subject) with a pyramid, grid and cell column of their own.
 * An arrangement only moves the items to other cells: the items, their positions and every filter stay the
 * same, so switching swaps the index's grid and cell maps (a *layout*) and nothing else. Everything that
 * maps cells to items (hover, clicks, the mask, outlines, the keyboard) reads them from the index, so it
 * follows the arrangement on screen. Pure: no DOM.
 */
import { cellMaps } from './cells.js';

export const SIMILARITY = 'similarity';
const NAME = /^[A-Za-z0-9_-]{1,40}$/; // an arrangement's name goes in the URL hash as it is

const positiveInt = (v) => Number.isInteger(v) && v > 0;

/** [col0, row0, col1, row1] (inclusive) inside the grid, or null. */
function cellBox(box, grid) {
  if (!Array.isArray(box) || box.length !== 4 || !box.every(Number.isInteger)) return null;
  const [c0, r0, c1, r1] = box;
  if (c0 < 0 || r0 < 0 || c1 < c0 || r1 < r0 || c1 >= grid.cols || r1 >= grid.rows) return null;
  return [c0, r0, c1, r1];
}

/**
 * The arrangements a site offers, similarity first (from `grid` and `tiles`, whatever the list says about
 * it), then each valid other one: {name, label, dzi, width, height, grid, cells (path of its cell column, null
 * for similarity: cells.bin), groups: [{label, count, box}]}. Malformed entries are left out with a warning,
 * because a wrong grid would map clicks to the wrong photographs.
 * @returns {{arrangements: object[], warnings: string[]}}
 */
export function parseArrangements(collection, grid) {
  const tiles = collection.tiles || {};
  const arrangements = [{
    name: SIMILARITY, label: 'Similarity', dzi: tiles.dzi, width: tiles.width, height: tiles.height,
    grid, cells: null, groups: [],
  }];
  const warnings = [];
  const listed = Array.isArray(collection.arrangements) ? collection.arrangements : [];
  for (const a of listed) {
    if (!a || typeof a !== 'object' || a.name === SIMILARITY) continue;
    const g = a.grid || {};
    const ok = typeof a.name === 'string' && NAME.test(a.name) && !arrangements.some((b) => b.name === a.name)
      && typeof a.dzi === 'string' && a.dzi && typeof a.cells === 'string' && a.cells
      && [g.cols, g.rows, g.cellWidth, g.cellHeight].every(positiveInt);
    if (!ok) {
      warnings.push(`collection.json: arrangement ${JSON.stringify(a.name)} is incomplete and left out`);
      continue;
    }
    const own = { cols: g.cols, rows: g.rows, cellWidth: g.cellWidth, cellHeight: g.cellHeight };
    const groups = (Array.isArray(a.groups) ? a.groups : []).flatMap((group) => {
      const box = cellBox(group?.box, own);
      return box ? [{ label: String(group.label ?? ''), count: Number(group.count) || 0, box }] : [];
    });
    arrangements.push({
      name: a.name, label: String(a.label || a.name), dzi: a.dzi,
      width: Number(a.width) || own.cols * own.cellWidth, height: Number(a.height) || own.rows * own.cellHeight,
      grid: own, cells: a.cells, groups,
    });
  }
  return { arrangements, warnings };
}

/** The arrangement called `name`, else null (a link naming one the site lacks is ignored). */
export function findArrangement(index, name) {
  return index.arrangements.find((a) => a.name === name) ?? null;
}

/**
 * The layout of `arrangement` from its cell column (Uint32Array, one cell per item position): the grid and
 * the two-way maps (cells.js cellMaps), with warnings for items outside the grid or sharing a cell.
 */
export function makeLayout(arrangement, cell, count) {
  const warnings = [];
  let n = count;
  if (cell.length !== count) {
    warnings.push(`the ${arrangement.name} arrangement has ${cell.length} cells for ${count} items`);
    n = Math.min(count, cell.length);
  }
  const maps = cellMaps(cell, arrangement.grid, n);
  if (n < count) { // items without a cell in this arrangement: outside the grid, so never hit
    const col = new Int32Array(count).fill(-1), row = new Int32Array(count).fill(-1);
    col.set(maps.col);
    row.set(maps.row);
    Object.assign(maps, { col, row });
  }
  if (maps.outside) warnings.push(`${maps.outside} item(s) lie outside the ${arrangement.name} grid`);
  if (maps.clashes) warnings.push(`${maps.clashes} item(s) share a cell in the ${arrangement.name} arrangement`);
  return { arrangement, grid: arrangement.grid, cell: maps.cell, col: maps.col, row: maps.row, cellItem: maps.cellItem, warnings };
}

/** An arrangement's layout before its cells are known: its grid, every cell empty (the mosaic can open). */
export function emptyLayout(arrangement, count) {
  const { grid } = arrangement;
  return {
    arrangement, grid, cell: new Uint32Array(0), col: new Int32Array(count).fill(-1), row: new Int32Array(count).fill(-1),
    cellItem: new Int32Array(grid.cols * grid.rows).fill(-1), warnings: [],
  };
}

/** Make `layout` the index's (returned): its grid and cell maps are what hit-testing, masks and outlines read. */
export function applyLayout(index, layout) {
  Object.assign(index, {
    arrangement: layout.arrangement, grid: layout.grid,
    cell: layout.cell, col: layout.col, row: layout.row, cellItem: layout.cellItem,
  });
  return layout;
}

/**
 * The groups of an arrangement in sight, as their screen rectangles clipped to the view ({width, height}):
 * `toScreen(col, row)` maps a grid corner to pixels. The viewer draws each label at the top left of its
 * clipped box, so a label stays in view while any of its group is (and leaves out those too narrow for it).
 * @returns {{label, x, y, width, height}[]}
 */
export function visibleGroups(groups, toScreen, view) {
  const out = [];
  for (const g of groups) {
    const [c0, r0, c1, r1] = g.box;
    const a = toScreen(c0, r0), b = toScreen(c1 + 1, r1 + 1);
    const x = Math.max(a.x, 0), y = Math.max(a.y, 0);
    const right = Math.min(b.x, view.width), bottom = Math.min(b.y, view.height);
    if (right <= x || bottom <= y) continue;
    out.push({ label: g.label, x, y, width: right - x, height: bottom - y });
  }
  return out;
}
