import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildSearchIndex, normalizeText, searchMatches, titleLines, tokenize } from '../src/search.js';
import { makeIndex, makeItems } from './fixtures.mjs';

/** The worker's index of `items`: titles as titles.txt gives them, subjects from the loaded columns. */
async function searchIndexOf(items) {
  const index = await makeIndex(items);
  return buildSearchIndex(items.title, index.subjectStart, index.subjectIds, index.subjectNames);
}

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

test('every word must match, in the title or in subject names', async () => {
  const items = makeItems();
  items.title[4] = 'Café on the Quai';
  const text = await searchIndexOf(items);
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

test('words do not run across fields or items', async () => {
  const text = await searchIndexOf(makeItems());
  // item 0: title "Ship", subjects Ships + Field photographs: "shipships" must not be formed
  assert.deepEqual(positions(searchMatches(text, 'shipships')), []);
  assert.deepEqual(positions(searchMatches(text, 'photographs rock')), []); // end of item 0, start of item 1
});

test('a word found many times in one item counts once; the last item and empty titles are searched', async () => {
  const items = makeItems();
  items.title = ['aaa aaa', '', 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'zebra aaa'];
  const text = await searchIndexOf(items);
  assert.deepEqual(positions(searchMatches(text, 'aa')), [0, 9]);
  assert.equal(searchMatches(text, 'zebra').n, 1);
  assert.deepEqual(positions(searchMatches(text, 'meteorites')), [1, 5, 9]); // item 1 has no title, a subject
});

test('one- and two-character words (bitsets) and longer ones (indexOf) find exactly what a plain check finds', () => {
  const latin = ['ship', 'rock', 'sea', 'a', 'to', 'zürich', 'x1', 'meteor', 'ab', ''];
  let seed = 7;
  const rand = (n) => { seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0; return (seed >>> 8) % n; };
  const names = ['Ships', 'Sea birds', 'Athens'];
  for (const greek of [false, true]) {
    const words = greek ? [...latin, 'αθήνα'] : latin;
    const titles = Array.from({ length: 300 }, () => Array.from({ length: rand(5) }, () => words[rand(words.length)]).join(' '));
    const subjects = Array.from({ length: 300 }, () => (rand(4) ? [] : [rand(3)]));
    const subjectStart = new Uint32Array(301);
    subjects.forEach((list, i) => { subjectStart[i + 1] = subjectStart[i] + list.length; });
    const index = buildSearchIndex(titles, subjectStart, Uint8Array.from(subjects.flat()), names);
    for (const q of ['a', 'to', 'sea', 'ship', 'ea', 's', 'hip rock', 'athen', 'αθ', 'x', '1', 'zz', 'birds a', 'x1', 'ü', 'hi', 'ro']) {
      const tokens = tokenize(q);
      const expected = titles.map((t, i) => tokens.every((w) => normalizeText(t).includes(w)
        || subjects[i].some((k) => normalizeText(names[k]).includes(w))));
      assert.deepEqual(positions(searchMatches(index, q)), expected.flatMap((m, i) => (m ? [i] : [])), `"${q}" (greek: ${greek})`);
    }
  }
});

test('titleLines reads one title per line without splitting the file, and pads a short one', () => {
  const lines = titleLines('one\ntwo\n\nfour', 6);
  assert.deepEqual(Array.from({ length: 6 }, (_, i) => lines.at(i)), ['one', 'two', '', 'four', '', '']);
  assert.equal(lines.length, 6);
  assert.deepEqual([titleLines('', 2).at(0), titleLines('', 2).at(1)], ['', '']);
});
