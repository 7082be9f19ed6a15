import { test } from 'node:test';
import assert from 'node:assert/strict';
import { binWidth, rangeLabel, snapToBins, yearBins, yearExtent } from '../src/histogram.js';
import { NO_YEAR } from '../src/data.js';

test('bin width is a nice number giving at most maxBins bins', () => {
  assert.equal(binWidth(1850, 1990), 10); // decades for ~a century and a half
  assert.equal(binWidth(1900, 1910), 1);
  assert.equal(binWidth(1900, 1940), 2);
  assert.equal(binWidth(1500, 2000), 25);
  assert.equal(binWidth(1905, 1905), 1);
});

test('bins are aligned to multiples of the width and count known years only', () => {
  const years = [1897, 1909, null, 1950, 1951, 1960, 1899, 1900, 1910, null];
  const { width, bins } = yearBins(years, { maxBins: 10 });
  assert.equal(width, 10);
  assert.equal(bins[0].x0, 1890);
  assert.equal(bins.at(-1).x1, 1970);
  assert.deepEqual(bins.map((b) => b.count), [2, 2, 1, 0, 0, 0, 2, 1]);
  assert.equal(bins.reduce((s, b) => s + b.count, 0), 8);
  for (let k = 1; k < bins.length; k++) assert.equal(bins[k].x0, bins[k - 1].x1);
});

test('include flags fill the selected counts', () => {
  const years = [1897, 1909, 1950];
  const { bins } = yearBins(years, { maxBins: 10, include: [1, 0, 1] });
  assert.deepEqual(bins.map((b) => b.selected), [1, 0, 0, 0, 0, 0, 1]);
});

test('no known years gives no bins', () => {
  assert.deepEqual(yearBins([null, null]), { width: 0, bins: [] });
  assert.equal(yearExtent([]), null);
});

test('negative years (BCE) bin correctly', () => {
  const { bins } = yearBins([-5, 3], { maxBins: 24 });
  assert.equal(bins[0].x0 <= -5, true);
  assert.equal(bins.reduce((s, b) => s + b.count, 0), 2);
});

test('snapToBins rounds a brushed interval to bin edges', () => {
  const { bins } = yearBins([1850, 1990]);
  assert.deepEqual(snapToBins(1893, 1927, bins), [1890, 1930]);
  assert.deepEqual(snapToBins(1927, 1893, bins), [1890, 1930]);
  assert.deepEqual(snapToBins(1800, 2100, bins), [1850, 2000]);
  assert.equal(snapToBins(1901, 1903, bins), null);
});

test('rangeLabel shows inclusive years', () => {
  assert.equal(rangeLabel([1890, 1930]), '1890–1929');
  assert.equal(rangeLabel([1905, 1906]), '1905');
});

test('a typed column (bins computed once per item) counts as a plain list does, with and without a selection', () => {
  const plain = [1897, 1909, null, 1950, 1951, 1960, 1899, 1900, 1910, null, 1850, 2001];
  const typed = Int16Array.from(plain, (y) => (y === null ? NO_YEAR : y));
  const include = Uint8Array.from(plain, (_, i) => i % 3 === 0);
  for (const options of [{}, { include }, { maxBins: 5, include }, { maxBins: 400 }]) {
    assert.deepEqual(yearBins(typed, options), yearBins(plain, options));
    assert.deepEqual(yearBins(typed, options), yearBins(plain, options)); // again, from the kept bins
  }
});
