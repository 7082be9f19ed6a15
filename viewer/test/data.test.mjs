import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  NO_YEAR, chunkCache, createIndex, displayDate, findId, idBucket, loadCollection, loadColumns, loadNeighbours,
  loadRecord, loadRecords, record, safeHref, setColumns, similarItems, subjectsOf,
} from '../src/data.js';
import { BASE, encodeSite, fakeFetch, makeCollection, makeIndex, makeItems } from './fixtures.mjs';

test('cellItem maps every cell to its item, -1 for empty cells; col and row come from the cell', async () => {
  const index = await makeIndex();
  assert.equal(index.cellItem.length, 12);
  assert.deepEqual([...index.cellItem], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, -1, -1]);
  assert.equal(index.col[5], 1);
  assert.equal(index.row[5], 1);
  assert.deepEqual(index.warnings, []);
  assert.equal(index.loaded, true);
});

test('before the columns are in, every cell is empty and nothing is fetched but collection.json', async () => {
  const seen = [];
  const files = encodeSite(makeItems());
  const index = await loadCollection(BASE, fakeFetch(files, seen));
  assert.deepEqual(seen, ['collection.json']);
  assert.equal(index.count, 10);
  assert.ok(index.cellItem.every((i) => i === -1));
  assert.equal(index.loaded, false);
  await loadColumns(index);
  assert.deepEqual(seen.slice(1).sort(), ['cells.bin', 'subject-counts.bin', 'subject-ids.bin', 'years.bin']);
  await assert.rejects(loadCollection('http://site.test/missing/', fakeFetch(files)), /data\/collection.json.*404/);
});

test('years: unknown is NO_YEAR; subjects per item from the counts and ids', async () => {
  const index = await makeIndex();
  assert.equal(index.year[1], 1909);
  assert.equal(index.year[2], NO_YEAR);
  assert.equal(index.year[8], 1910); // the start of 1910-1915
  assert.deepEqual([...subjectsOf(index, 0)], [0, 2]);
  assert.deepEqual([...subjectsOf(index, 2)], []);
  assert.deepEqual([...subjectsOf(index, 5)], [1, 2]);
  assert.deepEqual(index.subjectCounts, [3, 3, 3, 1]);
});

test('records come in chunks: none before their chunk is fetched, right across chunk boundaries', async () => {
  const seen = [];
  const items = makeItems();
  items.id[0] = '0001';
  const index = await makeIndex(items, { chunkSize: 3, seen });
  assert.equal(record(index, 4), null);
  const rec = await loadRecord(index, 4);
  assert.equal(rec.title, 'y');
  assert.equal(rec.id, 'a');
  assert.deepEqual(seen.filter((p) => p.startsWith('items/')), ['items/00001.json']);
  assert.equal(record(index, 3).title, 'x'); // same chunk: now synchronous
  assert.equal(record(index, 6), null);
  const recs = await loadRecords(index, [9, 0, 5, 2]);
  assert.deepEqual(recs.map((r) => r.id), ['f', '0001', 'b', '12-Edit']);
  assert.equal(recs[3].title, '<img src=x onerror=alert(1)>');
  assert.deepEqual(seen.filter((p) => p.startsWith('items/')).sort(),
    ['items/00000.json', 'items/00001.json', 'items/00003.json'], 'each chunk once');
  assert.equal(await loadRecord(index, 10), null);
});

test('missing optional fields are empty strings; ids stay strings, leading zeros included', async () => {
  const items = makeItems();
  delete items.url;
  items.description = ['A ship <b>at sea</b>', null];
  items.id[1] = 1; // a number sneaking in is still handled as text
  const index = await makeIndex(items);
  const [a, b] = await loadRecords(index, [0, 1]);
  assert.equal(a.id, '0001');
  assert.equal(b.id, '1');
  assert.equal(a.url, '');
  assert.equal(a.description, 'A ship <b>at sea</b>');
  assert.equal(b.description, '');
  assert.equal(a.rights, '');
});

test('displayDate prefers dateLabel, else the catalogue\'s date', async () => {
  const items = makeItems();
  items.dateLabel = ['1897', 'ca. 1909', '', null];
  const index = await makeIndex(items);
  const [one, two, three, six] = await loadRecords(index, [1, 2, 5, 3]);
  assert.equal(displayDate(one), 'ca. 1909');
  assert.equal(displayDate(two), 'Unknown'); // empty label falls back to the date column
  assert.equal(displayDate(three), '1960');
  assert.equal(displayDate(six), '1950');
  assert.equal(displayDate(null), '');
});

test('ids are found through their hashed file, the same hash as the site stage', async () => {
  // site_data.id_bucket gives these (tests/test_site_data.py checks the same numbers)
  assert.deepEqual(['0001', 'K9045', '12-Edit', '007', 'a', 'Zürich é'].map((id) => idBucket(id, 7)), [2, 0, 1, 1, 5, 6]);
  assert.equal(idBucket('K9045', 2 ** 32 - 1), 151725112);
  const seen = [];
  const index = await makeIndex(makeItems(), { chunkSize: 2, seen });
  assert.equal(await findId(index, 'K9045'), 1);
  assert.equal(await findId(index, '0001'), 0);
  assert.equal(await findId(index, '1'), -1);
  assert.equal(await findId(index, 'toString'), -1); // no prototype keys
  assert.ok(seen.filter((p) => p.startsWith('ids/')).length <= 4);
});

test('neighbours come in chunks; no self, no repeats, nothing invalid; none without the file', async () => {
  const lists = Array.from({ length: 10 }, (_, p) => [p, (p + 1) % 10, (p + 1) % 10, 99, -1, 'x', (p + 2) % 10]);
  const seen = [];
  const index = await makeIndex(makeItems(), { chunkSize: 4, neighbours: lists, seen });
  assert.deepEqual(seen.filter((p) => p.startsWith('neighbours/')), [], 'nothing before a panel opens');
  assert.deepEqual(await loadNeighbours(index, 5), [6, 7]);
  assert.deepEqual(await loadNeighbours(index, 9), [0, 1]);
  assert.deepEqual(await loadNeighbours(index, 6), [7, 8]);
  assert.deepEqual(seen.filter((p) => p.startsWith('neighbours/')), ['neighbours/00001.json', 'neighbours/00002.json']);
  assert.deepEqual(await loadNeighbours(await makeIndex(), 1), []);
  assert.deepEqual(similarItems([0, 3, 3, 2], 0, 10), [3, 2]);
  assert.deepEqual(similarItems(null, 0, 10), []);
});

test('a failed chunk is fetched again next time; the cache keeps the latest chunks only', async () => {
  let fail = true;
  const files = encodeSite(makeItems(), { chunkSize: 2 });
  const inner = fakeFetch(files);
  const index = createIndex(files['collection.json'], BASE, async (url) => (fail ? { ok: false, status: 503 } : inner(url)));
  await assert.rejects(loadRecord(index, 0), /items\/00000.json.*503/);
  fail = false;
  assert.equal((await loadRecord(index, 0)).title, 'Ship');
  const cache = chunkCache(2);
  let loads = 0;
  const load = async () => ++loads;
  await cache.get(1, load);
  await cache.get(2, load);
  await cache.get(1, load); // used again: now the newest
  await cache.get(3, load); // 2 goes
  assert.equal(cache.peek(2), undefined);
  assert.equal(cache.peek(1), 1);
  assert.equal(loads, 3);
});

test('bad columns are reported, not crashed on: outside the grid, shared cells, subjects that do not add up', async () => {
  const files = encodeSite(makeItems());
  const index = createIndex(files['collection.json'], BASE);
  const cells = new Uint32Array([0, 1, 2, 3, 4, 5, 6, 7, 1, 99]);
  setColumns(index, {
    cells: new Uint8Array(cells.buffer), years: files['years.bin'],
    counts: files['subject-counts.bin'], ids: Uint8Array.from([0, 2, 1, 0, 2, 1, 2, 0, 3, 9]),
  });
  assert.equal(index.cellItem[1], 8);
  assert.equal(index.warnings.length, 3);
  assert.match(index.warnings.join('\n'), /outside/);
  assert.match(index.warnings.join('\n'), /share a cell/);
  assert.match(index.warnings.join('\n'), /subjects dropped/);
  assert.deepEqual([...subjectsOf(index, 0)], []);
});

test('a bad grid or data of another format is rejected', () => {
  const files = encodeSite(makeItems());
  const c = files['collection.json'];
  assert.throws(() => createIndex({ ...c, grid: { ...c.grid, cols: 0 } }, BASE), /grid.cols/);
  assert.throws(() => createIndex({ ...makeCollection(), items: 'data/items.json' }, BASE), /format 2/);
});

test('safeHref keeps http(s) and relative links, drops other schemes', () => {
  assert.equal(safeHref('https://example.org/a?b=1'), 'https://example.org/a?b=1');
  assert.equal(safeHref('http://example.org'), 'http://example.org');
  assert.equal(safeHref('thumbs/0001.jpg'), 'thumbs/0001.jpg');
  assert.equal(safeHref('javascript:alert(1)'), '');
  assert.equal(safeHref(' JavaScript:alert(1)'), '');
  assert.equal(safeHref('data:text/html,hi'), '');
  assert.equal(safeHref('//evil.example/x'), '');
  assert.equal(safeHref(''), '');
  assert.equal(safeHref(null), '');
});
