import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildIndex } from '../src/data.js';
import { parseNeighbours, similarItems } from '../src/neighbours.js';
import { makeCollection, makeItems } from './fixtures.mjs';

const index = buildIndex(makeCollection(), makeItems());

test('neighbours in items.json order are used as they are', () => {
  const lists = parseNeighbours({ k: 3, id: index.ids, neighbours: [[1, 2, 3], [0, 2, 3]] }, index);
  assert.equal(lists.length, 10);
  assert.deepEqual(lists[0], [1, 2, 3]);
  assert.deepEqual(lists[5], []); // missing rows are empty
});

test('a file in another order is mapped through the ids; unknown ids and bad entries drop out', () => {
  // file order: item 1 ('K9045'), item 0 ('0001'), an id items.json lacks
  const lists = parseNeighbours({ k: 2, id: ['K9045', '0001', 'gone'], neighbours: [[1, 2, 'x', 99], [0, 2], [0, 1]] }, index);
  assert.deepEqual(lists[1], [0]); // file position 1 is item 0; 2 is unknown; 'x' and 99 invalid
  assert.deepEqual(lists[0], [1]);
});

test('a malformed file is an error', () => {
  assert.throws(() => parseNeighbours({ k: 12 }, index), /neighbours/);
  assert.throws(() => parseNeighbours(null, index), /neighbours/);
});

test('the file says how many neighbours each item has: k, else the lists as they are', () => {
  const long = Array.from({ length: 10 }, (_, p) => [1, 2, 3, 4, 5, 6, 7, 8, 9, 0].filter((q) => q !== p));
  for (const k of [3, 9]) {
    const lists = parseNeighbours({ k, id: index.ids, neighbours: long }, index);
    assert.ok(lists.every((list) => list.length === k), `k = ${k}`);
    assert.equal(similarItems(lists, 4).length, k);
  }
  const noK = parseNeighbours({ id: index.ids, neighbours: long }, index);
  assert.equal(similarItems(noK, 4).length, 9); // more than any default a viewer might have had
  assert.equal(parseNeighbours({ k: 0, id: index.ids, neighbours: long }, index)[4].length, 9);
});

test('similarItems: every neighbour, nearest first, no self, no repeats', () => {
  const lists = [[0, 3, 3, 2, 5, 6], [], [], [], [], [], [], [], [], [], [], [], [], [], [], [], [], [],
    Array.from({ length: 30 }, (_, q) => q)];
  assert.deepEqual(similarItems(lists, 0), [3, 2, 5, 6]);
  assert.equal(similarItems(lists, 18).length, 29); // no count of the viewer's own cuts the list
  assert.deepEqual(similarItems(lists, 7), []);
  assert.deepEqual(similarItems(null, 0), []);
});
