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

/** Does item i match? `years` is a half-open range [from, to) of whole years. */
export function itemMatches(index, i, filter) {
  if (filter.years) {
    const y = index.year[i];
    if (y === NO_YEAR || y < filter.years[0] || y >= filter.years[1]) return false;
  }
  if (filter.subjects.size > 0) {
    const { subjectStart, subjectIds } = index;
    const start = subjectStart[i], end = subjectStart[i + 1];
    if (filter.mode === 'all') {
      for (const s of filter.subjects) {
        let found = false;
        for (let k = start; k < end; k++) if (subjectIds[k] === s) { found = true; break; }
        if (!found) return false;
      }
    } else {
      let any = false;
      for (let k = start; k < end; k++) if (filter.subjects.has(subjectIds[k])) { any = true; break; }
      if (!any) return false;
    }
  }
  return true;
}

/** Match flags for all items (Uint8Array, 1 = match) and how many matched. */
export function computeMatches(index, filter) {
  const matches = new Uint8Array(index.count);
  let n = 0;
  for (let i = 0; i < index.count; i++) {
    if (itemMatches(index, i, filter)) { matches[i] = 1; n++; }
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
 * viewer stretches over the mosaic, so 13,000 cells cost one small putImageData.
 */
export function maskPixels(index, matches, veil = [12, 14, 20, 215]) {
  const { cols, rows } = index.grid;
  const px = new Uint8ClampedArray(cols * rows * 4);
  for (let cell = 0; cell < cols * rows; cell++) {
    const i = index.cellItem[cell];
    if (i >= 0 && matches[i]) continue;
    px.set(veil, cell * 4);
  }
  return px;
}
