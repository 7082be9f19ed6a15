import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SIMILARITY, findArrangement, makeLayout, parseArrangements, visibleGroups } from '../src/arrangement.js';
import { chooseArrangement, createIndex, loadArrangement, loadColumns } from '../src/data.js';
import { itemAtImagePoint } from '../src/cells.js';
import { describeCell, itemAt, moveCell } from '../src/keyboard.js';
import { maskPixels } from '../src/filter.js';
import { BASE, encodeSite, fakeFetch, makeCollection, makeExplore, makeIndex, makeItems } from './fixtures.mjs';

const explore = makeExplore();

test('a site without arrangements has similarity only, from its grid and tiles', async () => {
  const index = await makeIndex();
  assert.deepEqual(index.arrangements.map((a) => a.name), [SIMILARITY]);
  assert.equal(index.arrangement.name, SIMILARITY);
  assert.equal(index.arrangement.dzi, 'tiles/mosaic.dzi');
  assert.deepEqual(index.arrangement.grid, makeCollection().grid);
});

test('parseArrangements keeps similarity first and drops incomplete or clashing entries with a warning', () => {
  const grid = makeCollection().grid;
  const good = { name: 'date', label: 'Date', dzi: 'tiles/date.dzi', cells: 'data/date.bin',
    grid: { cols: 2, rows: 2, cellWidth: 10, cellHeight: 10 }, groups: [{ label: 'A', count: 1, box: [0, 0, 1, 1] },
      { label: 'outside', count: 1, box: [0, 0, 2, 1] }, { label: 'bad', box: 'no' }] };
  const { arrangements, warnings } = parseArrangements({
    tiles: { dzi: 'tiles/mosaic.dzi' },
    arrangements: [{ name: 'similarity', label: 'Similarity' }, good, { ...good, label: 'again' },
      { name: 'bad name!', dzi: 'x', cells: 'y', grid: good.grid }, { name: 'nogrid', dzi: 'x', cells: 'y' }],
  }, grid);
  assert.deepEqual(arrangements.map((a) => a.name), ['similarity', 'date']);
  assert.equal(arrangements[1].width, 20, 'width from the grid when not given');
  assert.deepEqual(arrangements[1].groups, [{ label: 'A', count: 1, box: [0, 0, 1, 1] }], 'groups outside the grid are dropped');
  assert.equal(warnings.length, 3);
});

test('switching arrangement moves items to their cells there; hit tests, keyboard and mask follow', async () => {
  const seen = [];
  const index = await makeIndex(makeItems(), { explore: true, seen });
  assert.deepEqual(seen.sort(), ['cells.bin', 'subject-counts.bin', 'subject-ids.bin', 'years.bin'],
    'the exploring keys fetch nothing at start: no arrangement cells, hotspots or facets');
  const date = findArrangement(index, 'date');
  await loadArrangement(index, date);
  assert.equal(index.arrangement, date);
  assert.deepEqual(index.grid, explore.date.grid);
  explore.date.cells.forEach((cell, i) => {
    assert.equal(index.cellItem[cell], i);
    assert.equal(index.col[i], cell % 6);
    assert.equal(index.row[i], Math.floor(cell / 6));
  });
  assert.equal(index.cellItem[8], -1, 'an empty cell of the date grid');
  // image point -> item in the new grid: item 7 (1900) in column 1, row 0
  assert.equal(itemAtImagePoint(index, 15, 5), 7);
  assert.equal(itemAt(index, 1, 1), 1);
  assert.deepEqual(moveCell({ col: 4, row: 0 }, 'ArrowRight', index.grid), { col: 5, row: 0 }, 'the keyboard moves on the date grid');
  const flags = new Uint8Array(10);
  flags[7] = 1;
  const px = maskPixels(index, flags, [1, 2, 3, 200]);
  assert.equal(px.length, 6 * 2 * 4, 'the mask is as big as the date grid');
  assert.equal(px[1 * 4 + 3], 0, 'the matching item\'s cell is clear');
  assert.equal(px[0 * 4 + 3], 200, 'the others are veiled');
  await loadArrangement(index, findArrangement(index, 'similarity'));
  assert.deepEqual([...index.cellItem], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, -1, -1], 'back to the similarity grid');
  await loadArrangement(index, date);
  assert.equal(seen.filter((p) => p.includes('date-cells')).length, 1, 'the cells are fetched once');
  assert.equal(describeCell(null, index.col[9], index.row[9]), 'Empty cell, row 2, column 6');
});

test('a link can choose the arrangement before the columns load; they then come with its cells', async () => {
  const files = encodeSite(makeItems(), { explore: true });
  const seen = [];
  const index = createIndex(files['collection.json'], BASE, fakeFetch(files, seen));
  chooseArrangement(index, findArrangement(index, 'date'));
  assert.deepEqual(index.grid, explore.date.grid, 'the mosaic opens on the date grid');
  assert.ok(index.cellItem.every((i) => i === -1));
  await loadColumns(index);
  assert.ok(seen.includes('arrangements/date-cells.bin'));
  assert.equal(index.arrangement.name, 'date');
  assert.equal(index.cellItem[explore.date.cells[4]], 4);
  assert.equal(index.layouts.get(SIMILARITY).cellItem[4], 4, 'the similarity layout is kept for a switch back');
});

test('makeLayout reports short and clashing cell columns', () => {
  const arrangement = { name: 'x', grid: { cols: 2, rows: 1, cellWidth: 1, cellHeight: 1 } };
  const layout = makeLayout(arrangement, Uint32Array.from([1, 1, 7]), 4);
  assert.equal(layout.col.length, 4);
  assert.equal(layout.col[3], -1, 'an item without a cell here is never hit');
  assert.equal(layout.cellItem[1], 1);
  assert.equal(layout.warnings.length, 3);
});

test('visibleGroups clips the groups to the view and leaves out those out of sight', () => {
  const toScreen = (c, r) => ({ x: c * 100 - 50, y: r * 50 });
  const groups = explore.date.groups;
  const shown = visibleGroups(groups, toScreen, { width: 320, height: 200 });
  assert.deepEqual(shown.map((g) => g.label), ['1890s', '1900s', '1910s', '1950s']);
  assert.deepEqual(shown[0], { label: '1890s', x: 0, y: 0, width: 50, height: 100 });
  assert.deepEqual(shown[3], { label: '1950s', x: 250, y: 0, width: 70, height: 100 });
});
