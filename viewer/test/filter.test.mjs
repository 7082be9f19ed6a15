import { test } from 'node:test';
import assert from 'node:assert/strict';
import { combineMatches, computeMatches, emptyFilter, intersectMatches, isFilterActive, itemMatches, maskPixels,
  matchingPositions, subjectsOnly, warmUp } from '../src/filter.js';
import { makeIndex, makeItems } from './fixtures.mjs';
import { NO_YEAR } from '../src/data.js';

const index = await makeIndex();
const matching = (filter) => [...computeMatches(index, filter).matches].flatMap((m, i) => (m ? [i] : []));

test('no filter matches everything, unknown years included', () => {
  const f = emptyFilter();
  assert.equal(isFilterActive(f), false);
  assert.equal(computeMatches(index, f).n, 10);
});

test('subjects match ANY of the selected ones', () => {
  assert.deepEqual(matching({ subjects: new Set([0]), years: null }), [0, 3, 6]);
  assert.deepEqual(matching({ subjects: new Set([0, 1]), years: null }), [0, 1, 3, 5, 6, 9]);
  assert.deepEqual(matching({ subjects: new Set([3]), years: null }), [8]);
});

test('year range is half-open and drops unknown years only while active', () => {
  // years: 1897 1909 null 1950 1951 1960 1899 1900 1910 null
  assert.deepEqual(matching({ subjects: new Set(), years: [1890, 1900] }), [0, 6]);
  assert.deepEqual(matching({ subjects: new Set(), years: [1900, 1952] }), [1, 3, 4, 7, 8]);
  assert.ok(!itemMatches(index, 2, { subjects: new Set(), years: [0, 3000] }));
  assert.ok(itemMatches(index, 2, emptyFilter()));
});

test('subject and date filters combine with AND', () => {
  const f = { subjects: new Set([0, 1]), years: [1890, 1910] };
  assert.equal(isFilterActive(f), true);
  assert.deepEqual(matching(f), [0, 1, 6]);
  assert.deepEqual(matching(subjectsOnly(f)), [0, 1, 3, 5, 6, 9]);
});

test('mask veils non-matching and empty cells only', () => {
  const { matches } = computeMatches(index, { subjects: new Set([0]), years: null });
  const px = maskPixels(index, matches, [1, 2, 3, 200]);
  assert.equal(px.length, 4 * 3 * 4);
  const alpha = Array.from({ length: 12 }, (_, cell) => px[cell * 4 + 3]);
  // matching items 0, 3, 6 sit in cells 0, 3, 6; cells 10 and 11 are empty
  assert.deepEqual(alpha, [0, 200, 200, 0, 200, 200, 0, 200, 200, 200, 200, 200]);
  assert.deepEqual([...px.slice(4, 8)], [1, 2, 3, 200], 'the veil colour, byte by byte');
  // Written again into the same buffer for another filter: cells that match now are cleared.
  const other = computeMatches(index, { subjects: new Set([1]), years: null }).matches; // items 1, 5, 9
  assert.equal(maskPixels(index, other, [1, 2, 3, 200], px), px);
  assert.deepEqual(Array.from({ length: 12 }, (_, cell) => px[cell * 4 + 3]),
    [200, 0, 200, 200, 200, 0, 200, 200, 200, 0, 200, 200]);
  assert.deepEqual([...px.slice(4, 8)], [0, 0, 0, 0]);
});

test('mode all keeps items that have every selected subject', () => {
  // subjects: [[0, 2], [1], [], [0], [2], [1, 2], [0], [], [3], [1]]
  assert.deepEqual(matching({ subjects: new Set([0, 2]), mode: 'all', years: null }), [0]);
  assert.deepEqual(matching({ subjects: new Set([1, 2]), mode: 'all', years: null }), [5]);
  assert.deepEqual(matching({ subjects: new Set([1]), mode: 'all', years: null }), [1, 5, 9]);
  assert.deepEqual(matching({ subjects: new Set([0, 2]), mode: 'any', years: null }), [0, 3, 4, 5, 6]);
  assert.deepEqual(matching({ subjects: new Set([0, 2]), mode: 'all', years: [1900, 2000] }), []);
  assert.deepEqual(matching({ subjects: new Set(), mode: 'all', years: null }).length, 10);
  assert.equal(subjectsOnly({ subjects: new Set([1]), mode: 'all', years: [1, 2] }).mode, 'all');
});

test('intersectMatches and matchingPositions', () => {
  const a = Uint8Array.from([1, 1, 0, 1]);
  const b = Uint8Array.from([0, 1, 1, 1]);
  assert.deepEqual(intersectMatches(a, b, 4), { matches: Uint8Array.from([0, 1, 0, 1]), n: 2 });
  assert.deepEqual(intersectMatches(null, b, 4).n, 3);
  assert.deepEqual(intersectMatches(null, null, 4).n, 4);
  assert.deepEqual(matchingPositions(a), [0, 1, 3]);
  assert.deepEqual(matchingPositions(a, 2), [0, 1]);
});

test('the warm-up runs the filter loops without changing the index or any later answer', () => {
  const before = matching({ subjects: new Set([0, 1]), mode: 'all', years: [1890, 1960] });
  const columns = [index.year, index.subjectStart, index.subjectIds, index.cellItem].map((c) => [...c]);
  warmUp(index, [1897, 1960]);
  warmUp(index, null); // a collection without a known year
  assert.deepEqual([index.year, index.subjectStart, index.subjectIds, index.cellItem].map((c) => [...c]), columns);
  assert.deepEqual(matching({ subjects: new Set([0, 1]), mode: 'all', years: [1890, 1960] }), before);
});

test('matching from the items of each subject agrees with matching item by item, in every mode', () => {
  let seed = 7;
  const random = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
  const count = 3000, names = 12;
  const year = new Int16Array(count), subjectStart = new Uint32Array(count + 1), ids = [];
  for (let i = 0; i < count; i++) {
    year[i] = random() < 0.1 ? NO_YEAR : 1850 + Math.floor(random() * 100);
    const mine = [...new Set(Array.from({ length: Math.floor(random() * 4) }, () => Math.floor(random() * names)))];
    ids.push(...mine);
    subjectStart[i + 1] = ids.length;
  }
  const random_index = { count, year, subjectStart, subjectIds: Uint8Array.from(ids), subjectNames: Array(names).fill('s') };
  for (let trial = 0; trial < 60; trial++) {
    const subjects = new Set(Array.from({ length: 1 + Math.floor(random() * 3) }, () => Math.floor(random() * (names + 1))));
    const from = 1850 + Math.floor(random() * 100);
    const filter = { subjects, mode: random() < 0.5 ? 'any' : 'all', years: random() < 0.5 ? null : [from, from + 20] };
    const { matches, n } = computeMatches(random_index, filter);
    const expected = Array.from({ length: count }, (_, i) => (itemMatches(random_index, i, filter) ? 1 : 0));
    assert.deepEqual([...matches], expected, JSON.stringify({ ...filter, subjects: [...subjects] }));
    assert.equal(n, expected.reduce((a, b) => a + b, 0));
  }
});

test('combineMatches: nothing active is everything; one part is itself; several are intersected', () => {
  const flags = (list) => Uint8Array.from({ length: 10 }, (_, i) => (list.includes(i) ? 1 : 0));
  assert.deepEqual(combineMatches([], 10), { matches: null, n: 10 });
  const one = { matches: flags([1, 2, 3]), n: 3 };
  assert.equal(combineMatches([one], 10), one);
  const all = combineMatches([one, { matches: flags([2, 3, 4]), n: 3 }, { matches: flags([0, 3, 2]), n: 3 }], 10);
  assert.deepEqual(matchingPositions(all.matches), [2, 3]);
  assert.equal(all.n, 2);
});
