import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cellsInPolygon, itemsInCells, pointInPolygon, rectanglePolygon, toggleItem } from '../src/selection.js';
import { makeIndex } from './fixtures.mjs';

const grid = { cols: 40, rows: 30 };
/** The cells whose centres pointInPolygon puts inside: the slow, obvious answer. */
const bruteForce = (polygon) => {
  const out = [];
  for (let r = 0; r < grid.rows; r++) for (let c = 0; c < grid.cols; c++) if (pointInPolygon(c + 0.5, r + 0.5, polygon)) out.push(r * grid.cols + c);
  return out;
};

test('pointInPolygon: inside, outside, in a notch, in a hole of a self-crossing shape (even-odd)', () => {
  const square = [0, 0, 4, 0, 4, 4, 0, 4];
  assert.equal(pointInPolygon(2, 2, square), true);
  assert.equal(pointInPolygon(5, 2, square), false);
  const notched = [0, 0, 6, 0, 6, 6, 4, 6, 4, 2, 2, 2, 2, 6, 0, 6]; // a U
  assert.equal(pointInPolygon(3, 4, notched), false);
  assert.equal(pointInPolygon(1, 4, notched), true);
  const bowtie = [0, 0, 4, 4, 4, 0, 0, 4]; // its left and right triangles
  assert.equal(pointInPolygon(1, 2, bowtie), true);
  assert.equal(pointInPolygon(2, 1, bowtie), false);
});

test('cellsInPolygon selects exactly the cells whose centres are inside, as the point test says', () => {
  const shapes = {
    triangle: [1.2, 1.7, 30.4, 3.1, 12.9, 25.3],
    star: [20, 2, 23, 11, 33, 11, 25, 17, 28, 27, 20, 21, 12, 27, 15, 17, 7, 11, 17, 11],
    lasso: Array.from({ length: 90 }, (_, k) => {
      const t = (k / 45) * Math.PI;
      const r = 9 + 4 * Math.sin(5 * t);
      return [20 + r * Math.cos(t), 15 + r * Math.sin(t)];
    }).flat(),
    'beyond the grid': [-5, -5, 50, -5, 50, 3.2, -5, 3.2],
    'on centres': [0.5, 0.5, 3.5, 0.5, 3.5, 2.5, 0.5, 2.5],
  };
  for (const [name, polygon] of Object.entries(shapes)) {
    const cells = cellsInPolygon(polygon, grid);
    assert.deepEqual(cells, bruteForce(polygon), name);
    assert.ok(cells.length > 0, `${name} selects something`);
  }
  assert.equal(cellsInPolygon(shapes['beyond the grid'], grid).length, 3 * 40, 'clipped to the grid');
  assert.deepEqual(cellsInPolygon([1, 1, 3, 3], grid), [], 'a line selects nothing');
});

test('a rectangle between two corners, dragged either way, selects the cells with centres inside', () => {
  const a = { x: 2.2, y: 1.4 }, b = { x: 5.6, y: 3.6 };
  const expected = [1, 2, 3].flatMap((r) => [2, 3, 4, 5].map((c) => r * grid.cols + c)); // centres 2.5 .. 5.5, 1.5 .. 3.5
  assert.deepEqual(cellsInPolygon(rectanglePolygon(a, b), grid), expected);
  assert.deepEqual(cellsInPolygon(rectanglePolygon(b, a), grid), expected);
});

test('itemsInCells maps cells to items through the current arrangement, skipping empty cells', async () => {
  const index = await makeIndex();
  const { flags, n } = itemsInCells(index, [0, 5, 10, 11, 5]);
  assert.equal(n, 2);
  assert.deepEqual([...flags].flatMap((f, i) => (f ? [i] : [])), [0, 5]);
});

test('toggleItem adds and takes out one item; an empty selection is null', () => {
  let selection = toggleItem(null, 3, 10);
  assert.equal(selection.n, 1);
  assert.equal(selection.flags[3], 1);
  const before = selection;
  selection = toggleItem(selection, 4, 10);
  assert.equal(selection.n, 2);
  assert.equal(before.n, 1, 'the old selection is left as it was');
  selection = toggleItem(toggleItem(selection, 3, 10), 4, 10);
  assert.equal(selection, null);
});

test('a lasso round 1,000 cells of a 13,000-cell grid takes well under a frame', () => {
  const big = { cols: 115, rows: 114 };
  const circle = Array.from({ length: 400 }, (_, k) => {
    const t = (k / 200) * Math.PI;
    return [57 + 17.85 * Math.cos(t), 57 + 17.85 * Math.sin(t)];
  }).flat();
  const started = performance.now();
  const cells = cellsInPolygon(circle, big);
  const ms = performance.now() - started;
  assert.ok(Math.abs(cells.length - 1000) < 30, `about 1,000 cells: ${cells.length}`);
  assert.ok(ms < 16, `${ms.toFixed(2)} ms`);
});
