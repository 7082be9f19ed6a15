/**
 * Loading and indexing of the site's data (data/collection.json and the files it describes; see
 * viewer/README.md, "Data contract"). Split so that a million items stay light: collection.json opens the
 * mosaic; three small binary columns (cells, years, subjects) make the filters work; the records (title,
 * date, links), the neighbours and the id lookup come in chunks when an item needs them; the exploring
 * extras (another arrangement's cells, the hotspots' column, a facet's columns) when first used.
 * Pure logic: no DOM, so `node --test` can exercise it.
 */
import { SIMILARITY, applyLayout, emptyLayout, makeLayout, parseArrangements } from './arrangement.js';
import { cellMaps } from './cells.js';
import { numberColumn, parseFacets, valuesColumn } from './facets.js';
import { hotspotMembers, parseHotspots } from './hotspots.js';

export const NO_YEAR = -32768; // years.bin: unknown year
const KEPT_CHUNKS = 64; // record and neighbour chunks held in memory at once (least recently used go)
const RECORD_FIELDS = ['id', 'title', 'date', 'dateLabel', 'url', 'imageUrl', 'thumb', 'description', 'rights'];

/** Fetch `path` relative to `base` (the page URL), with an error that names the file. */
async function fetchOk(path, base, fetchFn) {
  const res = await fetchFn(new URL(path, base));
  if (!res.ok) throw new Error(`Could not load ${path} (HTTP ${res.status})`);
  return res;
}

/** Fetch JSON relative to `base`, with an error that names the file. */
export async function fetchJson(path, base, fetchFn = globalThis.fetch) {
  return (await fetchOk(path, base, fetchFn)).json();
}

async function fetchBytes(path, base, fetchFn) {
  return new Uint8Array(await (await fetchOk(path, base, fetchFn)).arrayBuffer());
}

function positiveInt(value, what) {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`collection.json: ${what} must be a positive integer`);
  return n;
}

/** Name of chunk `number` (records, neighbours, ids): five digits, as the site stage writes them. */
function chunkName(number) {
  return `${String(number).padStart(5, '0')}.json`;
}

/** FNV-1a (32 bit) of the id's UTF-8 bytes modulo `buckets`: the ids/ file that holds it (as site.py). */
export function idBucket(id, buckets) {
  let h = 0x811c9dc5;
  for (const byte of new TextEncoder().encode(String(id))) {
    h ^= byte;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h % buckets;
}

/**
 * The index before its columns are in: collection.json validated (strict on the grid, because a wrong grid
 * would silently map clicks to the wrong photographs), empty columns, and loaders for what comes later.
 * `loadColumns` fills it in place; until then every cell is empty. `grid`, `cell`, `col`, `row` and
 * `cellItem` are those of the arrangement on screen (`arrangement`; see arrangement.js), the similarity
 * grid's until another is chosen; `arrangements`, `hotspots` and `facets` are the optional keys, parsed.
 * @returns {{collection, grid, count, chunkSize, idBuckets, subjectNames, subjectCounts, cell, col, row,
 *   cellItem, year, subjectStart, subjectIds, warnings, hasNeighbours, arrangements, arrangement, layouts,
 *   hotspots, facets, base, fetchFn, loaded: boolean}}
 */
export function createIndex(collection, base, fetchFn = globalThis.fetch) {
  if (!collection || typeof collection !== 'object') throw new Error('collection.json is not an object');
  const g = collection.grid || {};
  const grid = {
    cols: positiveInt(g.cols, 'grid.cols'),
    rows: positiveInt(g.rows, 'grid.rows'),
    cellWidth: positiveInt(g.cellWidth, 'grid.cellWidth'),
    cellHeight: positiveInt(g.cellHeight, 'grid.cellHeight'),
  };
  const items = collection.items;
  if (!items || typeof items !== 'object' || items.format !== 2) {
    throw new Error('collection.json: "items" is not the chunked data of format 2 (rebuild the site)');
  }
  const count = Number.isInteger(items.count) && items.count >= 0 ? items.count : 0;
  const subjectNames = (Array.isArray(items.subjectNames) ? items.subjectNames : []).map(String);
  const chunkSize = positiveInt(items.chunkSize, 'items.chunkSize');
  const { arrangements, warnings } = parseArrangements(collection, grid);
  const facets = parseFacets(collection);
  return {
    collection, grid, count, chunkSize,
    idBuckets: positiveInt(items.idBuckets ?? 1, 'items.idBuckets'),
    subjectIdBytes: items.subjectIdBytes === 2 ? 2 : 1,
    hasNeighbours: Number.isInteger(items.neighbours),
    subjectNames,
    subjectCounts: Array.isArray(items.subjectCounts) ? items.subjectCounts.map(Number) : [],
    cell: new Uint32Array(0), col: new Int32Array(0), row: new Int32Array(0),
    cellItem: new Int32Array(grid.cols * grid.rows).fill(-1),
    year: new Int16Array(0), subjectStart: new Uint32Array(1), subjectIds: new Uint8Array(0),
    warnings: [...warnings, ...facets.warnings], loaded: false,
    arrangements, arrangement: arrangements[0], layouts: new Map(),
    hotspots: parseHotspots(collection, count), facets: facets.facets,
    base, fetchFn,
    records: chunkCache(), neighbours: chunkCache(), extras: new Map(),
  };
}

/** Fetch collection.json and return the index (columns not yet loaded). */
export async function loadCollection(base, fetchFn = globalThis.fetch) {
  return createIndex(await fetchJson('data/collection.json', base, fetchFn), base, fetchFn);
}

/**
 * Fetch the binary columns (cells, years, subjects) and index them in place; returns the index. When a link
 * chose another arrangement before (chooseArrangement), its cell column comes along.
 */
export async function loadColumns(index) {
  const get = (name) => fetchBytes(`data/${name}`, index.base, index.fetchFn);
  const chosen = index.arrangement;
  const [cells, years, counts, ids, arranged] = await Promise.all([
    ...['cells.bin', 'years.bin', 'subject-counts.bin', 'subject-ids.bin'].map(get),
    chosen.cells ? fetchBytes(chosen.cells, index.base, index.fetchFn) : null,
  ]);
  setColumns(index, { cells, years, counts, ids });
  if (arranged) applyLayout(index, layoutFrom(index, chosen, arranged));
  return index;
}

/** The layout of `arrangement` from its fetched cell column, kept for the next switch. */
function layoutFrom(index, arrangement, bytes) {
  const layout = makeLayout(arrangement, typed(bytes, Uint32Array), index.count);
  index.warnings.push(...layout.warnings);
  index.layouts.set(arrangement.name, layout);
  return layout;
}

/**
 * Show `arrangement` before the columns are in (a link's `a=`): its grid, every cell empty, so that the
 * mosaic opens with its pyramid at once; loadColumns then brings its cells.
 */
export function chooseArrangement(index, arrangement) {
  return applyLayout(index, emptyLayout(arrangement, index.count));
}

/**
 * Switch the index to `arrangement` (fetching its cell column the first time); resolves to its layout. The
 * similarity layout is the one loadColumns built from cells.bin.
 */
export async function loadArrangement(index, arrangement) {
  let layout = index.layouts.get(arrangement.name);
  if (!layout) layout = layoutFrom(index, arrangement, await fetchBytes(arrangement.cells, index.base, index.fetchFn));
  return applyLayout(index, layout);
}

/** Little-endian typed view of `bytes` (copied when unaligned or on a big-endian machine: never, in practice). */
function typed(bytes, Type) {
  const n = Math.floor(bytes.byteLength / Type.BYTES_PER_ELEMENT);
  if (bytes.byteOffset % Type.BYTES_PER_ELEMENT === 0) return new Type(bytes.buffer, bytes.byteOffset, n);
  return new Type(bytes.slice(0, n * Type.BYTES_PER_ELEMENT).buffer);
}

/**
 * Index the raw column bytes ({cells, years, counts, ids}: Uint8Arrays as fetched) into `index`:
 * cell, col, row, cellItem (-1 = empty cell), year (NO_YEAR = unknown), subjectStart/subjectIds (item i's
 * subjects are subjectIds[subjectStart[i] .. subjectStart[i+1])). Lenient on counts (warns), strict on cells.
 */
export function setColumns(index, { cells, years, counts, ids }) {
  const similarity = index.arrangements[0];
  const { grid } = similarity;
  const warnings = [];
  let count = index.count;
  const cell = typed(cells, Uint32Array);
  if (cell.length !== count) {
    warnings.push(`cells.bin has ${cell.length} items, collection.json says ${count}`);
    count = Math.min(count, cell.length);
  }
  const { col, row, cellItem, outside, clashes } = cellMaps(cell, grid, count);
  if (outside) warnings.push(`${outside} item(s) lie outside the ${grid.cols}x${grid.rows} grid`);
  if (clashes) warnings.push(`${clashes} item(s) share a cell with another item`);
  const layout = { arrangement: similarity, grid, cell, col, row, cellItem, warnings: [] };
  index.layouts.set(SIMILARITY, layout);

  let year = typed(years, Int16Array);
  if (year.length < count) {
    warnings.push(`years.bin has ${year.length} items, not ${count}`);
    const padded = new Int16Array(count).fill(NO_YEAR);
    padded.set(year);
    year = padded;
  }
  year = year.subarray(0, count);

  const nSubjects = index.subjectNames.length;
  const flat = index.subjectIdBytes === 2 ? typed(ids, Uint16Array) : ids;
  const subjectStart = new Uint32Array(count + 1);
  for (let i = 0; i < count; i++) subjectStart[i + 1] = subjectStart[i] + (counts[i] ?? 0);
  let subjectIds = flat;
  if (subjectStart[count] !== flat.length || flat.some((s) => s >= nSubjects)) {
    warnings.push('subject-ids.bin does not match subject-counts.bin and the subject names: subjects dropped');
    subjectStart.fill(0);
    subjectIds = new Uint8Array(0);
  }
  if (index.subjectCounts.length !== nSubjects || index.subjectCounts.some((c) => !Number.isFinite(c))) {
    // Recount rather than trust a mismatched array: the treemap is sized by these.
    index.subjectCounts = new Array(nSubjects).fill(0);
    for (const s of subjectIds) index.subjectCounts[s]++;
  }
  Object.assign(index, { count, year, subjectStart, subjectIds, loaded: true });
  if (index.arrangement === similarity) applyLayout(index, layout);
  index.warnings.push(...warnings);
  return index;
}

/** `load()` once per `key` (a failure is forgotten, so a later call tries again): for the files fetched on first use. */
function once(index, key, load) {
  let entry = index.extras.get(key);
  if (!entry) {
    entry = load().catch((err) => {
      index.extras.delete(key);
      throw err;
    });
    index.extras.set(key, entry);
  }
  return entry;
}

/** Which items are in which hotspot (data/hotspots.bin), fetched when a hotspot is first pointed at. */
export function loadHotspots(index) {
  return once(index, 'hotspots', async () => {
    const column = typed(await fetchBytes('data/hotspots.bin', index.base, index.fetchFn), Uint16Array);
    return hotspotMembers(column.subarray(0, index.count), index.hotspots.length);
  });
}

/** A facet's column (facets.js valuesColumn or numberColumn), fetched when the facet is first used. */
export function loadFacet(index, facet) {
  const get = (path) => fetchBytes(path, index.base, index.fetchFn);
  return once(index, `facet:${facet.name}`, async () => {
    if (facet.kind === 'number') return numberColumn(await get(facet.file), index.count);
    const [counts, ids] = await Promise.all([get(facet.files.counts), get(facet.files.ids)]);
    return valuesColumn(facet, counts, ids, index.count);
  });
}

/** Item i's subject ids (a typed subarray; do not keep it past a reload). */
export function subjectsOf(index, i) {
  return index.subjectIds.subarray(index.subjectStart[i], index.subjectStart[i + 1]);
}

/** A small cache of chunk promises, least recently used dropped first; a failed fetch is forgotten. */
export function chunkCache(limit = KEPT_CHUNKS) {
  const chunks = new Map();
  return {
    get(number, load) {
      let entry = chunks.get(number);
      if (entry) {
        chunks.delete(number);
      } else {
        entry = load().catch((err) => {
          chunks.delete(number);
          throw err;
        });
        entry.then((value) => { entry.value = value; }, () => {});
      }
      chunks.set(number, entry);
      while (chunks.size > limit) chunks.delete(chunks.keys().next().value);
      return entry;
    },
    /** The chunk if it is already in, else undefined (no fetch). */
    peek(number) {
      return chunks.get(number)?.value;
    },
  };
}

/** One item's record from its chunk: every field a string ('' when missing). */
function recordOf(chunk, i) {
  const k = i - chunk.start;
  const out = {};
  for (const field of RECORD_FIELDS) {
    const v = Array.isArray(chunk[field]) ? chunk[field][k] : undefined;
    out[field] = v === undefined || v === null ? '' : String(v);
  }
  return out;
}

function recordChunk(index, number) {
  return index.records.get(number, () => fetchJson(`data/items/${chunkName(number)}`, index.base, index.fetchFn)
    .then((chunk) => ({ start: number * index.chunkSize, ...chunk })));
}

/** Item i's record ({id, title, date, dateLabel, url, imageUrl, thumb, description, rights}) if its chunk is in. */
export function record(index, i) {
  if (!(i >= 0 && i < index.count)) return null;
  const chunk = index.records.peek(Math.floor(i / index.chunkSize));
  return chunk ? recordOf(chunk, i) : null;
}

/** Item i's record, fetching its chunk when needed. */
export async function loadRecord(index, i) {
  if (!(i >= 0 && i < index.count)) return null;
  return recordOf(await recordChunk(index, Math.floor(i / index.chunkSize)), i);
}

/** Records of `items` (valid positions), in that order, fetching each chunk they need once (in parallel). */
export async function loadRecords(index, items) {
  const out = new Array(items.length);
  const byChunk = new Map();
  items.forEach((i, k) => {
    const n = Math.floor(i / index.chunkSize);
    if (!byChunk.has(n)) byChunk.set(n, []);
    byChunk.get(n).push(k);
  });
  await Promise.all([...byChunk].map(async ([n, ks]) => {
    const chunk = await recordChunk(index, n);
    for (const k of ks) out[k] = recordOf(chunk, items[k]);
  }));
  return out;
}

/** Item i's "more like this" (positions, nearest first, never i itself); [] when the site has none. */
export async function loadNeighbours(index, i) {
  if (!index.hasNeighbours || !(i >= 0 && i < index.count)) return [];
  const number = Math.floor(i / index.chunkSize);
  const chunk = await index.neighbours.get(number,
    () => fetchJson(`data/neighbours/${chunkName(number)}`, index.base, index.fetchFn));
  const list = Array.isArray(chunk.neighbours) ? chunk.neighbours[i - number * index.chunkSize] : null;
  return similarItems(list, i, index.count);
}

/** The distinct valid positions of `list`, in order, never `item` itself. */
export function similarItems(list, item, count) {
  const seen = new Set([item]);
  const out = [];
  for (const q of Array.isArray(list) ? list : []) {
    if (!Number.isInteger(q) || q < 0 || q >= count || seen.has(q)) continue;
    seen.add(q);
    out.push(q);
  }
  return out;
}

/** Position of the item with this id (ids are compared as strings), or -1; fetches one ids/ file. */
export async function findId(index, id) {
  const bucket = idBucket(id, index.idBuckets);
  const map = await fetchJson(`data/ids/${chunkName(bucket)}`, index.base, index.fetchFn);
  const i = Object.prototype.hasOwnProperty.call(map, String(id)) ? map[String(id)] : -1;
  return Number.isInteger(i) && i >= 0 && i < index.count ? i : -1;
}

/**
 * Date text to show for a record: the pipeline's normalised `dateLabel` (e.g. "ca. 1984") when present,
 * else the catalogue's own `date`; '' when neither.
 */
export function displayDate(rec) {
  return rec ? rec.dateLabel || rec.date || '' : '';
}

/**
 * `value` if it is safe to put in an href: http(s) URLs, or a path relative to the site.
 * Blocks javascript:, data: and other schemes, since these links come from catalogue data.
 */
export function safeHref(value) {
  const s = String(value ?? '').trim();
  if (!s) return '';
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):/.exec(s);
  if (!scheme) return s.startsWith('//') ? '' : s;
  return /^https?$/i.test(scheme[1]) ? s : '';
}
