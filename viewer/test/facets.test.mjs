import { test } from 'node:test';
import assert from 'node:assert/strict';
import { facetMatches, findValues, isFacetActive, niceStep, numberBins, numberRange, parseFacets } from '../src/facets.js';
import { loadFacet } from '../src/data.js';
import { computeMatches, intersectMatches } from '../src/filter.js';
import { makeExplore, makeIndex, makeItems } from './fixtures.mjs';

const explore = makeExplore();
const positions = (flags) => [...flags].flatMap((f, i) => (f ? [i] : []));

async function facetIndex() {
  const seen = [];
  const index = await makeIndex(makeItems(), { explore: true, seen });
  const columns = new Map();
  for (const facet of index.facets) columns.set(facet.name, await loadFacet(index, facet));
  return { index, columns, seen };
}

test('parseFacets keeps valid values and number facets and warns about the rest', () => {
  const { facets, warnings } = parseFacets({ facets: [
    { name: 'place', label: 'Place', kind: 'values', values: ['A', 'B'], counts: [2, 1], files: { counts: 'c', ids: 'i' } },
    { name: 'place', kind: 'values', values: [], files: { counts: 'c', ids: 'i' } },
    { name: 'h', kind: 'number', file: 'h.bin', min: 3, max: 1 },
    { name: 'bad key', kind: 'number', file: 'x', min: 0, max: 1 },
    { name: 'w', kind: 'number', file: 'w.bin', min: 0, max: 9 },
    { name: 'v', kind: 'values', values: ['x'] },
    { name: 'none', kind: 'number', file: 'n.bin', min: null, max: null },
  ] });
  assert.deepEqual(facets.map((f) => `${f.name}:${f.kind}`), ['place:values', 'w:number']);
  assert.equal(facets[0].valueIdBytes, 1);
  assert.equal(facets[1].label, 'w', 'the name when no label');
  assert.equal(warnings.length, 4);
  assert.deepEqual(parseFacets({}), { facets: [], warnings: [] });
});

test('facet columns are fetched only when a facet is first used, once', async () => {
  const { index, seen } = await facetIndex();
  const before = seen.filter((p) => p.startsWith('facets/')).length;
  assert.equal(before, 3, 'place counts and ids, height');
  await loadFacet(index, index.facets[0]);
  assert.equal(seen.filter((p) => p.startsWith('facets/')).length, 3);
  const fresh = await makeIndex(makeItems(), { explore: true, seen: [] });
  assert.equal(fresh.facets[0].counts.join(), '5,3,2', 'the counts per value come with collection.json');
});

test('a values facet keeps items with ANY of the selected values', async () => {
  const { columns } = await facetIndex();
  const count = 10;
  const of = (v) => explore.place.of.flatMap((list, i) => (list.includes(v) ? [i] : []));
  assert.deepEqual(positions(facetMatches(columns, new Map([['place', new Set([0])]]), count).matches), of(0));
  const either = facetMatches(columns, new Map([['place', new Set([1, 2])]]), count);
  assert.deepEqual(positions(either.matches), [...new Set([...of(1), ...of(2)])].sort((a, b) => a - b));
  assert.equal(either.n, 5);
  assert.equal(facetMatches(columns, new Map([['place', new Set()]]), count), null, 'nothing selected: no filter');
  assert.equal(facetMatches(columns, new Map([['nope', new Set([0])]]), count), null, 'an unknown facet');
});

test('a number facet keeps an inclusive range; unknown numbers drop out only while a range is set', async () => {
  const { columns } = await facetIndex();
  // heights: 10 12.5 NaN 30 7 19.99 20 NaN 40 25
  const r = facetMatches(columns, new Map([['height', [10, 20]]]), 10);
  assert.deepEqual(positions(r.matches), [0, 1, 5, 6]);
  const exact = facetMatches(columns, new Map([['height', [19.99, 19.99]]]), 10);
  assert.deepEqual(positions(exact.matches), [5], '19.99 typed finds 19.99 stored as a 32-bit float');
  assert.equal(facetMatches(columns, new Map([['height', null]]), 10), null);
});

test('facets AND each other, and the subject and date filters', async () => {
  const { index, columns } = await facetIndex();
  const both = facetMatches(columns, new Map([['place', new Set([0])], ['height', [10, 26]]]), 10);
  // Paris: 0 1 5 7 9; heights 10..26: 0 1 5 6 9
  assert.deepEqual(positions(both.matches), [0, 1, 5, 9]);
  const subjects = computeMatches(index, { subjects: new Set([2]), mode: 'any', years: null }); // 0, 4, 5
  assert.deepEqual(positions(intersectMatches(subjects.matches, both.matches, 10).matches), [0, 5]);
});

test('isFacetActive, numberRange and findValues', () => {
  assert.equal(isFacetActive(new Set()), false);
  assert.equal(isFacetActive(new Set([1])), true);
  assert.equal(isFacetActive([1, 2]), true);
  assert.equal(isFacetActive(null), false);
  assert.deepEqual(numberRange(5, null, 0, 40), [5, 40]);
  assert.deepEqual(numberRange(null, 5, 7, 40), [5, 5]);
  assert.deepEqual(numberRange(30, 10, 0, 40), [10, 30]);
  assert.equal(numberRange(null, null, 0, 40), null);
  const facet = { values: ['Paris', 'Lyon', 'Zürich', 'Saint-Paul de Vence'] };
  assert.deepEqual(findValues(facet, 'zur'), [2]);
  assert.deepEqual(findValues(facet, 'PA'), [0, 3]);
  assert.deepEqual(findValues(facet, 'paul saint'), [3]);
  assert.deepEqual(findValues(facet, '  '), [0, 1, 2, 3]);
});

test('number bins: nice widths, every known value in one bin, the included ones counted', () => {
  assert.equal(niceStep(0, 100, 24), 5);
  assert.equal(niceStep(0, 1, 24), 0.05);
  assert.equal(niceStep(1850, 1990, 24), 10);
  assert.equal(niceStep(3, 3), 1);
  const values = Float32Array.from(explore.height);
  const include = Uint8Array.from([1, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
  const bins = numberBins(values, 7, 40, { maxBins: 8, include });
  assert.equal(bins[0].x0, 5);
  assert.ok(bins.at(-1).x1 > 40);
  assert.equal(bins.reduce((s, b) => s + b.count, 0), 8, 'the NaNs are left out');
  assert.equal(bins.reduce((s, b) => s + b.selected, 0), 2);
  for (const b of bins) assert.equal(b.x1 - b.x0, 5);
  const tenths = numberBins(Float32Array.from([0.1, 0.2, 0.3]), 0.1, 0.3, { maxBins: 3 });
  assert.deepEqual(tenths.map((b) => [b.x0, b.count]), [[0.1, 1], [0.2, 1], [0.3, 1]], 'no float noise in the edges');
});
