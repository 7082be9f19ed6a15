/**
 * Search box, result count, result list and previous/next stepping. Matches titles and
 * subject names (search.js); reports each new query through onChange(state | null, started),
 * state = {matches, n, query}. The page intersects that with the filters and hands the final
 * result back through showResults(), which is what the count, list and stepping use.
 * Titles go in as textContent only.
 */
import { buildSearchText, searchMatches, tokenize } from '../search.js';
import { matchingPositions } from '../filter.js';

export const LIST_LIMIT = 200;

/**
 * @param {{input:HTMLInputElement, count:HTMLElement, position:HTMLElement, list:HTMLOListElement,
 *   more:HTMLElement, prev:HTMLButtonElement, next:HTMLButtonElement}} els
 * @param {{onChange(state:object|null, started:number):void, onStep(item:number):void, onPick(item:number):void}} handlers
 *   onStep: previous/next moved to a result; onPick: a result in the list was chosen
 */
export function createSearch(els, index, { onChange, onStep, onPick }) {
  const nf = new Intl.NumberFormat('en');
  let searchText = null; // built on the first search, not at start-up
  let query = null; // the text the current state was computed for (null: none yet)
  let results = []; // item positions of the current result, in item order
  let cursor = -1; // index into results of the last stepped-to / picked result

  function run() {
    if (els.input.value === query) return;
    const started = performance.now();
    query = els.input.value;
    let state = null;
    if (tokenize(query).length) {
      searchText ??= buildSearchText(index);
      state = { ...searchMatches(searchText, query), query };
    }
    onChange(state, started);
  }
  els.input.addEventListener('input', run);
  els.input.addEventListener('search', run); // the clear button / Escape in type=search
  els.input.addEventListener('keydown', (e) => {
    if (e.key === 'Enter') {
      e.preventDefault();
      step(e.shiftKey ? -1 : 1);
    }
  });
  els.prev.addEventListener('click', () => step(-1));
  els.next.addEventListener('click', () => step(1));
  els.list.addEventListener('click', (e) => {
    const b = e.target.closest('button[data-item]');
    if (!b) return;
    const item = Number(b.dataset.item);
    cursor = results.indexOf(item);
    markCurrent();
    onPick(item);
  });

  function step(dir) {
    if (!results.length) return;
    cursor = cursor < 0 ? (dir > 0 ? 0 : results.length - 1) : (cursor + dir + results.length) % results.length;
    markCurrent();
    onStep(results[cursor]);
  }

  function markCurrent() {
    els.position.textContent = cursor >= 0 && results.length ? `${nf.format(cursor + 1)} of ${nf.format(results.length)}` : '';
    const current = cursor >= 0 ? String(results[cursor]) : null;
    for (const b of els.list.querySelectorAll('button[data-item]')) {
      if (b.dataset.item === current) b.setAttribute('aria-current', 'true');
      else b.removeAttribute('aria-current');
    }
  }

  return {
    get query() { return query ?? ''; },
    /** Build the search index ahead of the first search (call when the page is idle). */
    prepare() {
      searchText ??= buildSearchText(index);
    },
    /** Set the search text (from a link) and run it. */
    setQuery(text) {
      els.input.value = text;
      run();
    },
    clear() {
      this.setQuery('');
    },
    /** The final result (search AND filters) as flags, or null when no search is active. */
    showResults(flags, n) {
      cursor = -1;
      const active = !!flags;
      results = active ? matchingPositions(flags) : [];
      els.count.textContent = active ? `${nf.format(n)} found` : '';
      els.count.hidden = !active;
      els.prev.disabled = els.next.disabled = results.length === 0;
      const shown = results.slice(0, LIST_LIMIT);
      const frag = document.createDocumentFragment();
      for (const i of shown) {
        const li = document.createElement('li');
        const b = document.createElement('button');
        b.type = 'button';
        b.dataset.item = String(i);
        b.textContent = index.title[i] || 'Untitled';
        li.append(b);
        frag.append(li);
      }
      els.list.replaceChildren(frag);
      els.list.hidden = shown.length === 0;
      els.more.hidden = results.length <= LIST_LIMIT;
      els.more.textContent = results.length > LIST_LIMIT
        ? `Showing the first ${nf.format(LIST_LIMIT)} of ${nf.format(results.length)} results; refine the search or use Next to see the others.`
        : '';
      markCurrent();
    },
  };
}
