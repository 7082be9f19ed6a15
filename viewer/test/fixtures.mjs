/**
 * A tiny collection per the data contract, shared by the tests: 4x3 grid, 10 items, 2 empty cells, and the
 * site files the pipeline would write for it (an encoder of the documented format, independent of data.js,
 * so the reader is checked against the contract rather than against itself). With `explore` the site also
 * has the optional keys of "Exploring": a date arrangement, two hotspots and two facets (makeExplore).
 */
import { createIndex, idBucket, loadColumns } from '../src/data.js';

export const BASE = 'http://site.test/c/index.html';

export function makeCollection() {
  return {
    name: 'tiny',
    title: 'Tiny',
    description: 'A tiny test collection',
    about: ['One.', 'Two.'],
    grid: { cols: 4, rows: 3, cellWidth: 10, cellHeight: 20 },
    tiles: { dzi: 'tiles/mosaic.dzi', width: 40, height: 60 },
  };
}

/** The metadata stage's columns for the tiny collection (items.json). */
export function makeItems() {
  const count = 10;
  return {
    count,
    id: ['0001', 'K9045', '12-Edit', '007', 'a', 'b', 'c', 'd', 'e', 'f'],
    col: [0, 1, 2, 3, 0, 1, 2, 3, 0, 1],
    row: [0, 0, 0, 0, 1, 1, 1, 1, 2, 2],
    title: ['Ship', 'Rock', '<img src=x onerror=alert(1)>', 'x', 'y', 'z', 'w', 'v', 'u', 't'],
    date: ['1897', '[1909, approximate]', 'Unknown', '1950', '1951', '1960', '1899', '1900', '1910-1915', 'n.d.'],
    yearStart: [1897, 1909, null, 1950, 1951, 1960, 1899, 1900, 1910, null],
    url: Array(count).fill('https://example.org/r'),
    imageUrl: Array(count).fill(''),
    thumb: Array.from({ length: count }, (_, i) => `thumbs/${i}.jpg`),
    subjects: [[0, 2], [1], [], [0], [2], [1, 2], [0], [], [3], [1]],
    subjectNames: ['Ships', 'Meteorites', 'Field photographs', 'Whales'],
    subjectCounts: [3, 3, 3, 1],
  };
}

/**
 * The exploring extras for the tiny collection, as the pipeline would compute them:
 * - a `date` arrangement on a 6 x 2 grid of its own (a column per decade, oldest left, unknown years last),
 *   item i in cell date.cells[i], with a group per column;
 * - hotspots: 0 = items 0, 1, 4, 5 (the top-left 2 x 2 block), 1 = items 2, 3, 7; the others in none;
 * - facets: `place` (values, some items two, some none) and `height` (a number, NaN = unknown).
 */
export function makeExplore() {
  return {
    date: {
      grid: { cols: 6, rows: 2, cellWidth: 10, cellHeight: 20 },
      // years: 1897 1909 null 1950 1951 1960 1899 1900 1910 null
      cells: [0, 7, 5, 3, 9, 4, 6, 1, 2, 11],
      groups: [
        { label: '1890s', count: 2, box: [0, 0, 0, 1] },
        { label: '1900s', count: 2, box: [1, 0, 1, 1] },
        { label: '1910s', count: 1, box: [2, 0, 2, 0] },
        { label: '1950s', count: 2, box: [3, 0, 3, 1] },
        { label: '1960s', count: 1, box: [4, 0, 4, 0] },
        { label: 'Unknown', count: 2, box: [5, 0, 5, 1] },
      ],
    },
    hotspotOf: [1, 1, 2, 2, 1, 1, 0, 2, 0, 0], // 0 = none, h + 1 = hotspot h
    hotspots: [
      { label: 'Ships at sea', autoLabel: 'Ships, Field photographs', terms: ['Ships', 'Field photographs'], size: 4,
        representative: 5, key: 'b', box: [0, 0, 1, 1] },
      { label: 'Meteorites', autoLabel: 'Meteorites', terms: ['Meteorites'], size: 3, representative: 3, key: '007',
        box: [2, 0, 3, 1] },
    ],
    place: { values: ['Paris', 'Lyon', 'Zürich'], of: [[0], [0, 1], [], [2], [1], [0], [], [2, 0], [1], [0]] },
    height: [10, 12.5, NaN, 30, 7, 19.99, 20, NaN, 40, 25],
  };
}

const name = (n) => `${String(n).padStart(5, '0')}.json`;
const FIELDS = ['id', 'title', 'date', 'dateLabel', 'url', 'imageUrl', 'thumb', 'description', 'rights'];

/** The site's data files for `items` (path under data/ -> JSON value, Uint8Array or string). */
export function encodeSite(items, { collection = makeCollection(), chunkSize = 4, neighbours = null, explore = false } = {}) {
  const count = items.id.length;
  const chunks = Math.ceil(count / chunkSize);
  const files = {};
  const cells = new Uint32Array(count);
  items.id.forEach((_, i) => { cells[i] = items.row[i] * collection.grid.cols + items.col[i]; });
  files['cells.bin'] = new Uint8Array(cells.buffer);
  const years = new Int16Array(count).map((_, i) => (items.yearStart[i] === null ? -32768 : items.yearStart[i]));
  files['years.bin'] = new Uint8Array(years.buffer);
  files['subject-counts.bin'] = Uint8Array.from(items.subjects, (list) => list.length);
  files['subject-ids.bin'] = Uint8Array.from(items.subjects.flat());
  for (let n = 0; n < chunks; n++) {
    const chunk = { start: n * chunkSize };
    for (const f of FIELDS) if (items[f]) chunk[f] = items[f].slice(n * chunkSize, (n + 1) * chunkSize);
    files[`items/${name(n)}`] = chunk;
    if (neighbours) files[`neighbours/${name(n)}`] = { start: n * chunkSize, neighbours: neighbours.slice(n * chunkSize, (n + 1) * chunkSize) };
  }
  files['titles.txt'] = items.title.join('\n');
  const buckets = Math.max(1, chunks);
  for (let b = 0; b < buckets; b++) files[`ids/${name(b)}`] = {};
  items.id.forEach((id, i) => { files[`ids/${name(idBucket(id, buckets))}`][id] = i; });
  files['collection.json'] = {
    ...collection,
    items: {
      format: 2, count, chunkSize, chunks, idBuckets: buckets, subjectIdBytes: 1,
      subjectNames: items.subjectNames, subjectCounts: items.subjectCounts,
      ...(neighbours ? { neighbours: 12 } : {}),
    },
    ...(explore ? encodeExplore(files, makeExplore()) : {}),
  };
  return files;
}

/** Write the exploring extras' files into `files`; returns their keys for collection.json. */
function encodeExplore(files, extra) {
  const { date, place, height } = extra;
  files['arrangements/date-cells.bin'] = new Uint8Array(Uint32Array.from(date.cells).buffer);
  files['hotspots.bin'] = new Uint8Array(Uint16Array.from(extra.hotspotOf).buffer);
  files['facets/place-counts.bin'] = Uint8Array.from(place.of, (list) => list.length);
  files['facets/place-ids.bin'] = Uint8Array.from(place.of.flat());
  files['facets/height.bin'] = new Uint8Array(Float32Array.from(height).buffer);
  const placeCounts = place.values.map((_, v) => place.of.filter((list) => list.includes(v)).length);
  const known = height.filter(Number.isFinite);
  return {
    arrangements: [
      { name: 'similarity', label: 'Similarity' },
      { name: 'date', label: 'Date', dzi: 'tiles/date.dzi', width: 60, height: 40, grid: date.grid,
        cells: 'data/arrangements/date-cells.bin', groups: date.groups },
    ],
    hotspots: extra.hotspots,
    facets: [
      { name: 'place', label: 'Place', kind: 'values', values: place.values, counts: placeCounts, valueIdBytes: 1,
        files: { counts: 'data/facets/place-counts.bin', ids: 'data/facets/place-ids.bin' } },
      { name: 'height', label: 'Height (cm)', kind: 'number', file: 'data/facets/height.bin',
        min: Math.min(...known), max: Math.max(...known) },
    ],
  };
}

/** A fetch() over `files` (as encodeSite makes them) at BASE's folder; `seen` collects the paths asked for. */
export function fakeFetch(files, seen = []) {
  const root = new URL('data/', BASE).href;
  return async (url) => {
    const path = String(url).startsWith(root) ? String(url).slice(root.length) : null;
    seen.push(path ?? String(url));
    const body = path === null ? undefined : files[path];
    if (body === undefined) return { ok: false, status: 404 };
    return {
      ok: true, status: 200,
      json: async () => (typeof body === 'string' ? JSON.parse(body) : body),
      text: async () => body,
      arrayBuffer: async () => body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength),
    };
  };
}

/** The index of `items` with its columns loaded, as the page has it after loadColumns. */
export async function makeIndex(items = makeItems(), options = {}) {
  const files = encodeSite(items, options);
  const index = createIndex(files['collection.json'], BASE, fakeFetch(files, options.seen));
  return loadColumns(index);
}
