import { test } from 'node:test';
import assert from 'node:assert/strict';
import { layoutTreemap, topSubjects } from '../src/treemap.js';

const index = {
  subjectNames: Array.from({ length: 30 }, (_, i) => `S${i}`),
  subjectCounts: Array.from({ length: 30 }, (_, i) => (i === 29 ? 0 : 30 - i)),
};

test('topSubjects keeps the most frequent, at most limit, none with zero count', () => {
  const top = topSubjects(index, 24);
  assert.equal(top.length, 24);
  assert.deepEqual(top[0], { subject: 0, name: 'S0', count: 30 });
  assert.ok(top.every((d, k) => k === 0 || top[k - 1].count >= d.count));
  assert.equal(topSubjects(index, 100).length, 29);
});

test('topSubjects sorts by count even if the file is not sorted', () => {
  const top = topSubjects({ subjectNames: ['a', 'b', 'c'], subjectCounts: [1, 5, 3] });
  assert.deepEqual(top.map((d) => d.name), ['b', 'c', 'a']);
});

test('treemap tiles stay inside the box and are sized by count', () => {
  const tiles = layoutTreemap(topSubjects(index, 24), 300, 200, 0);
  assert.equal(tiles.length, 24);
  for (const t of tiles) {
    assert.ok(t.x0 >= 0 && t.y0 >= 0 && t.x1 <= 300 && t.y1 <= 200);
  }
  const area = (t) => (t.x1 - t.x0) * (t.y1 - t.y0);
  const total = tiles.reduce((s, t) => s + area(t), 0);
  assert.ok(Math.abs(total - 300 * 200) < 300 * 200 * 0.02);
  const big = tiles.find((t) => t.subject === 0), small = tiles.find((t) => t.subject === 23);
  assert.ok(area(big) > area(small) * 3);
});

test('empty input gives no tiles', () => {
  assert.deepEqual(layoutTreemap([], 300, 200), []);
  assert.deepEqual(layoutTreemap([{ subject: 0, name: 'a', count: 1 }], 0, 200), []);
});
