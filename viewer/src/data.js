/**
 * Loading and indexing of the pipeline's JSON (data/collection.json + data/items.json).
 * Pure logic: no DOM, so `node --test` can exercise it. Everything about a collection
 * comes from these files; nothing here knows about a particular collection.
 */

/** Fetch JSON relative to `base` (the page URL), with an error that names the file. */
export async function fetchJson(path, base, fetchFn = globalThis.fetch) {
  const url = new URL(path, base);
  const res = await fetchFn(url);
  if (!res.ok) throw new Error(`Could not load ${path} (HTTP ${res.status})`);
  return res.json();
}

/** Load collection.json and the items file it names; returns the built index. */
export async function loadCollection(base, fetchFn = globalThis.fetch) {
  const collection = await fetchJson('data/collection.json', base, fetchFn);
  const items = await fetchJson(collection.items || 'data/items.json', base, fetchFn);
  return buildIndex(collection, items);
}

/** A year value from JSON (number, numeric string or null) as an integer or null. */
export function toYear(value) {
  if (value === null || value === undefined || value === '') return null;
  const n = typeof value === 'number' ? value : Number(value);
  return Number.isFinite(n) ? Math.trunc(n) : null;
}

function positiveInt(value, what) {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`collection.json: ${what} must be a positive integer`);
  return n;
}

/** Column `key` of the columnar items file as an array of `count` values (default fills gaps). */
function column(items, key, count, fallback) {
  const arr = Array.isArray(items[key]) ? items[key] : [];
  const out = new Array(count);
  for (let i = 0; i < count; i++) {
    const v = arr[i];
    out[i] = v === undefined || v === null ? fallback(i) : v;
  }
  return out;
}

/**
 * Validate the two JSON documents and build the structures the viewer needs:
 * per-item columns, `cellItem` (Int32Array cols*rows, -1 = empty cell) and subject tables.
 * Lenient on optional fields (missing strings become ''), strict on the grid, because a wrong
 * grid would silently map clicks to the wrong photographs.
 * @returns {{collection, grid, count, ids, idPosition: Map<string, number>, col, row, title, date,
 *   dateLabel, description, rights, year, url, imageUrl, thumb, subjects, subjectNames, subjectCounts,
 *   cellItem, warnings: string[]}}
 */
export function buildIndex(collection, items) {
  if (!collection || typeof collection !== 'object') throw new Error('collection.json is not an object');
  if (!items || typeof items !== 'object') throw new Error('items.json is not an object');
  const g = collection.grid || {};
  const grid = {
    cols: positiveInt(g.cols, 'grid.cols'),
    rows: positiveInt(g.rows, 'grid.rows'),
    cellWidth: positiveInt(g.cellWidth, 'grid.cellWidth'),
    cellHeight: positiveInt(g.cellHeight, 'grid.cellHeight'),
  };
  const ids = Array.isArray(items.id) ? items.id : [];
  const count = Number.isInteger(items.count) ? items.count : ids.length;
  const warnings = [];
  if (ids.length !== count) warnings.push(`items.json: id has ${ids.length} entries, count is ${count}`);

  const str = (key) => column(items, key, count, () => '').map(String);
  const idCol = column(items, 'id', count, (i) => `#${i}`).map(String); // ids are strings, never numbers
  // Items are ordered by cell index, so a missing col/row column can be derived from the position.
  const col = column(items, 'col', count, (i) => i % grid.cols).map(Number);
  const row = column(items, 'row', count, (i) => Math.floor(i / grid.cols)).map(Number);
  // Histogram and date filter use one year per item: the start of its date (null: unknown).
  const year = column(items, 'yearStart', count, () => null).map(toYear);

  const subjectNames = (Array.isArray(items.subjectNames) ? items.subjectNames : []).map(String);
  const nSubjects = subjectNames.length;
  const subjects = column(items, 'subjects', count, () => []).map((list) =>
    (Array.isArray(list) ? list : []).filter((s) => Number.isInteger(s) && s >= 0 && s < nSubjects));
  let subjectCounts = Array.isArray(items.subjectCounts) ? items.subjectCounts.map(Number) : [];
  if (subjectCounts.length !== nSubjects || subjectCounts.some((c) => !Number.isFinite(c))) {
    // Recount rather than trust a mismatched array: the treemap is sized by these.
    subjectCounts = new Array(nSubjects).fill(0);
    for (const list of subjects) for (const s of list) subjectCounts[s]++;
  }

  const cellItem = new Int32Array(grid.cols * grid.rows).fill(-1);
  let outside = 0, clashes = 0;
  for (let i = 0; i < count; i++) {
    const c = col[i], r = row[i];
    if (!Number.isInteger(c) || !Number.isInteger(r) || c < 0 || r < 0 || c >= grid.cols || r >= grid.rows) {
      outside++;
      continue;
    }
    const cell = r * grid.cols + c;
    if (cellItem[cell] !== -1) clashes++;
    cellItem[cell] = i;
  }
  if (outside) warnings.push(`${outside} item(s) lie outside the ${grid.cols}x${grid.rows} grid`);
  if (clashes) warnings.push(`${clashes} item(s) share a cell with another item`);

  const idPosition = new Map();
  idCol.forEach((id, i) => { if (!idPosition.has(id)) idPosition.set(id, i); });

  return {
    collection, grid, count,
    ids: idCol, idPosition, col, row,
    title: str('title'), date: str('date'), dateLabel: str('dateLabel'),
    // Optional free-text columns, shown in the details panel when not empty.
    description: str('description'), rights: str('rights'),
    year,
    url: str('url'), imageUrl: str('imageUrl'), thumb: str('thumb'),
    subjects, subjectNames, subjectCounts,
    cellItem, warnings,
  };
}

/**
 * Date text to show for item i: the pipeline's normalised `dateLabel` (optional column,
 * e.g. "ca. 1984") when present, else the catalogue's own `date`; '' when neither.
 */
export function displayDate(index, i) {
  return index.dateLabel[i] || index.date[i] || '';
}

/** Position of the item with this id (ids are compared as strings), or -1. */
export function positionOfId(index, id) {
  const i = index.idPosition.get(String(id));
  return i === undefined ? -1 : i;
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
