import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadRecord } from '../src/data.js';
import { arrowDelta, clampedCell, describeCell, itemAt, freeArea, intersects, moveCell, panToShow } from '../src/keyboard.js';
import { makeIndex, makeItems } from './fixtures.mjs';

const index = await makeIndex();
const grid = index.grid; // 4 x 3 cells of 10 x 20 px

test('arrow keys move one cell and stop at the grid edges', () => {
  assert.deepEqual(moveCell({ col: 1, row: 1 }, 'ArrowRight', grid), { col: 2, row: 1 });
  assert.deepEqual(moveCell({ col: 1, row: 1 }, 'ArrowLeft', grid), { col: 0, row: 1 });
  assert.deepEqual(moveCell({ col: 1, row: 1 }, 'ArrowUp', grid), { col: 1, row: 0 });
  assert.deepEqual(moveCell({ col: 1, row: 1 }, 'ArrowDown', grid), { col: 1, row: 2 });
  assert.deepEqual(moveCell({ col: 0, row: 0 }, 'ArrowLeft', grid), { col: 0, row: 0 });
  assert.deepEqual(moveCell({ col: 3, row: 2 }, 'ArrowDown', grid), { col: 3, row: 2 });
  assert.deepEqual(moveCell({ col: 3, row: 2 }, 'ArrowRight', grid), { col: 3, row: 2 });
  assert.deepEqual(moveCell({ col: 1, row: 1 }, 'Enter', grid), { col: 1, row: 1 });
  assert.equal(arrowDelta('a'), null);
});

test('the view centre gives a cell inside the grid', () => {
  assert.deepEqual(clampedCell(25, 45, grid), { col: 2, row: 2 });
  assert.deepEqual(clampedCell(-5, 1000, grid), { col: 0, row: 2 });
  assert.deepEqual(clampedCell(NaN, 5, grid), { col: 0, row: 0 });
});

test('panToShow is zero when visible, the smallest shift otherwise', () => {
  const view = { x: 0, y: 0, width: 100, height: 50 };
  assert.deepEqual(panToShow({ x: 10, y: 10, width: 10, height: 10 }, view, 5), { x: 0, y: 0 });
  assert.deepEqual(panToShow({ x: 95, y: 10, width: 10, height: 10 }, view, 5), { x: 10, y: 0 });
  assert.deepEqual(panToShow({ x: -20, y: 45, width: 10, height: 10 }, view, 0), { x: -20, y: 5 });
  // too big to fit: centred
  assert.deepEqual(panToShow({ x: 0, y: 0, width: 200, height: 10 }, view, 0), { x: 50, y: 0 });
});

test('intersects', () => {
  const view = { x: 0, y: 0, width: 10, height: 10 };
  assert.ok(intersects({ x: 9, y: 9, width: 5, height: 5 }, view));
  assert.ok(!intersects({ x: 10, y: 0, width: 5, height: 5 }, view));
});

test('describeCell reads title, date label and 1-based row and column of the cell\'s item', async () => {
  const describe = async (idx, col, row) => describeCell(await loadRecord(idx, itemAt(idx, col, row)), col, row);
  assert.equal(await describe(index, 1, 0), 'Rock, [1909, approximate], row 1, column 2');
  assert.equal(await describe(index, 2, 0), '<img src=x onerror=alert(1)>, Unknown, row 1, column 3');
  assert.equal(await describe(index, 2, 2), 'Empty cell, row 3, column 3');
  assert.equal(itemAt(index, 4, 0), -1);
  assert.equal(itemAt(index, -1, 0), -1);
  const items = makeItems();
  items.title[0] = '';
  items.date[0] = '';
  items.dateLabel = ['', 'ca. 1909'];
  const other = await makeIndex(items);
  assert.equal(await describe(other, 0, 0), 'Untitled, date unknown, row 1, column 1');
  assert.equal(await describe(other, 1, 0), 'Rock, ca. 1909, row 1, column 2');
});

test('freeArea keeps the biggest strip beside a covering panel', () => {
  const area = { left: 0, top: 0, right: 1000, bottom: 800 };
  assert.deepEqual(freeArea(area, null), area);
  assert.deepEqual(freeArea(area, { left: 1100, top: 0, right: 1300, bottom: 800 }), area); // beside, not over
  assert.deepEqual(freeArea(area, { left: 650, top: 10, right: 990, bottom: 700 }), { left: 0, top: 0, right: 650, bottom: 800 });
  assert.deepEqual(freeArea(area, { left: 10, top: 500, right: 990, bottom: 790 }), { left: 0, top: 0, right: 1000, bottom: 500 });
  // DOMRect-like: fields are getters on the prototype
  class Rect { get left() { return 0; } get top() { return 0; } get right() { return 1000; } get bottom() { return 800; } }
  assert.deepEqual(freeArea(new Rect(), { left: 650, top: 10, right: 990, bottom: 700 }), { left: 0, top: 0, right: 650, bottom: 800 });
  assert.deepEqual(freeArea(new Rect(), null), area);
});
