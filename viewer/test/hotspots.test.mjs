import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hotspotMembers, labelSource, parseHotspots } from '../src/hotspots.js';
import { itemsBox, itemsOutline } from '../src/cells.js';
import { findArrangement } from '../src/arrangement.js';
import { loadArrangement, loadHotspots } from '../src/data.js';
import { makeExplore, makeIndex, makeItems } from './fixtures.mjs';

const explore = makeExplore();

/** The outline's segments as sorted 'x0,y0-x1,y1' strings, to compare regardless of order. */
const segments = (outline) => {
  const out = [];
  for (let k = 0; k < outline.length; k += 4) out.push(`${outline[k]},${outline[k + 1]}-${outline[k + 2]},${outline[k + 3]}`);
  return out.sort();
};

test('parseHotspots: the list in order, curated when the label differs from the automatic one', () => {
  const list = parseHotspots({ hotspots: [...explore.hotspots, { label: '', autoLabel: '', representative: 99 }, null] }, 10);
  assert.equal(list.length, 3);
  assert.deepEqual(list.map((h) => h.curated), [true, false, false]);
  assert.equal(list[0].representative, 5);
  assert.equal(list[2].representative, -1, 'a representative beyond the items');
  assert.equal(list[2].label, 'Unnamed');
  assert.equal(labelSource(list[0]), 'Named by a curator (from the catalogue: Ships, Field photographs). Picture id b');
  assert.equal(labelSource(list[1]), 'Label from the catalogue: Meteorites. Picture id 007');
  assert.equal(labelSource(list[2]), 'Label from the catalogue');
  assert.deepEqual(parseHotspots({}, 10), []);
});

test('the hotspots column is fetched when first needed, once; members per hotspot in position order', async () => {
  const seen = [];
  const index = await makeIndex(makeItems(), { explore: true, seen });
  assert.ok(!seen.includes('hotspots.bin'), 'not at start');
  const members = await loadHotspots(index);
  await loadHotspots(index);
  assert.equal(seen.filter((p) => p === 'hotspots.bin').length, 1);
  assert.deepEqual([...members.of(0)], [0, 1, 4, 5]);
  assert.deepEqual([...members.of(1)], [2, 3, 7]);
  assert.deepEqual([...members.of(2)], []);
  assert.deepEqual([...hotspotMembers(Uint16Array.from([0, 3, 1]), 1).of(0)], [2], 'a hotspot beyond the list is ignored');
});

test('a hotspot\'s box and outline follow the arrangement on screen', async () => {
  const index = await makeIndex(makeItems(), { explore: true });
  const members = await loadHotspots(index);
  // similarity: items 0 1 4 5 are the 2 x 2 block at the top left of the 4 x 3 grid
  assert.deepEqual(itemsBox(index, members.of(0)), [0, 0, 1, 1]);
  assert.deepEqual(segments(itemsOutline(index, members.of(0))), ['0,0-0,2', '0,0-2,0', '0,2-2,2', '2,0-2,2']);
  // items 2 3 7: an L (cells 2, 3 and 7)
  assert.deepEqual(segments(itemsOutline(index, members.of(1))),
    ['2,0-2,1', '2,0-4,0', '2,1-3,1', '3,1-3,2', '3,2-4,2', '4,0-4,2'].sort());
  await loadArrangement(index, findArrangement(index, 'date'));
  // date cells of 0 1 4 5: 0 7 9 4 -> (0,0) (1,1) (3,1) (4,0)
  assert.deepEqual(itemsBox(index, members.of(0)), [0, 0, 4, 1]);
  const outline = segments(itemsOutline(index, members.of(0)));
  // four separate cells, four sides each, but sides in line across a corner are one run: 16 - 4
  assert.equal(outline.length, 12);
  assert.ok(outline.includes('0,1-2,1') && outline.includes('4,0-4,2') && outline.includes('3,2-4,2'));
  assert.equal(itemsBox(index, []), null);
  assert.equal(itemsOutline(index, []).length, 0);
});
