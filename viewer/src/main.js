/**
 * Entry point of the mosaic page: opens the mosaic from collection.json alone, then (once its first tile is
 * on screen) loads the item columns and wires the filters, the search, the details panel and the URL hash
 * together. The modules never talk to each other directly; everything goes through the handlers here.
 * Titles, links and neighbours come from data.js's chunks when an item is hovered, opened or listed.
 */
import { displayDate, findId, loadCollection, loadColumns, loadNeighbours, loadRecord, loadRecords, record } from './data.js';
import { intersectMatches, matchingPositions, warmUp } from './filter.js';
import { decodeHash, encodeHash, resolveHash } from './hash.js';
import { describeCell, itemAt } from './keyboard.js';
import { selectionCsv } from './csv.js';
import { createViewer } from './ui/viewer.js';
import { createPanel } from './ui/panel.js';
import { createFilters } from './ui/filters.js';
import { createSearch } from './ui/search.js';
import { createTooltip } from './ui/tooltip.js';
import { renderHeader, showError } from './ui/header.js';

const byId = (id) => document.getElementById(id);
const VIEW_HASH_DELAY = 300; // ms of calm after a pan/zoom before the hash follows
const warn = (what) => (err) => console.warn(`[viewer] ${what}: ${err.message}`);

async function start() {
  let index;
  try {
    index = await loadCollection(document.baseURI);
  } catch (err) {
    showError(`Could not load the collection: ${err.message}`);
    return;
  }
  renderHeader(index.collection);
  setupSidebarToggle();

  const nf = new Intl.NumberFormat('en');
  const tooltip = createTooltip(byId('tooltip'));
  const live = byId('live');
  const announce = (text) => { live.textContent = text; };

  // Filter and search results; `result` is what the mosaic, count, list and export show.
  let filterState = { matches: null, n: index.count, active: false };
  let searchState = null;
  let result = { flags: null, n: index.count, active: false };
  // Created once the item columns are in (wire()); until then the mosaic can be panned and zoomed only.
  let panel = null, filters = null, search = null;
  let panelRecord = null; // the open item's record
  let opening = 0; // number of the latest panel opening: a slower earlier one gives way

  // URL hash state (see the functions further down)
  let opened = false; // the mosaic has opened
  let hashReady = false; // true once the mosaic has opened and the link has been applied: the hash follows
  let applying = false;
  let lastHash = null;
  let viewTimer = 0;
  let hovered = -1;
  let focusSeq = 0;

  const viewer = createViewer(byId('viewer'), index, {
    onHover(item, pointer) {
      hovered = item;
      if (item < 0 || !pointer || pointer.pointerType === 'touch') return tooltip.hide();
      const show = (rec) => {
        if (hovered !== item || !rec) return;
        const hidden = result.flags && !result.flags[item] ? ' · filtered out' : '';
        tooltip.show(rec.title || 'Untitled', `${displayDate(rec) || 'Date unknown'}${hidden}`,
          pointer.clientX, pointer.clientY);
      };
      const rec = record(index, item);
      if (rec) show(rec);
      else loadRecord(index, item).then(show, warn('no title'));
    },
    onSelect(item) {
      if (!panel) return;
      if (item < 0) closePanel();
      else openPanel(item);
    },
    onFocusCell(col, row) {
      announceCell(col, row);
    },
    onActivate(item) {
      if (item >= 0 && panel) openPanel(item);
    },
    onViewChange() {
      scheduleHash(true);
    },
    covered() {
      return byId('panel').hidden ? null : byId('panel').getBoundingClientRect();
    },
    onOpen() {
      opened = true;
      followHash();
    },
    onReady() {
      byId('status').hidden = true; // the mosaic is there; the filters fill in when the columns arrive
      loadData();
    },
  });
  byId('viewer').addEventListener('viewer-error', (e) => showError(`Could not open the mosaic: ${e.detail}`));
  // A link's view needs no data: it applies as the mosaic opens (the rest of the link once the data is in).
  if (location.hash.length > 1) {
    const { view } = decodeHash(location.hash);
    if (view) viewer.setView(view, true);
  }

  /** What the live region says about cell (col, row), once its item's record is in. */
  function announceCell(col, row) {
    const mine = ++focusSeq;
    const item = itemAt(index, col, row);
    if (item < 0) return announce(describeCell(null, col, row));
    loadRecord(index, item).then((rec) => {
      if (mine === focusSeq) announce(describeCell(rec, col, row));
    }, warn('no title'));
  }

  let dataStarted = false;
  async function loadData() {
    if (dataStarted) return;
    dataStarted = true;
    try {
      await loadColumns(index);
    } catch (err) {
      showError(`Could not load the collection: ${err.message}`);
      return;
    }
    performance.mark('viewer-data-loaded');
    for (const w of index.warnings) console.warn(`[viewer] ${w}`);
    wire();
  }

  /** Once the mosaic is open and the link applied, the hash follows the page; search builds its index. */
  function followHash() {
    if (!opened || !search || hashReady || applying) return;
    hashReady = true;
    writeHash();
    // Build the search index while nothing else happens, so the first search is as quick as the rest.
    const idle = window.requestIdleCallback || ((fn) => setTimeout(fn, 200));
    idle(() => search.prepare());
  }

  async function openPanel(item) {
    const mine = ++opening;
    let rec;
    try {
      rec = await loadRecord(index, item);
    } catch (err) {
      warn('could not open the item')(err);
      return false;
    }
    if (mine !== opening || !rec) return false;
    panelRecord = rec;
    panel.open(item, rec);
    viewer.setSelected(item);
    loadSimilar(item);
    writeHash();
    return true;
  }
  function closePanel(focusMosaic = false) {
    opening++;
    const hadFocus = byId('panel').contains(document.activeElement);
    panel.close();
    panelRecord = null;
    viewer.setSelected(-1);
    if (focusMosaic || hadFocus) viewer.focus();
    writeHash();
  }
  /** Pan/zoom to an item, put the keyboard focus cell on it and open its panel. */
  async function jumpTo(item, { open = true, immediately = false } = {}) {
    if (open && !(await openPanel(item))) return; // first, so the move can allow for the panel covering the mosaic
    viewer.goToItem(item, immediately);
    viewer.focusItem(item);
  }

  // "More like this": the item's chunk of data/neighbours/, fetched when a panel opens; every neighbour the
  // site lists for the item is shown (how many is the workflow's neighbours.count).
  function loadSimilar(item) {
    if (!index.hasNeighbours) return;
    loadNeighbours(index, item)
      .then(async (items) => panel.showSimilar(item, items, await loadRecords(index, items)))
      .catch(warn('more like this is unavailable'));
  }

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

  /** The panel, filters, search, buttons and hash, once the item columns are in. */
  function wire() {
    panel = createPanel(byId('panel'), index, {
      onClose: () => closePanel(true),
      onSubject: (s) => filters.toggleSubject(s),
      isSubjectSelected: (s) => filters.isSubjectSelected(s),
      onJump(item) {
        jumpTo(item).then(() => panel.focus());
      },
    });

    filters = createFilters({
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
        announceCell(index.col[item], index.row[item]);
      },
      onPick(item) {
        jumpTo(item);
        announceCell(index.col[item], index.row[item]);
      },
    });
    recompute();
    // The filter loops are compiled while the page is idle, before the visitor's first click (warmUp).
    const whenIdle = window.requestIdleCallback ?? ((task) => setTimeout(task, 200));
    whenIdle(() => warmUp(index, filters.extent), { timeout: 3000 });

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

    const exportButton = byId('export-csv');
    exportButton.addEventListener('click', async () => {
      const items = result.flags ? matchingPositions(result.flags) : Array.from({ length: index.count }, (_, i) => i);
      exportButton.disabled = true;
      exportButton.setAttribute('aria-busy', 'true');
      try {
        const text = selectionCsv(await loadRecords(index, items));
        const url = URL.createObjectURL(new Blob([text], { type: 'text/csv;charset=utf-8' }));
        const a = document.createElement('a');
        a.href = url;
        a.download = 'selection.csv';
        a.hidden = true;
        document.body.append(a);
        a.click();
        a.remove();
        setTimeout(() => URL.revokeObjectURL(url), 30000);
      } catch (err) {
        showError(`Could not export the selection: ${err.message}`);
      } finally {
        exportButton.disabled = false;
        exportButton.removeAttribute('aria-busy');
      }
    });

    // Escape closes the panel from anywhere (but first clears a search box that has text).
    document.addEventListener('keydown', (e) => {
      if (e.key !== 'Escape' || panel.item < 0) return;
      if (e.target === byId('search') && byId('search').value) return;
      closePanel(true);
    });

    window.addEventListener('hashchange', () => {
      if (location.hash.replace(/^#/, '') === lastHash) return;
      applyHash(location.hash, false);
    });
    if (location.hash.length > 1) applyHash(location.hash, true);
    else followHash();
  }

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
      item: panel.item >= 0 && panelRecord ? panelRecord.id : null,
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

  async function applyHash(hash, initial) {
    const decoded = decodeHash(hash);
    applying = true;
    try {
      const item = decoded.item === null ? -1 : await findId(index, decoded.item).catch(() => -1);
      const state = resolveHash(decoded, index, filters.extent, item);
      const started = performance.now();
      batching = true;
      try {
        filters.setState(state);
        search.setQuery(state.q);
      } finally {
        batching = false;
      }
      recompute(started);
      if (state.item >= 0) await openPanel(state.item);
      else if (panel.item >= 0) closePanel();
      if (state.view) viewer.setView(state.view, true);
      else if (state.item >= 0) await jumpTo(state.item, { open: false, immediately: initial });
    } finally {
      applying = false;
    }
    if (hashReady) writeHash();
    else followHash();
  }
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
