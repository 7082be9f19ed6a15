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
 * The search index: every item's normalised title and subject names in one string, items separated by
 * '\n' and fields by '|' (neither survives normalizeText, so words never run across items or fields),
 * with `starts[i]` the offset of item i (and starts[count] the end). One string searched with the engine's
 * own indexOf is what keeps a million titles quick. Built by the search worker, once.
 * @param {string[]} titles  one per item
 * @param {Uint32Array} subjectStart, {Uint8Array|Uint16Array} subjectIds  data.js's subject columns
 */
export function buildSearchIndex(titles, subjectStart, subjectIds, subjectNames) {
  const names = subjectNames.map(normalizeText);
  const count = titles.length;
  const parts = new Array(count);
  const starts = new Uint32Array(count + 1);
  let offset = 0;
  for (let i = 0; i < count; i++) {
    let s = normalizeText(titles[i]);
    for (let k = subjectStart[i]; k < subjectStart[i + 1]; k++) s += `|${names[subjectIds[k]]}`;
    parts[i] = s;
    starts[i] = offset;
    offset += s.length + 1;
  }
  starts[count] = offset;
  return { text: parts.join('\n') + '\n', starts, count };
}

/** Flags (Uint8Array, 1 = the item's text contains `token`) by scanning the whole text with indexOf. */
function tokenFlags(searchIndex, token) {
  const { text, starts, count } = searchIndex;
  const flags = new Uint8Array(count);
  let item = 0;
  let at = text.indexOf(token);
  while (at >= 0) {
    while (starts[item + 1] <= at) item++; // hits come in order: walk, never search back
    flags[item] = 1;
    at = item + 1 < count ? text.indexOf(token, starts[item + 1]) : -1; // next item: one hit is enough
  }
  return flags;
}

/**
 * Match flags (Uint8Array, 1 = every token found in the item's title or subject names) and their count,
 * or null when the query has no words (no search active).
 */
export function searchMatches(searchIndex, query) {
  const tokens = tokenize(query).sort((a, b) => b.length - a.length); // long words first: fewer hits
  if (!tokens.length) return null;
  let matches = null;
  for (const token of tokens) {
    const flags = tokenFlags(searchIndex, token);
    if (matches) for (let i = 0; i < flags.length; i++) matches[i] &= flags[i];
    else matches = flags;
  }
  let n = 0;
  for (let i = 0; i < matches.length; i++) n += matches[i];
  return { matches, n };
}
