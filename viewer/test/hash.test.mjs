import { test } from 'node:test';
import assert from 'node:assert/strict';
import { findId } from '../src/data.js';
import { decodeHash, encodeHash, resolveHash, roundCoord, roundZoom, yearRange } from '../src/hash.js';
import { makeIndex, makeItems } from './fixtures.mjs';

const index = await makeIndex();
const explored = await makeIndex(makeItems(), { explore: true });

test('rounding: 5 decimals for the centre, 3 significant digits for the zoom', () => {
  assert.equal(roundCoord(0.123456789), 0.12346);
  assert.equal(roundCoord(-0.000001), 0);
  assert.equal(Object.is(roundCoord(-0.000001), -0), false);
  assert.equal(roundZoom(12.3456), 12.3);
  assert.equal(roundZoom(0.81234), 0.812);
  assert.equal(roundZoom(1234.5), 1230);
});

test('encodeHash writes keys in a fixed order and leaves defaults out', () => {
  assert.equal(encodeHash({ view: null, subjects: [], mode: 'any', from: null, to: null, q: '', item: null }), '');
  assert.equal(encodeHash({
    view: { x: 0.5, y: 0.4123456, z: 2.34567 }, subjects: ['Ships', 'A, B & C'], mode: 'all',
    from: 1890, to: 1929, q: 'brick wall', item: 'K 9045/1',
  }), 'x=0.5&y=0.41235&z=2.35&s=Ships,A%2C%20B%20%26%20C&mode=all&from=1890&to=1929&q=brick%20wall&item=K%209045%2F1');
  assert.equal(encodeHash({ view: { x: 1, y: NaN, z: 1 }, subjects: [], q: '  ' }), '');
});

test('decodeHash reverses encodeHash', () => {
  const state = {
    view: { x: 0.25, y: 0.75, z: 3.5 }, arrangement: null, subjects: ['Ships', 'A, B & C', 'C++'], mode: 'all',
    from: -50, to: 1929, facets: new Map(), q: 'brick + wall', item: '0001',
  };
  assert.deepEqual(decodeHash(`#${encodeHash(state)}`), state);
});

test('the arrangement and the facets round-trip through the hash, in a fixed place', () => {
  const text = encodeHash({
    view: { x: 0.5, y: 0.25, z: 2 }, arrangement: 'date', subjects: ['Ships'], mode: 'any', from: 1900, to: null,
    facets: [{ name: 'place', values: ['Zürich', 'A, B'] }, { name: 'height', range: [0.1 + 0.2, 40] },
      { name: 'empty', values: [] }, { name: 'open', range: [null, 5] }],
    q: 'ship', item: 'b',
  });
  assert.equal(text, 'x=0.5&y=0.25&z=2&a=date&s=Ships&from=1900&f.place=Z%C3%BCrich,A%2C%20B&f.height=0.3,40'
    + '&f.open=,5&q=ship&item=b');
  const decoded = decodeHash(text);
  assert.equal(decoded.arrangement, 'date');
  assert.deepEqual([...decoded.facets], [['place', ['Zürich', 'A, B']], ['height', ['0.3', '40']], ['open', ['', '5']]]);
  assert.equal(encodeHash({ arrangement: 'similarity' }), '', 'similarity is the default: left out');
  const r = resolveHash(decoded, explored);
  assert.equal(r.arrangement.name, 'date');
  assert.deepEqual([...r.facets], [['place', new Set([2])], ['height', [0.3, 40]]], 'names the site lacks are dropped');
  // and back: the page writes what it resolved
  assert.equal(encodeHash({ arrangement: r.arrangement.name, facets: [
    { name: 'place', values: [...r.facets.get('place')].map((v) => explored.facets[0].values[v]) },
    { name: 'height', range: r.facets.get('height') }] }), 'a=date&f.place=Z%C3%BCrich&f.height=0.3,40');
});

test('resolveHash: unknown arrangements read as similarity; facet values ignore case; a range with one end', () => {
  const r = resolveHash(decodeHash('a=nope&f.place=paris,LYON,Rome&f.height=12,&f.nope=1'), explored);
  assert.equal(r.arrangement.name, 'similarity');
  assert.deepEqual([...r.facets.get('place')], [0, 1]);
  assert.deepEqual(r.facets.get('height'), [12, explored.facets[1].max], 'a missing end comes from the data');
  assert.equal(r.facets.has('nope'), false);
  assert.equal(resolveHash(decodeHash('f.place=Rome&f.height=x,y'), explored).facets.size, 0);
  assert.equal(resolveHash(decodeHash('a=date'), index).arrangement.name, 'similarity', 'a site without it');
});

test('decodeHash tolerates junk: bad numbers, bad escapes, unknown keys', () => {
  const d = decodeHash('#x=abc&y=0.5&z=2&s=%E0%A4%A,Ships,,Ships&mode=ALL&from=19x0&to=1950&foo=bar&q=%&item=');
  assert.equal(d.view, null); // x is not a number, so the view is not used at all
  assert.deepEqual(d.subjects, ['Ships']);
  assert.equal(d.mode, 'any');
  assert.equal(d.from, null);
  assert.equal(d.to, 1950);
  assert.equal(d.q, '');
  assert.equal(d.item, null);
  assert.deepEqual(decodeHash(''), {
    view: null, arrangement: null, subjects: [], mode: 'any', from: null, to: null, facets: new Map(), q: '', item: null,
  });
  assert.equal(decodeHash('x=1&y=1&z=0').view, null); // zoom must be positive
  assert.equal(decodeHash('q=brick+wall').q, 'brick wall'); // URLSearchParams style
});

test('yearRange makes a half-open range from inclusive years, filling a missing end', () => {
  assert.deepEqual(yearRange(1890, 1929, [1850, 1990]), [1890, 1930]);
  assert.deepEqual(yearRange(1929, 1890, [1850, 1990]), [1890, 1930]);
  assert.deepEqual(yearRange(1900, null, [1850, 1990]), [1900, 1991]);
  assert.deepEqual(yearRange(null, 1900, [1850, 1990]), [1850, 1901]);
  assert.deepEqual(yearRange(1900, null, null), [1900, 1901]);
  assert.equal(yearRange(null, null, [1850, 1990]), null);
});

test('resolveHash maps names to the collection, drops unknown ones and takes the item the page found', async () => {
  const decoded = decodeHash('s=Ships,Nope,meteorites&item=K9045&from=1900&to=1909');
  assert.equal(decoded.item, 'K9045');
  const r = resolveHash(decoded, index, [1897, 1960], await findId(index, decoded.item));
  assert.deepEqual([...r.subjects], [0, 1]); // exact name, then case-insensitive
  assert.equal(r.item, 1);
  assert.deepEqual(r.years, [1900, 1910]);
  const none = resolveHash(decodeHash('s=Nope&item=missing'), index, null, await findId(index, 'missing'));
  assert.equal(none.subjects.size, 0);
  assert.equal(none.item, -1);
  assert.equal(none.years, null);
  assert.equal(resolveHash(decodeHash(''), index).item, -1);
  assert.equal(await findId(index, decodeHash('item=0001').item), 0); // ids are strings: leading zeros kept
  assert.equal(await findId(index, decodeHash('item=1').item), -1);
});
