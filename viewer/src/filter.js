/**
 * Filter logic: items match when they have ANY (mode 'any', the default) or ALL (mode 'all')
 * of the selected subjects (if any are selected) AND a year in the selected range (if one is
 * set). Items with an unknown year only drop out while a date filter is active. Pure, so the
 * rules are tested without a browser.
 */
import { NO_YEAR } from './data.js';
import { yearBins } from './histogram.js';

/** An empty filter state: no subjects selected, mode 'any', no year range. */
export function emptyFilter() {
  return { subjects: new Set(), mode: 'any', years: null };
}

export function isFilterActive(filter) {
  return filter.subjects.size > 0 || filter.years !== null;
}

/**
 * The items of each subject, in item order: items[start[s] .. start[s + 1]) have subject s. Built once per
 * index (two passes over the subject column), so that a subject filter visits only the selected subjects'
 * items instead of every item's subjects: at a million items that matching took about 30 ms.
 */
function subjectItems(index) {
  if (index.subjectItemsCache?.ids === index.subjectIds) return index.subjectItemsCache;
  const { subjectStart, subjectIds, count } = index;
  const subjects = Math.max(index.subjectNames.length, 1);
  const start = new Uint32Array(subjects + 1);
  for (let k = 0; k < subjectIds.length; k++) start[subjectIds[k] + 1]++;
  for (let s = 0; s < subjects; s++) start[s + 1] += start[s];
  const next = start.slice(0, subjects);
  const items = new Uint32Array(subjectIds.length);
  for (let i = 0; i < count; i++) {
    for (let k = subjectStart[i]; k < subjectStart[i + 1]; k++) items[next[subjectIds[k]]++] = i;
  }
  index.subjectItemsCache = { ids: subjectIds, start, items };
  return index.subjectItemsCache;
}

/**
 * All items' match flags at once (computeMatches): with subjects, from the selected subjects' items
 * (subjectItems); then the year range over the flagged ones. The same rules as matchRange.
 */
function matchAll(index, filter, out) {
  const { start, items } = subjectItems(index);
  const selected = [...filter.subjects].filter((s) => s >= 0 && s < start.length - 1);
  const need = filter.subjects.size;
  const count = index.count;
  if (filter.mode === 'all') {
    if (selected.length < need) return 0; // a subject no item has: nothing has them all
    const hits = need < 256 ? new Uint8Array(count) : new Uint16Array(count);
    for (const s of selected) for (let k = start[s]; k < start[s + 1]; k++) hits[items[k]]++;
    for (let i = 0; i < count; i++) out[i] = hits[i] === need ? 1 : 0;
  } else {
    for (const s of selected) for (let k = start[s]; k < start[s + 1]; k++) out[items[k]] = 1;
  }
  const years = filter.years;
  const first = years ? years[0] : 0, last = years ? years[1] : 0;
  const { year } = index;
  let n = 0;
  for (let i = 0; i < count; i++) {
    if (!out[i]) continue;
    if (years) {
      const y = year[i];
      if (y === NO_YEAR || y < first || y >= last) { out[i] = 0; continue; }
    }
    n++;
  }
  return n;
}

/**
 * Sets out[i - from] to 1 for the items in [from, to) that match `filter` (`years`: a half-open range
 * [from, to) of whole years); returns how many. One loop over typed arrays, no call per item: a million
 * items in a few milliseconds.
 */
function matchRange(index, filter, from, to, out) {
  const { year, subjectStart, subjectIds } = index;
  const years = filter.years;
  const first = years ? years[0] : 0, last = years ? years[1] : 0;
  const need = filter.subjects.size;
  const wanted = new Uint8Array(Math.max(index.subjectNames.length, 1));
  for (const s of filter.subjects) if (s >= 0 && s < wanted.length) wanted[s] = 1;
  const all = filter.mode === 'all';
  let n = 0;
  for (let i = from; i < to; i++) {
    if (years) {
      const y = year[i];
      if (y === NO_YEAR || y < first || y >= last) continue;
    }
    if (need > 0) {
      let hits = 0;
      for (let k = subjectStart[i]; k < subjectStart[i + 1]; k++) hits += wanted[subjectIds[k]];
      if (all ? hits < need : hits === 0) continue; // an item lists a subject once
    }
    out[i - from] = 1;
    n++;
  }
  return n;
}

/** Does item i match? */
export function itemMatches(index, i, filter) {
  return matchRange(index, filter, i, i + 1, new Uint8Array(1)) === 1;
}

/** Match flags for all items (Uint8Array, 1 = match) and how many matched. */
export function computeMatches(index, filter) {
  const matches = new Uint8Array(index.count);
  const n = filter.subjects.size > 0 ? matchAll(index, filter, matches) : matchRange(index, filter, 0, index.count, matches);
  return { matches, n };
}

/** Only the subject part of a filter, so the histogram can show what the subjects leave. */
export function subjectsOnly(filter) {
  return { subjects: filter.subjects, mode: filter.mode, years: null };
}

/** Flags that are 1 where both `a` and `b` are (either may be null = everything); with the count. */
export function intersectMatches(a, b, count) {
  const out = new Uint8Array(count);
  let n = 0;
  for (let i = 0; i < count; i++) {
    if ((!a || a[i]) && (!b || b[i])) { out[i] = 1; n++; }
  }
  return { matches: out, n };
}

/** Positions of the set flags, in item order (at most `limit`). */
export function matchingPositions(flags, limit = Infinity) {
  const out = [];
  for (let i = 0; i < flags.length && out.length < limit; i++) if (flags[i]) out.push(i);
  return out;
}

/**
 * RGBA pixels (cols x rows) for the dimming mask: transparent over matching cells,
 * a dark veil over cells that do not match or are empty. Drawn into a tiny canvas that the
 * viewer stretches over the mosaic, so a million cells cost one putImageData; written a pixel
 * (32 bits) at a time, into `out` when given (the viewer reuses one buffer), else a new array.
 */
export function maskPixels(index, matches, veil = [12, 14, 20, 215], out = null) {
  const { cols, rows } = index.grid;
  const px = out ?? new Uint8ClampedArray(cols * rows * 4);
  // Int32, not Uint32: the colour then stays a small integer to the engine, and the loop is quick from its
  // first run (a Uint32 colour above 2^31 made it 20 times slower until optimised); byte order: the machine's.
  const words = new Int32Array(px.buffer, px.byteOffset, cols * rows);
  const colour = new Int32Array(new Uint8Array(veil).buffer)[0];
  const { cellItem } = index;
  for (let cell = 0; cell < words.length; cell++) {
    const i = cellItem[cell];
    words[cell] = i < 0 || !matches[i] ? colour : 0;
  }
  return px;
}

/**
 * Runs every loop a filter change runs (matching with subjects and years in both modes, the histogram's
 * counts, the mask, the intersection with a search) once over the real columns, so that the engine has
 * compiled them before the visitor's first click: at a million items the first change otherwise took
 * 200-350 ms while later ones took 30-60. `years`: the known years' [min, max], or null.
 */
export function warmUp(index, years) {
  const scratch = new Uint8ClampedArray(index.grid.cols * index.grid.rows * 4);
  for (const mode of ['any', 'all']) {
    const filter = { subjects: new Set([0]), mode, years: years ? [years[0], years[1] + 1] : null };
    const { matches } = computeMatches(index, filter);
    yearBins(index.year, { include: computeMatches(index, subjectsOnly(filter)).matches });
    maskPixels(index, intersectMatches(matches, matches, index.count).matches, undefined, scratch);
    matchingPositions(matches, 100);
  }
}

/**
 * The items that pass every active part ({matches, n} each: the filters, the facets, the selection, the
 * search): {matches: null, n: count} when none is active, the part itself when one is, else their
 * intersection.
 */
export function combineMatches(parts, count) {
  if (!parts.length) return { matches: null, n: count };
  return parts.slice(1).reduce((acc, part) => intersectMatches(acc.matches, part.matches, count), parts[0]);
}
