/**
 * The search, off the page's thread: loads data/titles.txt (one title per line, in item order) once, builds
 * the search index (search.js) and answers queries with match flags, so typing never freezes the page
 * however many items there are. Also hands out titles for the result list, which it holds anyway.
 *
 * Messages in: {type: 'init', titlesUrl, subjectStart, subjectIds, subjectNames},
 *   {type: 'search', seq, query}, {type: 'titles', seq, items}.
 * Out: {type: 'ready', count} | {type: 'result', seq, matches, n} | {type: 'titles', seq, titles}
 *   | {type: 'error', seq, message} (seq null: loading failed).
 */
import { buildSearchIndex, searchMatches, titleLines } from './search.js';

let loading = null; // Promise of {titles, searchIndex}

async function load({ titlesUrl, subjectStart, subjectIds, subjectNames }) {
  const res = await fetch(titlesUrl);
  if (!res.ok) throw new Error(`Could not load the titles (HTTP ${res.status})`);
  const titles = titleLines(await res.text(), subjectStart.length - 1);
  return { titles, searchIndex: buildSearchIndex(titles, subjectStart, subjectIds, subjectNames) };
}

self.onmessage = async ({ data }) => {
  if (data.type === 'init') {
    loading ??= load(data);
    loading.then(({ titles }) => self.postMessage({ type: 'ready', count: titles.length }),
      (err) => self.postMessage({ type: 'error', seq: null, message: err.message }));
    return;
  }
  try {
    if (!loading) throw new Error('search worker used before init');
    const { titles, searchIndex } = await loading;
    if (data.type === 'search') {
      const result = searchMatches(searchIndex, data.query);
      if (!result) self.postMessage({ type: 'result', seq: data.seq, matches: null, n: 0 });
      else self.postMessage({ type: 'result', seq: data.seq, ...result }, [result.matches.buffer]);
    } else if (data.type === 'titles') {
      self.postMessage({ type: 'titles', seq: data.seq, titles: data.items.map((i) => (i >= 0 && i < titles.length ? titles.at(i) : '')) });
    }
  } catch (err) {
    self.postMessage({ type: 'error', seq: data.seq ?? null, message: err.message });
  }
};
