import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadRecords } from '../src/data.js';
import { csvField, selectionCsv, toCsv } from '../src/csv.js';
import { makeIndex, makeItems } from './fixtures.mjs';

test('csvField quotes commas, quotes and line breaks, doubling quotes', () => {
  assert.equal(csvField('plain'), 'plain');
  assert.equal(csvField('a, b'), '"a, b"');
  assert.equal(csvField('say "hi"'), '"say ""hi"""');
  assert.equal(csvField('two\nlines'), '"two\nlines"');
  assert.equal(csvField('cr\rhere'), '"cr\rhere"');
  assert.equal(csvField(null), '');
  assert.equal(csvField(42), '42');
});

test('csvField defuses spreadsheet formulas', () => {
  assert.equal(csvField('=HYPERLINK("x")'), '"\'=HYPERLINK(""x"")"');
  assert.equal(csvField('+1'), "'+1");
  assert.equal(csvField('-2'), "'-2");
  assert.equal(csvField('@SUM(A1)'), "'@SUM(A1)");
  assert.equal(csvField('\tx'), "'\tx");
  assert.equal(csvField('a=b'), 'a=b');
});

test('toCsv writes a header and rows ending in newlines', () => {
  assert.equal(toCsv(['a', 'b'], [[1, 'x,y'], ['', null]]), 'a,b\n1,"x,y"\n,\n');
});

test('selectionCsv exports the records it is given, in their order', async () => {
  const items = makeItems();
  items.title[1] = 'Rock, "big"';
  items.date[2] = '=cmd|calc';
  const index = await makeIndex(items, { chunkSize: 3 });
  assert.equal(selectionCsv(await loadRecords(index, [1, 2])),
    'id,title,date,url\n'
    + 'K9045,"Rock, ""big""","[1909, approximate]",https://example.org/r\n'
    + "12-Edit,<img src=x onerror=alert(1)>,'=cmd|calc,https://example.org/r\n");
  const all = selectionCsv(await loadRecords(index, [...Array(10).keys()])).trimEnd().split('\n');
  assert.equal(all.length, 11);
  assert.equal(all[1], '0001,Ship,1897,https://example.org/r');
  assert.equal(all[10], 'f,t,n.d.,https://example.org/r');
  assert.equal(selectionCsv([]), 'id,title,date,url\n');
});
