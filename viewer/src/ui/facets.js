/**
 * The facets' filters (collection.json `facets`; facets.js has the rules): a `values` facet is a list of
 * checkboxes with each value's count (any of the checked values), with a search box above it when it has
 * more than SEARCH_FROM values; a `number` facet is a histogram with a brush snapping to its bars, and two
 * inputs for the ends (both included), like the date filter. A facet's column is fetched when it is first
 * used (a value checked, a range set) or, for a number facet, when its histogram first comes into view.
 * Owns the facets' selections and reports each change through onChange({matches, n, active, started}) once
 * the columns it needs are in. Text goes in as textContent / d3 .text() only.
 */
import { select } from 'd3-selection';
import { scaleLinear } from 'd3-scale';
import { axisBottom } from 'd3-axis';
import { brushX } from 'd3-brush';
import { facetMatches, findValues, isFacetActive, numberBins, numberRange } from '../facets.js';
import { snapToBins } from '../histogram.js';

export const SEARCH_FROM = 12; // values above which a values facet gets a search box
export const LISTED = 60; // values listed at once (the search finds the others)

let uid = 0;

/**
 * @param {HTMLElement} container  where the facets' blocks go (after the date filter)
 * @param {{facets: object[], count: number}} index
 * @param {{onChange(state:object):void, loadColumn(facet:object):Promise<object>}} handlers
 *   loadColumn: the facet's column (data.js loadFacet)
 */
export function createFacets(container, index, { onChange, loadColumn }) {
  const nf = new Intl.NumberFormat('en');
  const selections = new Map(); // facet name -> Set of value indices | [low, high]
  const columns = new Map(); // facet name -> column, once fetched
  let asked = 0; // number of the latest change: a slower earlier one gives way

  /** The facet's column, fetched once (then kept in `columns` for facetMatches). */
  async function column(facet) {
    if (!columns.has(facet.name)) columns.set(facet.name, await loadColumn(facet));
    return columns.get(facet.name);
  }

  const blocks = index.facets.map((facet) => (facet.kind === 'values' ? valuesBlock(facet) : numberBlock(facet)));

  /** Recompute the facets' matches (fetching the columns they need) and report them. */
  async function update(started = performance.now()) {
    const mine = ++asked;
    for (const block of blocks) block.refresh();
    // Report at once when the columns are in (as the other filters do); else once they are fetched.
    const missing = index.facets.filter((f) => isFacetActive(selections.get(f.name)) && !columns.has(f.name));
    if (missing.length) {
      try {
        await Promise.all(missing.map(column));
      } catch (err) {
        console.warn(`[viewer] a facet is unavailable: ${err.message}`);
      }
      if (mine !== asked) return;
    }
    const result = facetMatches(columns, selections, index.count);
    onChange({ matches: result?.matches ?? null, n: result?.n ?? index.count, active: !!result, started });
  }

  // --- a values facet: checkboxes, a search box when there are many ---
  function valuesBlock(facet) {
    const id = `facet-${++uid}`;
    const block = facetBlock(facet, id);
    const fieldset = document.createElement('fieldset');
    fieldset.className = 'facet-values';
    const legend = document.createElement('legend');
    legend.className = 'visually-hidden';
    legend.textContent = `${facet.label}: show items with any of the checked values`;
    const list = document.createElement('ul');
    list.className = 'facet-list';
    const more = document.createElement('p');
    more.className = 'hint';
    let query = '';
    if (facet.values.length > SEARCH_FROM) {
      const input = document.createElement('input');
      input.type = 'search';
      input.className = 'text-input facet-search';
      input.autocomplete = 'off';
      input.setAttribute('aria-label', `Find a ${facet.label.toLowerCase()}`);
      input.placeholder = `Find a ${facet.label.toLowerCase()}…`;
      input.addEventListener('input', () => {
        query = input.value;
        renderList();
      });
      block.body.append(input);
    }
    fieldset.append(legend, list);
    block.body.append(fieldset, more);
    list.addEventListener('change', (e) => {
      const v = Number(e.target.value);
      const chosen = new Set(selections.get(facet.name) ?? []);
      if (e.target.checked) chosen.add(v);
      else chosen.delete(v);
      if (chosen.size) selections.set(facet.name, chosen);
      else selections.delete(facet.name);
      update();
    });
    block.reset.addEventListener('click', () => {
      selections.delete(facet.name);
      update();
    });

    /** The checked values first (so they can be unchecked whatever the search), then the values found. */
    function renderList() {
      const chosen = selections.get(facet.name) ?? new Set();
      const found = findValues(facet, query).filter((v) => !chosen.has(v));
      const shown = [...[...chosen].sort((a, b) => a - b), ...found.slice(0, LISTED)];
      const frag = document.createDocumentFragment();
      for (const v of shown) {
        const li = document.createElement('li');
        const label = document.createElement('label');
        const box = document.createElement('input');
        box.type = 'checkbox';
        box.value = String(v);
        box.checked = chosen.has(v);
        box.dataset.value = facet.values[v];
        const name = document.createElement('span');
        name.className = 'facet-name';
        name.textContent = facet.values[v];
        const count = document.createElement('span');
        count.className = 'facet-count';
        count.textContent = nf.format(facet.counts[v]);
        label.append(box, name, count);
        li.append(label);
        frag.append(li);
      }
      list.replaceChildren(frag);
      const hidden = found.length - Math.min(found.length, LISTED);
      more.hidden = hidden === 0 && found.length > 0;
      more.textContent = found.length === 0 && !chosen.size ? 'No value matches.'
        : hidden ? `${nf.format(hidden)} more: type to find them.` : '';
    }
    renderList();
    return {
      refresh() {
        block.reset.disabled = !isFacetActive(selections.get(facet.name));
        // The checked values move to the top: keep the keyboard focus on the checkbox just used.
        const focusedValue = list.contains(document.activeElement) ? document.activeElement.value : null;
        renderList();
        if (focusedValue !== null) list.querySelector(`input[value="${focusedValue}"]`)?.focus();
      },
    };
  }

  // --- a number facet: histogram with a brush, and the two ends typed ---
  function numberBlock(facet) {
    const id = `facet-${++uid}`;
    const block = facetBlock(facet, id);
    const summary = document.createElement('p');
    summary.className = 'hint';
    const chart = document.createElement('div');
    chart.className = 'histogram facet-histogram';
    const inputs = document.createElement('div');
    inputs.className = 'year-inputs';
    const end = (which) => {
      const label = document.createElement('label');
      label.htmlFor = `${id}-${which}`;
      label.textContent = which === 'from' ? 'From' : 'To';
      const input = document.createElement('input');
      input.type = 'number';
      input.id = `${id}-${which}`;
      input.className = 'text-input year';
      input.step = 'any';
      input.placeholder = String(which === 'from' ? facet.min : facet.max);
      inputs.append(label, input);
      return input;
    };
    const from = end('from'), to = end('to');
    block.body.append(summary, chart, inputs);
    const read = (input) => (input.value.trim() !== '' && Number.isFinite(Number(input.value)) ? Number(input.value) : null);
    const typed = () => setRange(numberRange(read(from), read(to), facet.min, facet.max));
    from.addEventListener('change', typed);
    to.addEventListener('change', typed);
    block.reset.addEventListener('click', () => setRange(null));

    let drawn = null; // {x, brush, brushG, bins} once the column is in and the chart laid out
    function setRange(range, fromBrush = false) {
      if (range) selections.set(facet.name, range);
      else selections.delete(facet.name);
      if (!fromBrush) moveBrush();
      update();
    }
    function moveBrush() {
      if (!drawn) return;
      const range = selections.get(facet.name);
      const [lo, hi] = drawn.x.domain();
      const r = range ? [Math.max(lo, range[0]), Math.min(hi, range[1])] : null;
      drawn.brushG.call(drawn.brush.move, r && r[1] > r[0] ? r.map(drawn.x) : null);
    }

    const margin = { top: 6, right: 10, bottom: 20, left: 10 };
    async function draw() {
      const width = chart.clientWidth, height = chart.clientHeight;
      if (width <= 0) return;
      let values;
      try {
        ({ values } = await column(facet));
      } catch (err) {
        summary.textContent = 'This filter is unavailable.';
        console.warn(`[viewer] facet ${facet.name}: ${err.message}`);
        return;
      }
      const bins = numberBins(values, facet.min, facet.max);
      const x = scaleLinear().domain([bins[0].x0, bins[bins.length - 1].x1]).range([margin.left, width - margin.right]);
      const y = scaleLinear().domain([0, Math.max(1, ...bins.map((b) => b.count))]).range([height - margin.bottom, margin.top]);
      const root = select(chart);
      root.selectAll('*').remove();
      const svg = root.append('svg').attr('width', width).attr('height', height).attr('role', 'img')
        .attr('aria-label', `Number of items per ${facet.label.toLowerCase()} span; drag to choose a range`);
      svg.append('g').attr('class', 'bars').selectAll('rect').data(bins).join('rect').attr('class', 'selected')
        .attr('x', (b) => x(b.x0)).attr('width', (b) => Math.max(1, x(b.x1) - x(b.x0) - 1))
        .attr('y', (b) => y(b.count)).attr('height', (b) => y(0) - y(b.count))
        .append('title').text((b) => `${nf.format(b.x0)} to under ${nf.format(b.x1)}: ${nf.format(b.count)} item(s)`);
      svg.append('g').attr('class', 'axis').attr('transform', `translate(0,${height - margin.bottom})`)
        .call(axisBottom(x).ticks(Math.max(2, Math.floor(width / 60))).tickSizeOuter(0));
      const brush = brushX()
        .extent([[margin.left, margin.top], [width - margin.right, height - margin.bottom]])
        .on('end', (event) => {
          if (!event.sourceEvent) return; // moveBrush's own move
          const snapped = event.selection ? snapToBins(...event.selection.map(x.invert), bins) : null;
          brushG.call(brush.move, snapped ? snapped.map(x) : null);
          setRange(snapped, true);
        });
      const brushG = svg.append('g').attr('class', 'brush').call(brush);
      brushG.selectAll('rect, .handle').attr('aria-hidden', 'true'); // the inputs are its keyboard twin
      drawn = { x, brush, brushG };
      moveBrush();
    }
    // The column is fetched when the chart first comes into view (or when a range is set before that).
    const observer = new IntersectionObserver((entries) => {
      if (!entries.some((e) => e.isIntersecting)) return;
      observer.disconnect();
      draw();
    });
    observer.observe(chart);
    return {
      refresh() {
        const range = selections.get(facet.name);
        block.reset.disabled = !range;
        from.value = range ? String(range[0]) : '';
        to.value = range ? String(range[1]) : '';
        summary.textContent = range ? `${nf.format(range[0])} to ${nf.format(range[1])} (items without one are hidden).`
          : 'Drag across the chart or type the ends below.';
        moveBrush();
      },
    };
  }

  /** A facet's block: heading, Reset, and a body for its controls. */
  function facetBlock(facet, id) {
    const section = document.createElement('section');
    section.className = 'filter-block facet';
    section.dataset.facet = facet.name;
    section.setAttribute('aria-labelledby', `${id}-heading`);
    const head = document.createElement('div');
    head.className = 'filter-head';
    const h2 = document.createElement('h2');
    h2.id = `${id}-heading`;
    h2.textContent = facet.label;
    const reset = document.createElement('button');
    reset.type = 'button';
    reset.className = 'button small';
    reset.textContent = 'Reset';
    reset.disabled = true;
    reset.setAttribute('aria-label', `Reset ${facet.label.toLowerCase()} filter`);
    head.append(h2, reset);
    const body = document.createElement('div');
    section.append(head, body);
    container.append(section);
    return { reset, body };
  }

  return {
    /** The facets' selections for the hash: [{name, values: [names]} | {name, range: [low, high]}]. */
    get state() {
      return index.facets.flatMap((facet) => {
        const sel = selections.get(facet.name);
        if (!isFacetActive(sel)) return [];
        return facet.kind === 'values'
          ? [{ name: facet.name, values: [...sel].sort((a, b) => a - b).map((v) => facet.values[v]) }]
          : [{ name: facet.name, range: sel }];
      });
    },
    /** Replace every facet's selection (a link's: name -> Set | [low, high]); resolves once reported. */
    setState(state, started) {
      selections.clear();
      for (const [name, sel] of state) selections.set(name, sel instanceof Set ? new Set(sel) : sel);
      return update(started);
    },
    /** Clear every facet's selection; resolves once reported. */
    reset(started) {
      selections.clear();
      return update(started);
    },
  };
}
