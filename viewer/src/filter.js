/**
 * Filter logic: items match when they have ANY (mode 'any', the default) or ALL (mode 'all')
 * of the selected subjects (if any are selected) AND a year in the selected range (if one is
 * set). Items with an unknown year only drop out while a date filter is active. Pure, so the
 * rules are tested without a browser.
 */
import { NO_YEAR } from './data.js';

/** An empty filter state: no subjects selected, mode 'any', no year range. */
export function emptyFilter() {
  return { subjects: new Set(), mode: 'any', years: null };
}

export function isFilterActive(filter) {
  return filter.subjects.size > 0 || filter.years !== null;
}

/**
 * A predicate i -> does item i match `filter`? `years` is a half-open range [from, to) of whole years.
 * Built once per filter so that the loop over a million items only reads typed arrays.
 */
export function matcher(index, filter) {
  const { year, subjectStart, subjectIds } = index;
  const years = filter.years;
  const from = years ? years[0] : 0, to = years ? years[1] : 0;
  const need = filter.subjects.size;
  const wanted = new Uint8Array(Math.max(index.subjectNames.length, 1));
  for (const s of filter.subjects) if (s >= 0 && s < wanted.length) wanted[s] = 1;
  const all = filter.mode === 'all';
  return (i) => {
    if (years) {
      const y = year[i];
      if (y === NO_YEAR || y < from || y >= to) return false;
    }
    if (need === 0) return true;
    let hits = 0;
    for (let k = subjectStart[i]; k < subjectStart[i + 1]; k++) {
      if (wanted[subjectIds[k]]) {
        if (!all) return true;
        hits++;
      }
    }
    return all && hits >= need; // an item lists a subject once
  };
}

/** Does item i match? (matcher() for one item) */
export function itemMatches(index, i, filter) {
  return matcher(index, filter)(i);
}

/** Match flags for all items (Uint8Array, 1 = match) and how many matched. */
export function computeMatches(index, filter) {
  const matches = new Uint8Array(index.count);
  const match = matcher(index, filter);
  let n = 0;
  for (let i = 0; i < index.count; i++) {
    if (match(i)) { matches[i] = 1; n++; }
  }
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
  const words = new Uint32Array(px.buffer, px.byteOffset, cols * rows);
  const colour = new Uint32Array(new Uint8Array(veil).buffer)[0]; // the machine's byte order, as px sees it
  const { cellItem } = index;
  for (let cell = 0; cell < words.length; cell++) {
    const i = cellItem[cell];
    words[cell] = i < 0 || !matches[i] ? colour : 0;
  }
  return px;
}
