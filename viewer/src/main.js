/**
 * Entry point of the mosaic page: opens the mosaic from collection.json alone, then (once its first tile is
 * on screen) loads the item columns and wires the filters, the facets, the search, the selection, the
 * hotspots, the arrangements, the details panel and the URL hash together. The modules never talk to each
 * other directly; everything goes through the handlers here. Titles, links and neighbours come from
 * data.js's chunks when an item is hovered, opened or listed.
 */
import { findArrangement } from './arrangement.js';
import { itemsBox } from './cells.js';
import {
  chooseArrangement, displayDate, findId, loadArrangement, loadCollection, loadColumns, loadFacet, loadHotspots,
  loadNeighbours, loadRecord, loadRecords, record,
} from './data.js';
import { combineMatches, matchingPositions, warmUp } from './filter.js';
import { decodeHash, encodeHash, resolveHash } from './hash.js';
import { describeCell, itemAt } from './keyboard.js';
import { selectionCsv } from './csv.js';
import { ZIP_MAX_ITEMS, selectionJson, thumbnailNames } from './exports.js';
import { cellsInPolygon, itemsInCells, toggleItem } from './selection.js';
import { zipStore } from './zip.js';
import { createViewer } from './ui/viewer.js';
import { createPanel } from './ui/panel.js';
import { createFilters } from './ui/filters.js';
import { createFacets } from './ui/facets.js';
import { createSearch } from './ui/search.js';
import { createHotspots } from './ui/hotspots.js';
import { createArrangementSwitch } from './ui/arrangements.js';
import { createSelectionControls } from './ui/selection.js';
import { createTooltip } from './ui/tooltip.js';
import { renderHeader, showError } from './ui/header.js';

const byId = (id) => document.getElementById(id);
const VIEW_HASH_DELAY = 300; // ms of calm after a pan/zoom before the hash follows
const THUMBNAILS_AT_ONCE = 6; // thumbnail fetches in flight while a ZIP is made
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

  // Filter, facet, selection and search results; `result` is what the mosaic, count, list and export show.
  let filterState = { matches: null, n: index.count, active: false };
  let facetState = { matches: null, n: index.count, active: false };
  let selection = null; // {flags, n} of the items selected on the mosaic, or null
  let searchState = null;
  let result = { flags: null, n: index.count, active: false };
  // Created once the item columns are in (wire()); until then the mosaic can be panned and zoomed only.
  let panel = null, filters = null, facets = null, search = null, arrangements = null, selecting = null;
  let panelRecord = null; // the open item's record
  let opening = 0; // number of the latest panel opening: a slower earlier one gives way
  let switching = 0; // number of the latest arrangement switch: a slower earlier one gives way

  // URL hash state (see the functions further down)
  let opened = false; // the mosaic has opened
  let hashReady = false; // true once the mosaic has opened and the link has been applied: the hash follows
  let applying = false;
  let lastHash = null;
  let viewTimer = 0;
  let hovered = -1;
  let focusSeq = 0;

  // A link's arrangement opens at once with its own pyramid (its cells come with the other columns).
  const linked = location.hash.length > 1 ? decodeHash(location.hash) : null;
  const linkedArrangement = linked?.arrangement ? findArrangement(index, linked.arrangement) : null;
  if (linkedArrangement) chooseArrangement(index, linkedArrangement);

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
    onLasso(polygon, started) {
      if (!panel) return;
      const { flags, n } = itemsInCells(index, cellsInPolygon(polygon, index.grid));
      setSelection(n ? { flags, n } : null, started);
    },
    onToggleItem(item) {
      if (!panel) return;
      setSelection(toggleItem(selection, item, index.count));
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
  if (linked?.view) viewer.setView(linked.view, true);

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

  /**
   * Show `arrangement` on the mosaic: its cells (fetched the first time), then its pyramid at its home view,
   * or around the open item. Filters, search, selection and the open item stay as they are.
   */
  async function switchArrangement(arrangement, started = performance.now()) {
    if (arrangement === index.arrangement) return;
    const mine = ++switching;
    arrangements.busy(true);
    try {
      await loadArrangement(index, arrangement);
    } catch (err) {
      if (mine === switching) {
        arrangements.set(index.arrangement.name);
        showError(`Could not arrange the mosaic by ${arrangement.label.toLowerCase()}: ${err.message}`);
      }
      return;
    } finally {
      if (mine === switching) arrangements.busy(false);
    }
    if (mine !== switching) return;
    arrangements.set(arrangement.name);
    viewer.showArrangement(started);
    if (panel.item >= 0) viewer.goToItem(panel.item, true);
    const groups = arrangement.groups.length ? `, in ${nf.format(arrangement.groups.length)} groups` : '';
    announce(`Mosaic arranged by ${arrangement.label.toLowerCase()}${groups}`);
    writeHash();
  }

  /** Replace the selection (null: none) and show it; `started`: the input that made it, for the measure. */
  function setSelection(next, started = performance.now()) {
    selection = next;
    viewer.setSelection(selection ? selection.flags : null);
    selecting.showCount(selection ? selection.n : 0);
    recompute(started);
    announce(selection ? `${nf.format(selection.n)} selected, ${byId('match-count').textContent} shown` : 'Selection cleared');
  }

  function setSelecting(on) {
    selecting.setMode(on);
    viewer.setSelecting(on ? { shape: selecting.shape } : null);
    announce(on ? `Selection mode: drag on the mosaic to draw a ${selecting.shape}` : 'Selection mode off');
  }

  /** Combine filters, facets, selection AND search, then update mosaic, counts and list; measured for the benchmark. */
  let batching = false; // several changes, one recomputation (reset all, links)
  function recompute(started = performance.now()) {
    if (!search || batching) return; // before the search exists (its first report comes next), or batched
    const parts = [filterState.active && filterState, facetState.active && facetState,
      selection && { matches: selection.flags, n: selection.n }, searchState].filter(Boolean);
    const { matches: flags, n } = combineMatches(parts, index.count);
    const active = flags !== null;
    result = { flags, n, active };
    viewer.setMask(flags, active);
    viewer.setHighlight(searchState ? flags : null);
    byId('match-count').textContent = active ? `${nf.format(n)} of ${nf.format(index.count)} items` : `${nf.format(index.count)} items`;
    byId('reset-all').disabled = !active;
    const zip = byId('export-zip');
    zip.disabled = n > ZIP_MAX_ITEMS;
    zip.title = n > ZIP_MAX_ITEMS
      ? `A ZIP holds the thumbnails of at most ${nf.format(ZIP_MAX_ITEMS)} items: filter or select fewer`
      : 'Download the thumbnails of the items shown and their CSV, as a ZIP';
    search.showResults(searchState ? flags : null, n);
    panel.refresh();
    performance.measure('filter-update', { start: started, end: performance.now() });
    writeHash();
  }

  /** The positions of the items shown (every item when nothing is filtered, selected or searched). */
  const shownItems = () => (result.flags ? matchingPositions(result.flags) : Array.from({ length: index.count }, (_, i) => i));

  /** Run `task` with `button` busy, then download the Blob it resolves to as `name`. */
  async function download(button, name, task) {
    button.disabled = true;
    button.setAttribute('aria-busy', 'true');
    try {
      const blob = await task();
      const url = URL.createObjectURL(blob);
      const a = document.createElement('a');
      a.href = url;
      a.download = name;
      a.hidden = true;
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 30000);
    } catch (err) {
      showError(`Could not export the selection: ${err.message}`);
    } finally {
      button.disabled = button.id === 'export-zip' && result.n > ZIP_MAX_ITEMS;
      button.removeAttribute('aria-busy');
    }
  }

  /** The ZIP of the items shown: their thumbnails (fetched a few at a time) and selection.csv. */
  async function selectionZip() {
    const items = shownItems();
    const records = await loadRecords(index, items);
    const names = thumbnailNames(records);
    const entries = [{ name: 'selection.csv', bytes: new TextEncoder().encode(selectionCsv(records)) }];
    const thumbs = new Array(records.length).fill(null);
    let next = 0, done = 0;
    const worker = async () => {
      while (next < records.length) {
        const k = next++;
        if (!names[k]) continue;
        const res = await fetch(new URL(records[k].thumb, document.baseURI));
        if (!res.ok) throw new Error(`could not fetch ${records[k].thumb} (HTTP ${res.status})`);
        thumbs[k] = new Uint8Array(await res.arrayBuffer());
        done++;
      }
    };
    await Promise.all(Array.from({ length: THUMBNAILS_AT_ONCE }, worker));
    thumbs.forEach((bytes, k) => { if (bytes) entries.push({ name: names[k], bytes }); });
    announce(`ZIP of ${nf.format(done)} thumbnails and their CSV is ready`);
    return new Blob([zipStore(entries)], { type: 'application/zip' });
  }

  /** The panel, filters, facets, search, selection, hotspots, buttons and hash, once the item columns are in. */
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

    facets = createFacets(byId('facets'), index, {
      onChange(state) {
        facetState = state;
        recompute(state.started);
      },
      loadColumn: (facet) => loadFacet(index, facet),
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

    arrangements = createArrangementSwitch(byId('arrangement'), index, {
      onChange: (arrangement) => switchArrangement(arrangement),
    });

    selecting = createSelectionControls({
      mode: byId('select-mode'), shapes: byId('select-shape'), count: byId('selection-count'),
      clear: byId('clear-selection'),
    }, {
      onMode: setSelecting,
      onShape: (shape) => viewer.setSelecting(selecting.on ? { shape } : null),
      onClear: () => setSelection(null),
    });

    let previewed = -1; // the hotspot outlined now
    createHotspots({ section: byId('hotspots'), list: byId('hotspot-list'), more: byId('hotspots-more') }, index, {
      onPreview(h) {
        previewed = h;
        if (h < 0) return viewer.showRegion(null);
        loadHotspots(index).then((members) => {
          if (previewed === h) viewer.showRegion(members.of(h));
        }, warn('the hotspots are unavailable'));
      },
      onFly(h) {
        const hotspot = index.hotspots[h];
        loadHotspots(index).then((members) => {
          const box = itemsBox(index, members.of(h));
          if (!box) return;
          viewer.showRegion(members.of(h));
          viewer.flyToBox(box);
          announce(`${hotspot.label}: ${nf.format(members.of(h).length)} items outlined on the mosaic`);
        }, warn('the hotspots are unavailable'));
      },
      loadRecords: (items) => loadRecords(index, items),
    });

    recompute();
    // The filter loops are compiled while the page is idle, before the visitor's first click (warmUp).
    const whenIdle = window.requestIdleCallback ?? ((task) => setTimeout(task, 200));
    whenIdle(() => warmUp(index, filters.extent), { timeout: 3000 });

    byId('reset-all').addEventListener('click', async () => {
      const started = performance.now();
      batching = true;
      try {
        filters.reset();
        search.clear();
        await facets.reset(started);
        selection = null;
        viewer.setSelection(null);
        selecting.showCount(0);
      } finally {
        batching = false;
      }
      recompute(started);
    });

    const records = async () => {
      const items = shownItems();
      return { items, records: await loadRecords(index, items) };
    };
    byId('export-csv').addEventListener('click', (e) => download(e.currentTarget, 'selection.csv', async () => (
      new Blob([selectionCsv((await records()).records)], { type: 'text/csv;charset=utf-8' }))));
    byId('export-json').addEventListener('click', (e) => download(e.currentTarget, 'selection.json', async () => {
      const { items, records: list } = await records();
      return new Blob([selectionJson(index, items, list)], { type: 'application/json' });
    }));
    byId('export-zip').addEventListener('click', (e) => download(e.currentTarget, 'selection.zip', selectionZip));

    // Escape: drops a lasso being drawn; else closes the panel (from anywhere, but first clears a search box
    // that has text); else clears the selection; else leaves selection mode.
    document.addEventListener('keydown', (e) => {
      if (e.key === 'Escape') {
        if (viewer.cancelLasso()) return;
        if (e.target.matches?.('input[type="search"]') && e.target.value) return;
        if (panel.item >= 0) closePanel(true);
        else if (selection) setSelection(null);
        else if (selecting.on) setSelecting(false);
        return;
      }
      // L toggles selection mode, unless typed into a field.
      const typing = e.target.closest?.('input, select, textarea, [contenteditable]')
        && !e.target.matches('input[type="radio"], input[type="checkbox"]');
      if ((e.key === 'l' || e.key === 'L') && !e.ctrlKey && !e.metaKey && !e.altKey && !typing) {
        e.preventDefault();
        setSelecting(!selecting.on);
      }
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
      arrangement: index.arrangement.name,
      subjects: [...f.subjects].map((s) => index.subjectNames[s]),
      mode: f.mode,
      from: f.years ? f.years[0] : null,
      to: f.years ? f.years[1] - 1 : null,
      facets: facets.state,
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
        await facets.setState(state.facets, started);
      } finally {
        batching = false;
      }
      recompute(started);
      await switchArrangement(state.arrangement);
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
