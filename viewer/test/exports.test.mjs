import { test } from 'node:test';
import assert from 'node:assert/strict';
import { selectionJson, thumbnailNames } from '../src/exports.js';
import { loadRecords } from '../src/data.js';
import { makeIndex } from './fixtures.mjs';

test('selectionJson: the records of the items in order, every field, with their subjects by name', async () => {
  const index = await makeIndex();
  const items = [5, 0, 2];
  const list = JSON.parse(selectionJson(index, items, await loadRecords(index, items)));
  assert.deepEqual(list.map((r) => r.id), ['b', '0001', '12-Edit']);
  assert.deepEqual(list[0].subjects, ['Meteorites', 'Field photographs']);
  assert.deepEqual(list[2].subjects, []);
  assert.equal(list[2].title, '<img src=x onerror=alert(1)>', 'text stays text');
  assert.deepEqual(Object.keys(list[1]), ['id', 'title', 'date', 'dateLabel', 'url', 'imageUrl', 'thumb', 'description',
    'rights', 'subjects']);
});

test('thumbnailNames: thumbs/<file name>, the id in front of a name taken, none for a missing or foreign thumbnail', () => {
  const names = thumbnailNames([
    { id: 'a', thumb: 'thumbs/a.jpg' },
    { id: 'b', thumb: 'other/a.jpg' },
    { id: 'c', thumb: '' },
    { id: 'd', thumb: 'https://example.org/d.jpg' },
    { id: 'e', thumb: '//cdn.example.org/e.jpg' },
    { id: 'f', thumb: 'thumbs/Z%C3%BCrich%201.jpg?v=2' },
    { id: 'g', thumb: 'thumbs/bad%E0.jpg' },
  ]);
  assert.deepEqual(names, ['thumbs/a.jpg', 'thumbs/b-a.jpg', null, null, null, 'thumbs/Zürich 1.jpg', 'thumbs/bad%E0.jpg']);
});
