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

/** The titles file as one string and its line offsets: a million titles without a million strings. */
export function titleLines(raw, count) {
  const starts = new Uint32Array(count + 1);
  let at = 0;
  for (let i = 0; i < count; i++) {
    starts[i] = at;
    const nl = at <= raw.length ? raw.indexOf('\n', at) : -1;
    at = nl < 0 ? raw.length + 1 : nl + 1; // a file shorter than count: the rest are empty
  }
  starts[count] = at;
  return {
    length: count,
    at: (i) => (starts[i] < raw.length ? raw.slice(starts[i], Math.max(starts[i], starts[i + 1] - 1)) : ''),
  };
}

const SYMBOLS = 36; // a-z and 0-9: the letters and digits whose single and paired occurrences are indexed
const COMMON = 0.01; // a pair of symbols in at least this share of the titles gets its own bitset

/** 0-35 for a-z and 0-9, else -1. */
function symbol(code) {
  if (code >= 97 && code <= 122) return code - 97;
  if (code >= 48 && code <= 57) return code - 22;
  return -1;
}

/**
 * The search index, built once by the search worker: every item's normalised title in one string (items
 * separated by '\n', which normalizeText never leaves, so words never run across items) with `starts[i]`
 * the offset of item i (starts[count]: the end); bitsets of the items whose title holds each letter or
 * digit and each common pair of them, which answer one- and two-character words at once however many
 * items they occur in; the normalised subject names, matched once per word, and the items' subjects.
 * Longer words are found with the engine's own indexOf over the one string.
 * @param {string[]|{length:number, at(i:number):string}} titles  one per item
 * @param {Uint32Array} subjectStart, {Uint8Array|Uint16Array} subjectIds  data.js's subject columns
 */
export function buildSearchIndex(titles, subjectStart, subjectIds, subjectNames) {
  const count = titles.length;
  const parts = new Array(count);
  const starts = new Uint32Array(count + 1);
  let offset = 0;
  for (let i = 0; i < count; i++) {
    parts[i] = normalizeText(typeof titles.at === 'function' ? titles.at(i) : titles[i]);
    starts[i] = offset;
    offset += parts[i].length + 1;
  }
  starts[count] = offset;
  const text = `${parts.join('\n')}\n`;
  const grams = gramBitsets(text, starts, count);
  return { text, starts, count, grams, subjectNames: subjectNames.map(normalizeText), subjectStart, subjectIds };
}

/** Gram key (symbol, or SYMBOLS + pair) -> bitset of the items whose title holds it (common ones only). */
function gramBitsets(text, starts, count) {
  const keys = SYMBOLS + SYMBOLS * SYMBOLS;
  const seen = new Int32Array(keys).fill(-1); // last item that counted the key
  const items = new Uint32Array(keys);
  const visit = (onKey) => {
    for (let i = 0; i < count; i++) {
      let prev = -1;
      for (let p = starts[i]; p < starts[i + 1] - 1; p++) {
        const sym = symbol(text.charCodeAt(p));
        if (sym >= 0) {
          if (seen[sym] !== i) { seen[sym] = i; onKey(sym, i); }
          if (prev >= 0) {
            const key = SYMBOLS + prev * SYMBOLS + sym;
            if (seen[key] !== i) { seen[key] = i; onKey(key, i); }
          }
        }
        prev = sym;
      }
    }
  };
  visit((key) => { items[key]++; });
  const bitsets = new Map();
  const words = Math.ceil(count / 32);
  for (let key = 0; key < keys; key++) {
    if (key < SYMBOLS || items[key] >= COMMON * count) bitsets.set(key, new Uint32Array(words));
  }
  seen.fill(-1);
  visit((key, i) => {
    const bits = bitsets.get(key);
    if (bits) bits[i >>> 5] |= 1 << (i & 31);
  });
  return bitsets;
}

/** The bitset that answers `token` exactly (one symbol, or a common pair), or undefined. */
function gramOf(grams, token) {
  if (token.length === 1) return grams.get(symbol(token.charCodeAt(0)));
  if (token.length !== 2) return undefined;
  const a = symbol(token.charCodeAt(0)), b = symbol(token.charCodeAt(1));
  return a < 0 || b < 0 ? undefined : grams.get(SYMBOLS + a * SYMBOLS + b);
}

/** Sets flags[i] = 1 for the items whose title contains `token`: indexOf from hit to hit, skipping the
 * rest of an item once it has matched. */
function titleHits({ text, starts, count, grams }, token, flags) {
  const bits = gramOf(grams, token);
  if (bits) {
    for (let i = 0; i < count; i++) flags[i] = (bits[i >>> 5] >>> (i & 31)) & 1;
    return;
  }
  let item = 0;
  let at = text.indexOf(token);
  while (at >= 0) {
    while (starts[item + 1] <= at) item++; // hits come in order: walk, never search back
    flags[item] = 1;
    at = item + 1 < count ? text.indexOf(token, starts[item + 1]) : -1; // next item: one hit is enough
  }
}

/** Flags (Uint8Array, 1 = the item's title or one of its subject names contains `token`). */
function tokenFlags(searchIndex, token) {
  const { count, subjectNames, subjectStart, subjectIds } = searchIndex;
  const flags = new Uint8Array(count);
  titleHits(searchIndex, token, flags);
  const named = subjectNames.map((name) => (name.includes(token) ? 1 : 0));
  if (named.some(Boolean)) {
    for (let i = 0; i < count; i++) {
      if (flags[i]) continue;
      for (let k = subjectStart[i]; k < subjectStart[i + 1]; k++) if (named[subjectIds[k]]) { flags[i] = 1; break; }
    }
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
