/**
 * Subject treemap (ANY/ALL mode), date histogram with brush and year inputs. Owns the filter
 * state and reports each change through onChange({filter, matches, n, active, started}), where
 * `started` is the performance.now() at which the recomputation began. Text goes in with
 * d3's .text() only.
 */
import { select } from 'd3-selection';
import { scaleLinear } from 'd3-scale';
import { axisBottom } from 'd3-axis';
import { brushX } from 'd3-brush';
import { computeMatches, emptyFilter, isFilterActive, subjectsOnly } from '../filter.js';
import { rangeLabel, snapToBins, yearBins, yearExtent } from '../histogram.js';
import { yearRange } from '../hash.js';
import { layoutTreemap, TREEMAP_MIN_SHARE, treemapHeight, treemapSubjects } from '../treemap.js';

const PALETTE = ['#8ecae6', '#ffb703', '#90be6d', '#f4a261', '#cdb4db', '#e5989b', '#a8dadc', '#e9c46a',
  '#b5e48c', '#ffafcc', '#bde0fe', '#d4a373'];

/**
 * @param {{treemap:HTMLElement, treemapCaption:HTMLElement, otherSubjects:HTMLElement, histogram:HTMLElement,
 *   dateSummary:HTMLElement, mode:HTMLSelectElement, subjectsHint:HTMLElement, yearFrom:HTMLInputElement,
 *   yearTo:HTMLInputElement, resetSubjects:HTMLButtonElement, resetDates:HTMLButtonElement}} els
 */
export function createFilters(els, index, { onChange }) {
  const filter = emptyFilter();
  const top = treemapSubjects(index); // every subject the data offers
  const inTreemap = new Set(top.map((d) => d.subject));
  const { bins } = yearBins(index.year);
  const extent = yearExtent(index.year);
  const nf = new Intl.NumberFormat('en');
  let histogram = null; // {width, x, bars, brushG, brush} for the current size

  els.resetSubjects.addEventListener('click', () => { filter.subjects.clear(); update(); });
  els.resetDates.addEventListener('click', () => setYears(null));
  els.mode.addEventListener('change', () => {
    filter.mode = els.mode.value === 'all' ? 'all' : 'any';
    update();
  });
  if (extent) {
    els.yearFrom.placeholder = String(extent[0]);
    els.yearTo.placeholder = String(extent[1]);
  }
  // Typed years apply on `change` (Enter or leaving the field), not on every keystroke.
  const readYear = (input) => {
    const v = input.value.trim();
    const n = Number(v);
    return v !== '' && Number.isFinite(n) ? Math.trunc(n) : null;
  };
  const onYearInput = () => setYears(yearRange(readYear(els.yearFrom), readYear(els.yearTo), extent));
  els.yearFrom.addEventListener('change', onYearInput);
  els.yearTo.addEventListener('change', onYearInput);

  function toggleSubject(s) {
    if (filter.subjects.has(s)) filter.subjects.delete(s);
    else filter.subjects.add(s);
    update();
  }

  /** Set the year range (half-open [from, to) or null), moving the brush unless it made the change. */
  function setYears(range, fromBrush = false) {
    filter.years = range;
    if (!fromBrush) moveBrush();
    update();
  }

  /** Put the brush over filter.years (clamped to the chart), or remove it. */
  function moveBrush() {
    if (!histogram) return;
    const [lo, hi] = histogram.x.domain();
    const r = filter.years ? [Math.max(lo, filter.years[0]), Math.min(hi, filter.years[1])] : null;
    histogram.brushG.call(histogram.brush.move, r && r[1] > r[0] ? r.map(histogram.x) : null);
  }

  function showYearInputs() {
    els.yearFrom.value = filter.years ? String(filter.years[0]) : '';
    els.yearTo.value = filter.years ? String(filter.years[1] - 1) : '';
  }

  // --- treemap: one <button> per subject, absolutely positioned ---
  // Every named subject the data offers gets a tile (items.json's subjectNames: the metadata stage's
  // subjects_top, 64 by default; not "Other", see treemap.js). The box grows with their number (treemapHeight),
  // so that 64 tiles are not squeezed into the space 24 had.
  // Tiles too small for a readable name show only their colour; every tile keeps its name and count
  // as its accessible name and tooltip (title), stays a button in the tab order, and names itself in
  // the caption below the treemap while pointed at or focused (for sighted keyboard users too).
  els.treemap.style.height = `${treemapHeight(top.length)}px`;
  let bareTiles = 0;
  const itemsText = (n) => `${nf.format(n)} item${n === 1 ? '' : 's'}`;
  const caption = (d) => {
    els.treemapCaption.textContent = d ? `${d.name}: ${itemsText(d.count)}`
      : bareTiles ? `${nf.format(top.length)} subjects: point at a tile for its name` : '';
  };
  function renderTreemap() {
    const width = els.treemap.clientWidth;
    const height = els.treemap.clientHeight;
    const tiles = layoutTreemap(top, width, height, 2, TREEMAP_MIN_SHARE);
    const size = (d) => ({ w: d.x1 - d.x0, h: d.y1 - d.y0 });
    select(els.treemap).selectAll('button.tile')
      .data(tiles, (d) => d.subject)
      .join((enter) => enter.append('button')
        .attr('type', 'button')
        .attr('class', 'tile')
        .attr('data-subject', (d) => d.name)
        .on('click', (event, d) => toggleSubject(d.subject))
        .on('pointerenter focus', (event, d) => caption(d))
        .on('pointerleave blur', () => caption(null))
        .call((b) => b.append('span').attr('class', 'tile-name'))
        .call((b) => b.append('span').attr('class', 'tile-count')))
      .attr('title', (d) => `${d.name} (${nf.format(d.count)})`)
      .attr('aria-label', (d) => `${d.name}, ${itemsText(d.count)}`)
      .style('left', (d) => `${d.x0}px`)
      .style('top', (d) => `${d.y0}px`)
      .style('width', (d) => `${d.x1 - d.x0}px`)
      .style('height', (d) => `${d.y1 - d.y0}px`)
      .style('background-color', (d, k) => PALETTE[k % PALETTE.length])
      .classed('small', (d) => size(d).h < 34 || size(d).w < 44)
      .classed('bare', (d) => size(d).h < 14 || size(d).w < 40)
      .call((b) => b.select('.tile-name').text((d) => d.name))
      .call((b) => b.select('.tile-count').text((d) => nf.format(d.count)));
    els.treemap.classList.toggle('empty', tiles.length === 0);
    bareTiles = els.treemap.querySelectorAll('button.tile.bare').length;
    caption(null);
    updateTreemapSelection();
  }
  function updateTreemapSelection() {
    const any = filter.subjects.size > 0;
    select(els.treemap).selectAll('button.tile')
      .attr('aria-pressed', (d) => String(filter.subjects.has(d.subject)))
      .classed('dim', (d) => any && !filter.subjects.has(d.subject));
    // A selected subject without a tile appears as a chip: "Other" (chosen from a panel's chip or a link),
    // or a subject no item has (only a link can name one; possible in a hand-made items.json).
    const others = [...filter.subjects].filter((s) => !inTreemap.has(s));
    select(els.otherSubjects).selectAll('button.chip')
      .data(others, (s) => s)
      .join((enter) => enter.append('button').attr('type', 'button').attr('class', 'chip')
        .attr('aria-pressed', 'true')
        .on('click', (event, s) => toggleSubject(s))
        .call((b) => b.append('span').attr('class', 'chip-name'))
        .call((b) => b.append('span').attr('class', 'chip-x').attr('aria-hidden', 'true').text(' ×')))
      .attr('data-subject', (s) => index.subjectNames[s])
      .attr('title', 'Remove this subject from the filter')
      .call((b) => b.select('.chip-name').text((s) => index.subjectNames[s]));
  }

  // --- histogram of years with a brush snapping to bins ---
  const margin = { top: 6, right: 10, bottom: 20, left: 10 };
  function renderHistogram() {
    const width = els.histogram.clientWidth;
    const height = els.histogram.clientHeight;
    const root = select(els.histogram);
    root.selectAll('*').remove();
    histogram = null;
    if (!bins.length || width <= 0) {
      root.append('p').attr('class', 'hint').text(bins.length ? '' : 'No item has a known year.');
      return;
    }
    const x = scaleLinear().domain([bins[0].x0, bins[bins.length - 1].x1]).range([margin.left, width - margin.right]);
    const svg = root.append('svg')
      .attr('width', width).attr('height', height)
      .attr('role', 'img')
      .attr('aria-label', `Number of items per ${bins[0].x1 - bins[0].x0}-year span; drag to choose a range`);
    const bars = svg.append('g').attr('class', 'bars');
    svg.append('g').attr('class', 'axis')
      .attr('transform', `translate(0,${height - margin.bottom})`)
      .call(axisBottom(x).ticks(Math.max(2, Math.floor(width / 60))).tickFormat((d) => String(d)).tickSizeOuter(0));
    const brush = brushX()
      .extent([[margin.left, margin.top], [width - margin.right, height - margin.bottom]])
      .on('brush', (event) => {
        if (!event.sourceEvent || !event.selection) return;
        const [a, b] = event.selection.map(x.invert);
        const range = snapToBins(a, b, bins);
        if (String(range) !== String(filter.years)) setYears(range, true);
      })
      .on('end', (event) => {
        if (!event.sourceEvent) return; // our own brush.move below
        const range = event.selection ? snapToBins(...event.selection.map(x.invert), bins) : null;
        brushG.call(brush.move, range ? range.map(x) : null);
        setYears(range, true);
      });
    const brushG = svg.append('g').attr('class', 'brush').call(brush);
    // The brush's overlay is mouse-only; the year inputs below the chart are its keyboard twin.
    brushG.selectAll('rect, .handle').attr('aria-hidden', 'true');
    histogram = { width, height, x, bars, brush, brushG };
    moveBrush();
    updateHistogramBars();
  }
  // The bars depend on the subjects and the mode only: a date range alone does not count them again.
  let counted = { key: null, data: null };
  /** `matches`: those of the whole filter, reused when it has no date part (then they are the subjects'). */
  function updateHistogramBars(matches = null) {
    if (!histogram) return;
    const { x, bars, height } = histogram;
    const key = filter.subjects.size ? `${filter.mode}:${[...filter.subjects].sort((a, b) => a - b)}` : '';
    if (counted.key !== key) {
      // Dark bars: items the subject filter leaves; light bars behind them: all items.
      let include = null;
      if (filter.subjects.size) include = matches && !filter.years ? matches : computeMatches(index, subjectsOnly(filter)).matches;
      counted = { key, data: yearBins(index.year, { include }).bins };
    }
    const { data } = counted;
    const max = Math.max(1, ...data.map((d) => d.count));
    const y = scaleLinear().domain([0, max]).range([height - margin.bottom, margin.top]);
    const barWidth = (d) => Math.max(1, x(d.x1) - x(d.x0) - 1);
    bars.selectAll('rect.total').data(data).join('rect').attr('class', 'total')
      .attr('x', (d) => x(d.x0)).attr('width', barWidth)
      .attr('y', (d) => y(d.count)).attr('height', (d) => y(0) - y(d.count));
    bars.selectAll('rect.selected').data(data).join('rect').attr('class', 'selected')
      .attr('x', (d) => x(d.x0)).attr('width', barWidth)
      .attr('y', (d) => y(d.selected)).attr('height', (d) => y(0) - y(d.selected))
      .classed('outside', (d) => filter.years !== null && (d.x1 <= filter.years[0] || d.x0 >= filter.years[1]))
      .selectAll('title').data((d) => [d]).join('title')
      .text((d) => `${rangeLabel([d.x0, d.x1])}: ${nf.format(d.selected)} item(s)`);
  }

  function update() {
    const started = performance.now();
    const { matches, n } = computeMatches(index, filter);
    els.resetSubjects.disabled = filter.subjects.size === 0;
    els.resetDates.disabled = filter.years === null;
    els.mode.value = filter.mode;
    els.subjectsHint.textContent = filter.mode === 'all'
      ? 'Pick one or more subjects: items with all of them stay bright.'
      : 'Pick one or more subjects: items with any of them stay bright.';
    els.dateSummary.textContent = filter.years
      ? `Years ${rangeLabel(filter.years)} (items without a known year are hidden).`
      : bins.length ? 'Drag across the chart or type the years below.' : '';
    showYearInputs();
    updateTreemapSelection();
    updateHistogramBars(matches);
    onChange({ filter, matches, n, active: isFilterActive(filter), started });
  }

  // Lay out again whenever the sidebar changes size (first show, window resize, toggling).
  const sizes = new Map();
  const observer = new ResizeObserver((entries) => {
    for (const entry of entries) {
      const key = `${entry.target.clientWidth}x${entry.target.clientHeight}`;
      if (sizes.get(entry.target) === key) continue;
      sizes.set(entry.target, key);
      if (entry.target === els.treemap) renderTreemap();
      else renderHistogram();
    }
  });
  observer.observe(els.treemap);
  observer.observe(els.histogram);

  update();
  return {
    filter,
    extent,
    toggleSubject,
    isSubjectSelected: (s) => filter.subjects.has(s),
    /** Replace the whole filter (from a link) with one recomputation. */
    setState({ subjects = new Set(), mode = 'any', years = null }) {
      filter.subjects = new Set(subjects);
      filter.mode = mode === 'all' ? 'all' : 'any';
      filter.years = years;
      moveBrush();
      update();
    },
    /** Clear subjects and years (the mode stays as chosen). */
    reset() {
      filter.subjects.clear();
      setYears(null);
    },
  };
}
