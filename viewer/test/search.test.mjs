import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildIndex } from '../src/data.js';
import { buildSearchText, normalizeText, searchMatches, tokenize } from '../src/search.js';
import { makeCollection, makeItems } from './fixtures.mjs';

const positions = (r) => (r ? [...r.matches].flatMap((m, i) => (m ? [i] : [])) : null);

test('normalizeText folds case, accents and punctuation', () => {
  assert.equal(normalizeText('Zürich, Émile'), 'zurich emile');
  assert.equal(normalizeText('  ÅNGSTRÖM—Straße '), 'angstrom strasse');
  assert.equal(normalizeText('<img src=x onerror=alert(1)>'), 'img src x onerror alert 1');
  assert.equal(normalizeText(null), '');
});

test('tokenize splits into distinct words; blank queries have none', () => {
  assert.deepEqual(tokenize('Ship  ship, ROCK'), ['ship', 'rock']);
  assert.deepEqual(tokenize('   '), []);
  assert.deepEqual(tokenize('--'), []);
});

test('every word must match, in the title or in subject names', () => {
  const items = makeItems();
  items.title[4] = 'Café on the Quai';
  const index = buildIndex(makeCollection(), items);
  const text = buildSearchText(index);
  assert.equal(searchMatches(text, ''), null);
  assert.deepEqual(positions(searchMatches(text, 'ship')), [0, 3, 6]); // title "Ship" + subject "Ships"
  assert.deepEqual(positions(searchMatches(text, 'SHIP field')), [0]); // both words on item 0
  assert.deepEqual(positions(searchMatches(text, 'cafe')), [4]); // accent-insensitive
  assert.deepEqual(positions(searchMatches(text, 'CAFÉ quai')), [4]);
  assert.deepEqual(positions(searchMatches(text, 'meteor')), [1, 5, 9]); // substring of "Meteorites"
  assert.deepEqual(positions(searchMatches(text, 'onerror')), [2]);
  assert.deepEqual(positions(searchMatches(text, 'whales ships')), []);
  assert.equal(searchMatches(text, 'ship').n, 3);
});

test('words do not run across fields', () => {
  const index = buildIndex(makeCollection(), makeItems());
  const text = buildSearchText(index);
  // item 0: title "Ship", subjects Ships + Field photographs: "shipships" must not be formed
  assert.deepEqual(positions(searchMatches(text, 'shipships')), []);
});
