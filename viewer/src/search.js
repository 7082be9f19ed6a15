/**
 * Free-text search over titles and subject names. Case- and accent-insensitive ("Zurich"
 * finds "Zürich"); every word of the query must occur somewhere in the item's title or
 * subject names (as a substring, so "bridge" also finds "bridges"). Pure: no DOM.
 */

const MARKS = /[\u0300-\u036f]/g; // combining diacritical marks left by NFD
const SEPARATORS = /[^\p{L}\p{N}]+/gu; // anything that is not a letter or a digit

/** Lower-case, accent-free text with punctuation runs turned into single spaces. */
export function normalizeText(text) {
  return String(text ?? '')
    .normalize('NFD')
    .replace(MARKS, '')
    .toLowerCase()
    .replace(/ß/g, 'ss')
    .replace(SEPARATORS, ' ')
    .trim();
}

/** The words of a query, normalised, duplicates dropped; [] for a blank query. */
export function tokenize(query) {
  const text = normalizeText(query);
  return text ? [...new Set(text.split(' '))] : [];
}

/**
 * One normalised searchable string per item: its title and the names of its subjects,
 * separated by a character no token can contain (so words never run across fields).
 * Built once, the first time someone searches.
 */
export function buildSearchText(index) {
  const names = index.subjectNames.map(normalizeText);
  const out = new Array(index.count);
  for (let i = 0; i < index.count; i++) {
    let s = normalizeText(index.title[i]);
    for (const k of index.subjects[i]) s += `|${names[k]}`;
    out[i] = s;
  }
  return out;
}

/**
 * Match flags (Uint8Array, 1 = every token found) and their count, or null when the query
 * has no words (no search active).
 */
export function searchMatches(searchText, query) {
  const tokens = tokenize(query);
  if (!tokens.length) return null;
  const matches = new Uint8Array(searchText.length);
  let n = 0;
  outer: for (let i = 0; i < searchText.length; i++) {
    const s = searchText[i];
    for (const t of tokens) if (!s.includes(t)) continue outer;
    matches[i] = 1;
    n++;
  }
  return { matches, n };
}
