/**
 * Facets: extra filters from catalogue columns (collection.json `facets`, viewer/README.md "Exploring").
 * A `values` facet gives each item zero or more values (a place, a photographer) and keeps the items that
 * have ANY of the selected ones; a `number` facet gives each item a number (NaN: unknown) and keeps those in
 * a range, both ends included (unknown numbers drop out only while a range is set). Facets AND each other
 * AND the subject and date filters. Their columns are fetched when a facet is first used (data.js
 * loadFacet); until then the list of values and their counts come from collection.json alone. Pure: no DOM.
 */
import { normalizeText } from './search.js';

const NAME = /^[A-Za-z0-9_-]{1,40}$/; // a facet's name is its key in the URL hash (`f.<name>=`)
const NICE_STEPS = [1, 2, 2.5, 5, 10];

/**
 * The valid facets: {name, label, kind: 'values', values, counts, valueIdBytes, files: {counts, ids}} or
 * {name, label, kind: 'number', file, min, max}; a number facet no item has a number for (min and max null)
 * is left out, malformed ones too, with a warning.
 * @returns {{facets: object[], warnings: string[]}}
 */
export function parseFacets(collection) {
  const facets = [], warnings = [];
  for (const f of Array.isArray(collection.facets) ? collection.facets : []) {
    const named = f && typeof f.name === 'string' && NAME.test(f.name) && !facets.some((g) => g.name === f.name);
    const base = named ? { name: f.name, label: String(f.label || f.name) } : null;
    const noNumbers = f?.kind === 'number' && f.min === null && f.max === null; // no item has one: no filter
    if (noNumbers) continue;
    if (base && f.kind === 'values' && Array.isArray(f.values) && typeof f.files?.counts === 'string'
      && typeof f.files?.ids === 'string') {
      const values = f.values.map(String);
      const counts = values.map((_, k) => Number(f.counts?.[k]) || 0);
      facets.push({ ...base, kind: 'values', values, counts, valueIdBytes: f.valueIdBytes === 2 ? 2 : 1,
        files: { counts: f.files.counts, ids: f.files.ids } });
    } else if (base && f.kind === 'number' && typeof f.file === 'string'
      && Number.isFinite(f.min) && Number.isFinite(f.max) && f.min <= f.max) {
      facets.push({ ...base, kind: 'number', file: f.file, min: f.min, max: f.max });
    } else {
      warnings.push(`collection.json: facet ${JSON.stringify(f?.name)} is incomplete and left out`);
    }
  }
  return { facets, warnings };
}

/**
 * The column of a `values` facet from its files (Uint8Arrays as fetched): item i's values are
 * ids[start[i] .. start[i + 1]), and value v's items are items[valueStart[v] .. valueStart[v + 1]) (built
 * once, so that a selection visits only the selected values' items). Ids beyond the value list are dropped.
 */
export function valuesColumn(facet, countBytes, idBytes, count) {
  const ids = facet.valueIdBytes === 2
    ? new Uint16Array(idBytes.buffer.slice(idBytes.byteOffset, idBytes.byteOffset + (idBytes.byteLength & ~1)))
    : idBytes;
  const start = new Uint32Array(count + 1);
  for (let i = 0; i < count; i++) start[i + 1] = start[i] + (countBytes[i] ?? 0);
  const values = facet.values.length;
  const valueStart = new Uint32Array(values + 1);
  const total = Math.min(start[count], ids.length);
  for (let k = 0; k < total; k++) if (ids[k] < values) valueStart[ids[k] + 1]++;
  for (let v = 0; v < values; v++) valueStart[v + 1] += valueStart[v];
  const next = valueStart.slice(0, values);
  const items = new Uint32Array(valueStart[values]);
  for (let i = 0; i < count; i++) {
    for (let k = start[i]; k < Math.min(start[i + 1], total); k++) if (ids[k] < values) items[next[ids[k]]++] = i;
  }
  return { kind: 'values', start, ids, valueStart, items };
}

/** The column of a `number` facet: a Float32Array of `count` numbers, NaN where unknown or missing. */
export function numberColumn(bytes, count) {
  const n = Math.min(count, Math.floor(bytes.byteLength / 4));
  const values = new Float32Array(count).fill(NaN);
  values.set(new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + 4 * n)));
  return { kind: 'number', values };
}

/** Is this facet selection doing anything? (a non-empty Set of values, or a [lo, hi] range) */
export function isFacetActive(selection) {
  return selection instanceof Set ? selection.size > 0 : Array.isArray(selection);
}

/**
 * Match flags (Uint8Array per item, 1 = match) and their number for the facet selections (name -> Set of
 * value indices, or [lo, hi]); `columns`: name -> column (valuesColumn/numberColumn). null when no facet
 * selects anything, so the page need not intersect with everything.
 */
export function facetMatches(columns, selections, count) {
  const active = [...selections].filter(([name, sel]) => isFacetActive(sel) && columns.has(name));
  if (!active.length) return null;
  const hits = new Uint8Array(count);
  active.forEach(([name, sel], k) => {
    const column = columns.get(name);
    const need = k; // an item must have matched every facet before this one
    if (column.kind === 'values') {
      const seen = new Uint8Array(count);
      for (const v of sel) {
        if (!(v >= 0 && v + 1 < column.valueStart.length)) continue;
        for (let j = column.valueStart[v]; j < column.valueStart[v + 1]; j++) seen[column.items[j]] = 1;
      }
      for (let i = 0; i < count; i++) if (seen[i] && hits[i] === need) hits[i]++;
    } else {
      // The column holds 32-bit floats: compare with the ends as 32-bit floats, so 0.3 typed keeps 0.3 stored.
      const [lo, hi] = sel.map(Math.fround);
      const { values } = column;
      for (let i = 0; i < count; i++) {
        const x = values[i];
        if (x >= lo && x <= hi && hits[i] === need) hits[i]++; // NaN fails both tests
      }
    }
  });
  const matches = new Uint8Array(count);
  let n = 0;
  for (let i = 0; i < count; i++) if (hits[i] === active.length) { matches[i] = 1; n++; }
  return { matches, n };
}

/**
 * The value indices of a `values` facet whose name holds every word of `query` (case- and
 * accent-insensitive, as the search), in the facet's order (most frequent first); all when blank.
 */
export function findValues(facet, query) {
  const words = normalizeText(query).split(' ').filter(Boolean);
  const out = [];
  facet.values.forEach((name, v) => {
    const text = normalizeText(name);
    if (words.every((w) => text.includes(w))) out.push(v);
  });
  return out;
}

/** `x` without the float noise that multiples of a step pick up (0.30000000000000004 -> 0.3). */
const tidy = (x) => Number(x.toPrecision(12));

/** The bin of `x` for bins `width` wide aligned to 0 (0.3 / 0.1 is bin 3, not 2.9999999999999996's 2). */
const slot = (x, width) => Math.floor(tidy(x / width));

/** The smallest step of 1, 2, 2.5 or 5 times a power of ten that cuts [min, max] into at most maxBins bins. */
export function niceStep(min, max, maxBins = 24) {
  const span = max - min;
  if (!(span > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(span / maxBins));
  for (const step of NICE_STEPS) {
    const width = tidy(step * power);
    if (slot(max, width) - slot(min, width) + 1 <= maxBins) return width;
  }
  return tidy(10 * power);
}

/**
 * Histogram bins [{x0, x1, count, selected}] of a number column over [min, max] (x1 exclusive, the last bin
 * ends above max); `include` (flags per item, optional) counts the included items in `selected`.
 */
export function numberBins(values, min, max, { maxBins = 24, include = null } = {}) {
  const width = niceStep(min, max, maxBins);
  const first = slot(min, width);
  const n = Math.max(1, slot(max, width) - first + 1);
  const count = new Float64Array(n), selected = new Float64Array(n);
  const low = Math.fround(min), high = Math.fround(max); // as the column's 32-bit floats hold them
  for (let i = 0; i < values.length; i++) {
    const x = values[i];
    if (!(x >= low && x <= high)) continue; // NaN, or outside what collection.json says
    const k = Math.min(n - 1, slot(x, width) - first);
    count[k]++;
    if (include === null || include[i]) selected[k]++;
  }
  return Array.from({ length: n }, (_, k) => ({
    x0: tidy((first + k) * width), x1: tidy((first + k + 1) * width), count: count[k], selected: selected[k],
  }));
}

/** An inclusive [lo, hi] from typed or linked ends (null: missing, taken from [min, max]); null when neither. */
export function numberRange(lo, hi, min, max) {
  if (lo === null && hi === null) return null;
  let a = lo ?? Math.min(min, hi), b = hi ?? Math.max(max, lo);
  if (a > b) [a, b] = [b, a];
  return [a, b];
}
