import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cellAt, cellRect, itemAtCell, itemAtImagePoint } from '../src/cells.js';
import { makeIndex, makeItems } from './fixtures.mjs';

const index = await makeIndex();
const grid = index.grid; // 4 x 3 cells of 10 x 20 px

test('cellAt uses half-open cell bounds', () => {
  assert.deepEqual(cellAt(0, 0, grid), { col: 0, row: 0 });
  assert.deepEqual(cellAt(9.99, 19.99, grid), { col: 0, row: 0 });
  assert.deepEqual(cellAt(10, 20, grid), { col: 1, row: 1 });
  assert.deepEqual(cellAt(39.5, 59.5, grid), { col: 3, row: 2 });
});

test('cellAt is null outside the mosaic', () => {
  assert.equal(cellAt(-0.1, 5, grid), null);
  assert.equal(cellAt(5, -1, grid), null);
  assert.equal(cellAt(40, 5, grid), null);
  assert.equal(cellAt(5, 60, grid), null);
  assert.equal(cellAt(NaN, 5, grid), null);
});

test('image point -> item, -1 for empty cells and outside', () => {
  assert.equal(itemAtImagePoint(index, 25, 5), 2);
  assert.equal(itemAtImagePoint(index, 15, 45), 9);
  assert.equal(itemAtImagePoint(index, 25, 45), -1); // cell (2,2) is empty
  assert.equal(itemAtImagePoint(index, 100, 5), -1);
  assert.equal(itemAtCell(index, 3, 1), 7);
  assert.equal(itemAtCell(index, 4, 0), -1);
});

test('cellRect is the cell in image pixels', () => {
  assert.deepEqual(cellRect(2, 1, grid), { x: 20, y: 20, width: 10, height: 20 });
});
