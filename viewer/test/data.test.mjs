import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildIndex, displayDate, loadCollection, positionOfId, safeHref, toYear } from '../src/data.js';
import { makeCollection, makeItems } from './fixtures.mjs';

test('cellItem maps every cell to its item, -1 for empty cells', () => {
  const index = buildIndex(makeCollection(), makeItems());
  assert.equal(index.cellItem.length, 12);
  assert.deepEqual([...index.cellItem], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, -1, -1]);
  assert.deepEqual(index.warnings, []);
});

test('ids stay strings, leading zeros included', () => {
  const index = buildIndex(makeCollection(), makeItems());
  assert.equal(index.ids[0], '0001');
  assert.equal(index.ids[3], '007');
  const items = makeItems();
  items.id[0] = 1; // a number sneaking in is still handled as text
  assert.equal(buildIndex(makeCollection(), items).ids[0], '1');
});

test('year is yearStart (numbers or numeric strings), unknown stays null', () => {
  const items = makeItems();
  items.yearStart[3] = '1950';
  const index = buildIndex(makeCollection(), items);
  assert.equal(index.year[1], 1909);
  assert.equal(index.year[2], null);
  assert.equal(index.year[3], 1950);
  assert.equal(index.year[8], 1910); // the start of 1910-1915
});

test('only fields the metadata stage writes are read: no thumbUrl, yearEnd or index', () => {
  const items = makeItems();
  Object.assign(items, { thumbUrl: Array(10).fill('https://remote.example/t.jpg'),
    yearEnd: Array(10).fill(2000), index: { '0001': 5 } });
  const index = buildIndex(makeCollection(), items);
  assert.equal(index.thumbUrl, undefined);
  assert.equal(index.yearEnd, undefined);
  assert.equal(index.year[2], null); // no fallback to another column
  assert.equal(positionOfId(index, '0001'), 0); // positions come from the id column, not a stored index
});

test('col/row are derived from item order when absent', () => {
  const items = makeItems();
  delete items.col;
  delete items.row;
  const index = buildIndex(makeCollection(), items);
  assert.equal(index.cellItem[5], 5);
  assert.equal(index.col[5], 1);
  assert.equal(index.row[5], 1);
});

test('items outside the grid and shared cells are reported, not crashed on', () => {
  const items = makeItems();
  items.col[9] = 7;
  items.col[8] = 1; items.row[8] = 0; // clashes with item 1
  const index = buildIndex(makeCollection(), items);
  assert.equal(index.warnings.length, 2);
  assert.equal(index.cellItem[1], 8);
});

test('invalid subject indices are dropped; mismatched counts are recounted', () => {
  const items = makeItems();
  items.subjects[0] = [0, 99, -1, 'x'];
  items.subjectCounts = [1];
  const index = buildIndex(makeCollection(), items);
  assert.deepEqual(index.subjects[0], [0]);
  assert.deepEqual(index.subjectCounts, [3, 3, 2, 1]);
});

test('missing optional columns become empty strings', () => {
  const items = makeItems();
  delete items.url;
  delete items.imageUrl;
  const index = buildIndex(makeCollection(), items);
  assert.equal(index.url[0], '');
  assert.equal(index.imageUrl[4], '');
  assert.equal(index.title[2], '<img src=x onerror=alert(1)>');
});

test('a bad grid is rejected', () => {
  const c = makeCollection();
  c.grid.cols = 0;
  assert.throws(() => buildIndex(c, makeItems()), /grid.cols/);
});

test('toYear accepts numbers and numeric strings only', () => {
  assert.equal(toYear(1897), 1897);
  assert.equal(toYear('1909'), 1909);
  assert.equal(toYear(null), null);
  assert.equal(toYear(''), null);
  assert.equal(toYear('circa 1900'), null);
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

test('loadCollection fetches collection.json then the items file it names', async () => {
  const files = {
    'http://site.test/c/data/collection.json': { ...makeCollection(), items: 'data/other-items.json' },
    'http://site.test/c/data/other-items.json': makeItems(),
  };
  const seen = [];
  const fakeFetch = async (url) => {
    seen.push(String(url));
    const body = files[String(url)];
    return { ok: !!body, status: body ? 200 : 404, json: async () => body };
  };
  const index = await loadCollection('http://site.test/c/index.html', fakeFetch);
  assert.equal(index.count, 10);
  assert.deepEqual(seen, Object.keys(files));
  await assert.rejects(loadCollection('http://site.test/missing/', fakeFetch), /data\/collection.json.*404/);
});

test('displayDate prefers the optional dateLabel column', () => {
  const plain = buildIndex(makeCollection(), makeItems());
  assert.equal(displayDate(plain, 1), '[1909, approximate]');
  const items = makeItems();
  items.dateLabel = ['1897', 'ca. 1909', '', null];
  const labelled = buildIndex(makeCollection(), items);
  assert.equal(displayDate(labelled, 1), 'ca. 1909');
  assert.equal(displayDate(labelled, 2), 'Unknown'); // empty label falls back to the date column
  assert.equal(displayDate(labelled, 5), '1960');
});

test('description and rights are optional text columns; ids look up positions', () => {
  const items = makeItems();
  items.description = ['A ship <b>at sea</b>', null];
  const index = buildIndex(makeCollection(), items);
  assert.equal(index.description[0], 'A ship <b>at sea</b>');
  assert.equal(index.description[1], '');
  assert.equal(index.rights[0], '');
  assert.equal(positionOfId(index, 'K9045'), 1);
  assert.equal(positionOfId(index, '0001'), 0);
  assert.equal(positionOfId(index, '1'), -1);
});
