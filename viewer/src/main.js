/**
 * Entry point of the mosaic page: loads the collection, then wires the viewer, the filters
 * and the details panel together. The modules never talk to each other directly.
 */
import { displayDate, loadCollection } from './data.js';
import { createViewer } from './ui/viewer.js';
import { createPanel } from './ui/panel.js';
import { createFilters } from './ui/filters.js';
import { createTooltip } from './ui/tooltip.js';
import { renderHeader, showError } from './ui/header.js';

const byId = (id) => document.getElementById(id);

async function start() {
  let index;
  try {
    index = await loadCollection(document.baseURI);
  } catch (err) {
    showError(`Could not load the collection: ${err.message}`);
    return;
  }
  for (const w of index.warnings) console.warn(`[viewer] ${w}`);
  renderHeader(index.collection);
  byId('status').hidden = true;

  const tooltip = createTooltip(byId('tooltip'));
  let matches = null; // match flags of the current filter, null when no filter is active

  const viewer = createViewer(byId('viewer'), index, {
    onHover(item, pointer) {
      if (item < 0 || !pointer || pointer.pointerType === 'touch') return tooltip.hide();
      const hidden = matches && !matches[item] ? ' · filtered out' : '';
      tooltip.show(index.title[item] || 'Untitled', `${displayDate(index, item) || 'Date unknown'}${hidden}`,
        pointer.clientX, pointer.clientY);
    },
    onSelect(item) {
      if (item < 0) return closePanel();
      panel.open(item);
      viewer.setSelected(item);
    },
  });
  byId('viewer').addEventListener('viewer-error', (e) => showError(`Could not open the mosaic: ${e.detail}`));

  const panel = createPanel(byId('panel'), index, {
    onClose: closePanel,
    onSubject: (s) => filters.toggleSubject(s),
    isSubjectSelected: (s) => filters.isSubjectSelected(s),
  });
  function closePanel() {
    const hadFocus = byId('panel').contains(document.activeElement);
    panel.close();
    viewer.setSelected(-1);
    if (hadFocus) viewer.osd.canvas.focus({ preventScroll: true });
  }

  const filters = createFilters({
    treemap: byId('treemap'),
    otherSubjects: byId('other-subjects'),
    histogram: byId('histogram'),
    dateSummary: byId('date-summary'),
    count: byId('match-count'),
    resetSubjects: byId('reset-subjects'),
    resetDates: byId('reset-dates'),
    resetAll: byId('reset-all'),
  }, index, {
    onChange(state) {
      matches = state.active ? state.matches : null;
      viewer.setMask(state.matches, state.active);
      panel.refresh();
    },
  });

  document.addEventListener('keydown', (e) => {
    if (e.key === 'Escape' && panel.item >= 0) closePanel();
  });

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
