import { test } from 'node:test';
import assert from 'node:assert/strict';
import { layoutTreemap, TREEMAP_MIN_SHARE, treemapHeight, treemapSubjects } from '../src/treemap.js';

// 65 named subjects, counts 65 down to 1, one that no item has, and "Other" last as the metadata stage
// writes it (its subjects_top most frequent, then "Other" for the items with rarer ones only).
const index = {
  subjectNames: [...Array.from({ length: 65 }, (_, i) => `S${i}`), 'Unused', 'Other'],
  subjectCounts: [...Array.from({ length: 65 }, (_, i) => 65 - i), 0, 500],
};

test('treemapSubjects offers every named subject some item has, most frequent first, not "Other"', () => {
  const all = treemapSubjects(index);
  assert.equal(all.length, 65); // as many as the data offers: no limit of the viewer's own
  assert.deepEqual(all[0], { subject: 0, name: 'S0', count: 65 });
  assert.ok(all.every((d, k) => k === 0 || all[k - 1].count >= d.count));
  assert.ok(!all.some((d) => d.name === 'Unused'));
  assert.ok(!all.some((d) => d.name === 'Other'), 'the catch-all is no tile');
  assert.deepEqual(all.slice(-2).map((d) => d.name), ['S63', 'S64']);
  const named = treemapSubjects({ subjectNames: ['Other', 'B'], subjectCounts: [3, 2] });
  assert.deepEqual(named.map((d) => d.name), ['Other', 'B'], 'a subject called Other, not last, is a subject');
});

test('treemapSubjects sorts by count even if the file is not sorted', () => {
  const all = treemapSubjects({ subjectNames: ['a', 'b', 'c'], subjectCounts: [1, 5, 3] });
  assert.deepEqual(all.map((d) => d.name), ['b', 'c', 'a']);
});

test('treemap tiles stay inside the box and are sized by count', () => {
  const subjects = treemapSubjects(index).slice(0, 24);
  const tiles = layoutTreemap(subjects, 300, 200, 0);
  assert.equal(tiles.length, 24);
  for (const t of tiles) {
    assert.ok(t.x0 >= 0 && t.y0 >= 0 && t.x1 <= 300 && t.y1 <= 200);
  }
  const area = (t) => (t.x1 - t.x0) * (t.y1 - t.y0);
  const total = tiles.reduce((s, t) => s + area(t), 0);
  assert.ok(Math.abs(total - 300 * 200) < 300 * 200 * 0.02);
  const big = tiles.find((t) => t.subject === 0), small = tiles.find((t) => t.subject === 23);
  const ratio = area(big) / area(small); // counts 65 and 42
  assert.ok(Math.abs(ratio / (65 / 42) - 1) < 0.15, `area ratio ${ratio}`);
});

test('with 65 subjects every tile still gets its minimum share, and the box grows', () => {
  const width = 276, height = treemapHeight(65);
  assert.equal(treemapHeight(24), 230);
  assert.ok(height > 230 && height <= 320, `height ${height}`);
  const plain = layoutTreemap(treemapSubjects(index), width, height, 2);
  const floored = layoutTreemap(treemapSubjects(index), width, height, 2, TREEMAP_MIN_SHARE);
  assert.equal(floored.length, 65);
  const area = (t) => (t.x1 - t.x0) * (t.y1 - t.y0);
  const smallest = (tiles) => Math.min(...tiles.map(area));
  assert.ok(smallest(floored) > smallest(plain), 'the floor makes the rarest tiles bigger');
  assert.ok(smallest(floored) >= 0.6 * TREEMAP_MIN_SHARE * width * height, `smallest tile ${smallest(floored)} px²`);
  // still sized by count above the floor
  const tile = (name) => floored.find((t) => t.name === name);
  assert.ok(area(tile('S0')) > 2 * area(tile('S40')));
});

test('empty input gives no tiles', () => {
  assert.deepEqual(layoutTreemap([], 300, 200), []);
  assert.deepEqual(layoutTreemap([{ subject: 0, name: 'a', count: 1 }], 0, 200), []);
});
