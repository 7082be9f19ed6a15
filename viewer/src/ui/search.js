/**
 * Search box, result count, result list and previous/next stepping. Matches titles and
 * subject names (search.js); reports each new query through onChange(state | null, started),
 * state = {matches, n, query}. The page intersects that with the filters and hands the final
 * result back through showResults(), which is what the count, list and stepping use.
 * Titles go in as textContent only. The matching runs in a Web Worker (search-worker.js), so a query
 * over a million titles never freezes the page; a newer query makes an older answer void.
 */
import { tokenize } from '../search.js';
import { matchingPositions } from '../filter.js';

export const LIST_LIMIT = 200;

/**
 * The search worker, started on first use: prepare() loads the titles and builds its index;
 * search(query) resolves to {matches, n}; titles(items) to the items' titles. Failures reject.
 */
function searchWorker(index) {
  let worker = null;
  let seq = 0;
  const waiting = new Map(); // seq -> {resolve, reject}
  let failed = null;
  function start() {
    if (worker) return;
    const url = new URL('search-worker.js', import.meta.url);
    url.search = new URL(import.meta.url).search; // the page's cache-busting version
    worker = new Worker(url, { type: 'module' });
    worker.onmessage = ({ data }) => {
      if (data.type === 'ready') performance.mark('search-ready'); // titles in, index built
      if (data.type === 'error' && data.seq === null) {
        failed = new Error(data.message);
        for (const w of waiting.values()) w.reject(failed);
        waiting.clear();
        return;
      }
      const w = waiting.get(data.seq);
      if (!w) return;
      waiting.delete(data.seq);
      if (data.type === 'error') w.reject(new Error(data.message));
      else w.resolve(data);
    };
    worker.onerror = (e) => {
      failed = new Error(e.message || 'the search worker failed');
      for (const w of waiting.values()) w.reject(failed);
      waiting.clear();
    };
    worker.postMessage({
      type: 'init', titlesUrl: new URL('data/titles.txt', index.base).href,
      subjectStart: index.subjectStart, subjectIds: index.subjectIds, subjectNames: index.subjectNames,
    });
  }
  function ask(message) {
    start();
    if (failed) return Promise.reject(failed);
    const id = ++seq;
    return new Promise((resolve, reject) => {
      waiting.set(id, { resolve, reject });
      worker.postMessage({ ...message, seq: id });
    });
  }
  return {
    prepare: start,
    search: (query) => ask({ type: 'search', query }),
    titles: (items) => ask({ type: 'titles', items }).then((d) => d.titles),
  };
}

/**
 * @param {{input:HTMLInputElement, count:HTMLElement, position:HTMLElement, list:HTMLOListElement,
 *   more:HTMLElement, prev:HTMLButtonElement, next:HTMLButtonElement}} els
 * @param {{onChange(state:object|null, started:number):void, onStep(item:number):void, onPick(item:number):void}} handlers
 *   onStep: previous/next moved to a result; onPick: a result in the list was chosen
 */
export function createSearch(els, index, { onChange, onStep, onPick }) {
  const nf = new Intl.NumberFormat('en');
  const worker = searchWorker(index);
  let query = null; // the text the current state is for (null: none yet)
  let asked = 0; // number of the latest query sent: only its answer counts
  let listed = 0; // number of the latest result list: only its titles are shown
  let results = []; // item positions of the current result, in item order
  let cursor = -1; // index into results of the last stepped-to / picked result

  function run() {
    if (els.input.value === query) return;
    const started = performance.now();
    query = els.input.value;
    const mine = ++asked;
    if (!tokenize(query).length) {
      onChange(null, started);
      return;
    }
    const text = query;
    worker.search(text).then(({ matches, n }) => {
      if (mine === asked) onChange({ matches, n, query: text }, started);
    }, (err) => {
      if (mine !== asked) return;
      console.warn(`[viewer] search failed: ${err.message}`);
      els.count.textContent = 'Search is unavailable';
      els.count.hidden = false;
    });
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
    /** Load the titles and build the search index ahead of the first search (call when the page is idle). */
    prepare() {
      worker.prepare();
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
      const mine = ++listed;
      const fill = (titles) => {
        if (mine !== listed) return;
        const frag = document.createDocumentFragment();
        shown.forEach((i, k) => {
          const li = document.createElement('li');
          const b = document.createElement('button');
          b.type = 'button';
          b.dataset.item = String(i);
          b.textContent = titles[k] || 'Untitled';
          li.append(b);
          frag.append(li);
        });
        els.list.replaceChildren(frag);
        els.list.hidden = shown.length === 0;
        markCurrent();
      };
      if (shown.length) worker.titles(shown).then(fill, () => fill([]));
      else fill([]);
      els.more.hidden = results.length <= LIST_LIMIT;
      els.more.textContent = results.length > LIST_LIMIT
        ? `Showing the first ${nf.format(LIST_LIMIT)} of ${nf.format(results.length)} results; refine the search or use Next to see the others.`
        : '';
      markCurrent();
    },
  };
}
