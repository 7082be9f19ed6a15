/**
 * A tiny collection per the data contract, shared by the tests: 4x3 grid, 10 items, 2 empty cells, and the
 * site files the pipeline would write for it (an encoder of the documented format, independent of data.js,
 * so the reader is checked against the contract rather than against itself).
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

const name = (n) => `${String(n).padStart(5, '0')}.json`;
const FIELDS = ['id', 'title', 'date', 'dateLabel', 'url', 'imageUrl', 'thumb', 'description', 'rights'];

/** The site's data files for `items` (path under data/ -> JSON value, Uint8Array or string). */
export function encodeSite(items, { collection = makeCollection(), chunkSize = 4, neighbours = null } = {}) {
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
  };
  return files;
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
