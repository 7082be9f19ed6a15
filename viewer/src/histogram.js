/**
 * Year histogram binning. Bin width is a "nice" number of years chosen from the data's
 * range so the chart has at most `maxBins` bars (decades for a century or two of photos).
 */

import { NO_YEAR } from './data.js';

const NICE_WIDTHS = [1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000, 10000];

/** Smallest nice bin width giving at most maxBins bins over [min, max]. */
export function binWidth(min, max, maxBins = 24) {
  for (const w of NICE_WIDTHS) {
    const bins = Math.floor(max / w) - Math.floor(min / w) + 1;
    if (bins <= maxBins) return w;
  }
  return Math.ceil((max - min + 1) / maxBins);
}

/** Range of the known years (null, undefined and NO_YEAR are unknown), or null when no item has one. */
export function yearExtent(years) {
  let min = Infinity, max = -Infinity;
  for (let i = 0; i < years.length; i++) { // indexed: for-of over a typed array is several times slower
    const y = years[i];
    if (y === null || y === undefined || y === NO_YEAR) continue;
    if (y < min) min = y;
    if (y > max) max = y;
  }
  return min === Infinity ? null : [min, max];
}

const UNBINNED = 255;
const binnings = new WeakMap(); // years column -> Map(maxBins -> binning): the viewer's columns never change

/**
 * The bins' width, first year and number for `years`, and, for a typed column (the viewer's), each item's
 * bin (UNBINNED: no known year) computed once: a filter change then counts a million items without a
 * division each (16 ms became a few).
 */
function binning(years, maxBins) {
  const typed = ArrayBuffer.isView(years);
  const known = typed ? binnings.get(years)?.get(maxBins) : null;
  if (known) return known;
  const extent = yearExtent(years);
  let result = { extent: null };
  if (extent) {
    const width = binWidth(extent[0], extent[1], maxBins);
    const start = Math.floor(extent[0] / width) * width;
    const n = Math.floor(extent[1] / width) - Math.floor(extent[0] / width) + 1;
    let binOf = null;
    if (typed && n < UNBINNED) {
      binOf = new Uint8Array(years.length);
      for (let i = 0; i < years.length; i++) {
        const y = years[i];
        binOf[i] = y === NO_YEAR ? UNBINNED : ((y - start) / width) | 0;
      }
    }
    result = { extent, width, start, n, binOf };
  }
  if (typed) {
    if (!binnings.has(years)) binnings.set(years, new Map());
    binnings.get(years).set(maxBins, result);
  }
  return result;
}

/**
 * Bins [{x0, x1, count, selected}] aligned to multiples of the width; x1 is exclusive.
 * `include` (optional flags per item) fills `selected` with the count of included items,
 * which the chart draws over the total.
 */
export function yearBins(years, { maxBins = 24, include = null } = {}) {
  const { extent, width, start, n, binOf } = binning(years, maxBins);
  if (!extent) return { width: 0, bins: [] };
  const count = new Float64Array(n), selected = new Float64Array(n); // typed counters: a million items stay quick
  if (binOf) {
    for (let i = 0; i < binOf.length; i++) {
      const k = binOf[i];
      if (k === UNBINNED) continue;
      count[k]++;
      selected[k] += include === null || include[i] ? 1 : 0;
    }
  } else {
    for (let i = 0; i < years.length; i++) {
      const y = years[i];
      if (y === null || y === undefined || y === NO_YEAR) continue;
      const k = ((y - start) / width) | 0; // y >= start: truncation is floor
      count[k]++;
      selected[k] += include === null || include[i] ? 1 : 0;
    }
  }
  const bins = Array.from({ length: n }, (_, k) => ({
    x0: start + k * width, x1: start + (k + 1) * width, count: count[k], selected: selected[k],
  }));
  return { width, bins };
}

/** Snap a brushed [a, b] year interval to bin edges; null when it covers no whole bin. */
export function snapToBins(a, b, bins) {
  if (!bins.length) return null;
  const lo = Math.min(a, b), hi = Math.max(a, b);
  const width = bins[0].x1 - bins[0].x0;
  const first = bins[0].x0, last = bins[bins.length - 1].x1;
  const from = Math.max(first, Math.round((lo - first) / width) * width + first);
  const to = Math.min(last, Math.round((hi - first) / width) * width + first);
  return to > from ? [from, to] : null;
}

/** Label for a half-open year range [from, to): "1890–1909", or one year. */
export function rangeLabel([from, to]) {
  return to - from === 1 ? String(from) : `${from}–${to - 1}`;
}
