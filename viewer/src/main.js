/**
 * Entry point of the mosaic page: loads the collection, then wires the viewer, the filters,
 * the search, the details panel and the URL hash together. The modules never talk to each
 * other directly; everything goes through the handlers here.
 */
import { displayDate, fetchJson, loadCollection } from './data.js';
import { intersectMatches } from './filter.js';
import { decodeHash, encodeHash, resolveHash } from './hash.js';
import { describeCell } from './keyboard.js';
import { parseNeighbours, similarItems } from './neighbours.js';
import { selectionCsv } from './csv.js';
import { createViewer } from './ui/viewer.js';
import { createPanel } from './ui/panel.js';
import { createFilters } from './ui/filters.js';
import { createSearch } from './ui/search.js';
import { createTooltip } from './ui/tooltip.js';
import { renderHeader, showError } from './ui/header.js';

const byId = (id) => document.getElementById(id);
const VIEW_HASH_DELAY = 300; // ms of calm after a pan/zoom before the hash follows

async function start() {
  let index;
  try {
    index = await loadCollection(document.baseURI);
  } catch (err) {
    showError(`Could not load the collection: ${err.message}`);
    return;
  }
  performance.mark('viewer-data-loaded');
  for (const w of index.warnings) console.warn(`[viewer] ${w}`);
  renderHeader(index.collection);
  byId('status').hidden = true;

  const nf = new Intl.NumberFormat('en');
  const tooltip = createTooltip(byId('tooltip'));
  const live = byId('live');
  const announce = (text) => { live.textContent = text; };

  // Filter and search results; `result` is what the mosaic, count, list and export show.
  let filterState = { matches: null, n: index.count, active: false };
  let searchState = null;
  let result = { flags: null, n: index.count, active: false };
  let search = null; // created after the filters, whose first report comes before it exists

  // URL hash state (see the functions further down)
  let hashReady = false; // becomes true once the mosaic has opened with the linked view
  let applying = false;
  let lastHash = null;
  let viewTimer = 0;

  const viewer = createViewer(byId('viewer'), index, {
    onHover(item, pointer) {
      if (item < 0 || !pointer || pointer.pointerType === 'touch') return tooltip.hide();
      const hidden = result.flags && !result.flags[item] ? ' · filtered out' : '';
      tooltip.show(index.title[item] || 'Untitled', `${displayDate(index, item) || 'Date unknown'}${hidden}`,
        pointer.clientX, pointer.clientY);
    },
    onSelect(item) {
      if (item < 0) closePanel();
      else openPanel(item);
    },
    onFocusCell(col, row) {
      announce(describeCell(index, col, row));
    },
    onActivate(item) {
      if (item >= 0) openPanel(item);
    },
    onViewChange() {
      scheduleHash(true);
    },
    covered() {
      return byId('panel').hidden ? null : byId('panel').getBoundingClientRect();
    },
    onOpen() {
      // Views asked for by the link have been applied by now: from here on the hash follows.
      hashReady = true;
      writeHash();
      // Build the search index while nothing else happens, so the first search is as quick as the rest.
      const idle = window.requestIdleCallback || ((fn) => setTimeout(fn, 200));
      idle(() => search.prepare());
    },
  });
  byId('viewer').addEventListener('viewer-error', (e) => showError(`Could not open the mosaic: ${e.detail}`));

  const panel = createPanel(byId('panel'), index, {
    onClose: () => closePanel(true),
    onSubject: (s) => filters.toggleSubject(s),
    isSubjectSelected: (s) => filters.isSubjectSelected(s),
    onJump(item) {
      jumpTo(item);
      panel.focus();
    },
  });

  function openPanel(item) {
    panel.open(item);
    viewer.setSelected(item);
    loadSimilar(item);
    writeHash();
  }
  function closePanel(focusMosaic = false) {
    const hadFocus = byId('panel').contains(document.activeElement);
    panel.close();
    viewer.setSelected(-1);
    if (focusMosaic || hadFocus) viewer.focus();
    writeHash();
  }
  /** Pan/zoom to an item, put the keyboard focus cell on it and open its panel. */
  function jumpTo(item, { open = true, immediately = false } = {}) {
    if (open) openPanel(item); // first, so the move can allow for the panel covering the mosaic
    viewer.goToItem(item, immediately);
    viewer.focusItem(item);
  }

  // "More like this": data/neighbours.json, fetched the first time a panel opens; every neighbour
  // the file lists for the item is shown (how many is the workflow's neighbours.count).
  let neighbours = null;
  function loadSimilar(item) {
    const path = index.collection.neighbours;
    if (typeof path !== 'string' || !path) return;
    neighbours ??= fetchJson(path, document.baseURI)
      .then((json) => parseNeighbours(json, index))
      .catch((err) => {
        console.warn(`[viewer] more like this is unavailable: ${err.message}`);
        return null;
      });
    neighbours.then((lists) => {
      if (lists) panel.showSimilar(item, similarItems(lists, item));
    });
  }

  const filters = createFilters({
    treemap: byId('treemap'),
    treemapCaption: byId('treemap-caption'),
    otherSubjects: byId('other-subjects'),
    histogram: byId('histogram'),
    dateSummary: byId('date-summary'),
    mode: byId('subject-mode'),
    subjectsHint: byId('subjects-hint'),
    yearFrom: byId('year-from'),
    yearTo: byId('year-to'),
    resetSubjects: byId('reset-subjects'),
    resetDates: byId('reset-dates'),
  }, index, {
    onChange(state) {
      filterState = state;
      recompute(state.started);
    },
  });

  search = createSearch({
    input: byId('search'),
    count: byId('search-count'),
    position: byId('search-position'),
    list: byId('search-results'),
    more: byId('search-more'),
    prev: byId('search-prev'),
    next: byId('search-next'),
  }, index, {
    onChange(state, started) {
      searchState = state;
      recompute(started);
    },
    onStep(item) {
      jumpTo(item);
      announce(describeCell(index, index.col[item], index.row[item]));
    },
    onPick(item) {
      jumpTo(item);
      announce(describeCell(index, index.col[item], index.row[item]));
    },
  });

  /** Combine filters AND search, then update mosaic, counts and list; measured for the benchmark. */
  let batching = false; // several changes, one recomputation (reset all, links)
  function recompute(started = performance.now()) {
    if (!search || batching) return; // before the search exists (its first report comes next), or batched
    const f = filterState.active ? filterState : null;
    let flags = null, n = index.count;
    if (f && searchState) ({ matches: flags, n } = intersectMatches(f.matches, searchState.matches, index.count));
    else if (f || searchState) ({ matches: flags, n } = f || searchState);
    const active = flags !== null;
    result = { flags, n, active };
    viewer.setMask(flags, active);
    viewer.setHighlight(searchState ? flags : null);
    byId('match-count').textContent = active ? `${nf.format(n)} of ${nf.format(index.count)} items` : `${nf.format(index.count)} items`;
    byId('reset-all').disabled = !active;
    search.showResults(searchState ? flags : null, n);
    panel.refresh();
    performance.measure('filter-update', { start: started, end: performance.now() });
    writeHash();
  }
  recompute();

  byId('reset-all').addEventListener('click', () => {
    const started = performance.now();
    batching = true;
    try {
      filters.reset();
      search.clear();
    } finally {
      batching = false;
    }
    recompute(started);
  });

  byId('export-csv').addEventListener('click', () => {
    const text = selectionCsv(index, result.flags);
    const url = URL.createObjectURL(new Blob([text], { type: 'text/csv;charset=utf-8' }));
    const a = document.createElement('a');
    a.href = url;
    a.download = 'selection.csv';
    a.hidden = true;
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 30000);
  });

  // Escape closes the panel from anywhere (but first clears a search box that has text).
  document.addEventListener('keydown', (e) => {
    if (e.key !== 'Escape' || panel.item < 0) return;
    if (e.target === byId('search') && byId('search').value) return;
    closePanel(true);
  });

  // --- the URL hash: written with replaceState, read at start and on hashchange ---

  function hashState() {
    const f = filters.filter;
    const view = viewer.isOpen && !(viewer.isHome() && panel.item < 0) ? viewer.getView() : null;
    return {
      view,
      subjects: [...f.subjects].map((s) => index.subjectNames[s]),
      mode: f.mode,
      from: f.years ? f.years[0] : null,
      to: f.years ? f.years[1] - 1 : null,
      q: search.query,
      item: panel.item >= 0 ? index.ids[panel.item] : null,
    };
  }
  function writeHash() {
    if (!hashReady || applying) return;
    clearTimeout(viewTimer);
    const text = encodeHash(hashState());
    lastHash = text;
    if (location.hash.replace(/^#/, '') === text) return;
    history.replaceState(history.state, '', text ? `#${text}` : `${location.pathname}${location.search}`);
  }
  function scheduleHash(viewOnly) {
    if (!viewOnly) return writeHash();
    clearTimeout(viewTimer);
    viewTimer = setTimeout(writeHash, VIEW_HASH_DELAY);
  }

  function applyHash(hash, initial) {
    const state = resolveHash(decodeHash(hash), index, filters.extent);
    const started = performance.now();
    applying = true;
    try {
      batching = true;
      try {
        filters.setState(state);
        search.setQuery(state.q);
      } finally {
        batching = false;
      }
      recompute(started);
      if (state.item >= 0) openPanel(state.item);
      else if (panel.item >= 0) closePanel();
      if (state.view) viewer.setView(state.view, true);
      else if (state.item >= 0) jumpTo(state.item, { open: false, immediately: initial });
    } finally {
      applying = false;
    }
    writeHash();
  }
  window.addEventListener('hashchange', () => {
    if (location.hash.replace(/^#/, '') === lastHash) return;
    applyHash(location.hash, false);
  });
  if (location.hash.length > 1) applyHash(location.hash, true);

  setupSidebarToggle();
}

/** The filter sidebar can be hidden to give the mosaic the whole width; hidden at start on phones. */
function setupSidebarToggle() {
  const button = byId('toggle-filters');
  const sidebar = byId('filters');
  const set = (open) => {
    sidebar.hidden = !open;
    button.setAttribute('aria-expanded', String(open));
  };
  set(!window.matchMedia('(max-width: 720px)').matches);
  button.addEventListener('click', () => set(sidebar.hidden));
}

start();
