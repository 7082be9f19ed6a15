/**
 * The page state in the URL hash, so a link restores what its sender saw:
 *   #x=<centre x>&y=<centre y>&z=<zoom>   OpenSeadragon viewport coordinates (image width = 1)
 *   &a=<arrangement>                        the mosaic's arrangement (omitted for similarity)
 *   &s=<subject>,<subject>                 each name encodeURIComponent'd, joined by ','
 *   &mode=all                               (omitted for the default 'any')
 *   &from=<year>&to=<year>                  inclusive years
 *   &f.<facet>=<value>,<value>              a values facet's selected values, as s=
 *   &f.<facet>=<low>,<high>                 a number facet's inclusive range (either end may be empty)
 *   &q=<search text>                        encodeURIComponent'd
 *   &item=<id>                              the open item, by id (never by position)
 * Pure: decoding never throws, and names/ids the collection lacks are dropped by resolveHash.
 */
import { SIMILARITY, findArrangement } from './arrangement.js';
import { numberRange } from './facets.js';

/** Viewport coordinates to 5 decimals (-0 becomes 0). */
export function roundCoord(v) {
  return Number(v.toFixed(5)) + 0;
}

/** Zoom to 3 significant digits. */
export function roundZoom(z) {
  return Number(z.toPrecision(3));
}

const enc = encodeURIComponent;

const FACET_KEY = 'f.';

/** A number for a facet's range in the hash: as short as it reads, at most 6 significant digits. */
const rangeEnd = (v) => (Number.isFinite(v) ? String(Number(v.toPrecision(6))) : '');

/**
 * Hash text (without '#') for a state {view: {x, y, z} | null, arrangement: name | null, subjects: [names],
 * mode, from, to, facets: [{name, values: [names]} | {name, range: [low, high]}], q, item}; keys whose value
 * is empty or default are left out.
 */
export function encodeHash(state) {
  const parts = [];
  const { view } = state;
  if (view && [view.x, view.y, view.z].every(Number.isFinite) && view.z > 0) {
    parts.push(`x=${roundCoord(view.x)}`, `y=${roundCoord(view.y)}`, `z=${roundZoom(view.z)}`);
  }
  if (state.arrangement && state.arrangement !== SIMILARITY) parts.push(`a=${enc(state.arrangement)}`);
  if (state.subjects && state.subjects.length) parts.push(`s=${state.subjects.map(enc).join(',')}`);
  if (state.mode === 'all') parts.push('mode=all');
  if (Number.isInteger(state.from)) parts.push(`from=${state.from}`);
  if (Number.isInteger(state.to)) parts.push(`to=${state.to}`);
  for (const facet of state.facets ?? []) {
    if (facet.values?.length) parts.push(`${FACET_KEY}${facet.name}=${facet.values.map(enc).join(',')}`);
    else if (facet.range) parts.push(`${FACET_KEY}${facet.name}=${facet.range.map(rangeEnd).join(',')}`);
  }
  if (state.q && state.q.trim()) parts.push(`q=${enc(state.q)}`);
  if (state.item !== null && state.item !== undefined && state.item !== '') parts.push(`item=${enc(state.item)}`);
  return parts.join('&');
}

/** decodeURIComponent that returns null instead of throwing on malformed escapes. */
function dec(text, plusIsSpace = false) {
  try {
    return decodeURIComponent(plusIsSpace ? text.replace(/\+/g, ' ') : text);
  } catch {
    return null;
  }
}

function parseYear(text) {
  if (!/^\s*-?\d{1,6}\s*$/.test(text ?? '')) return null;
  return Number.parseInt(text, 10);
}

function parseNumber(text) {
  if (text === undefined || text === null || text.trim() === '') return null;
  const n = Number(text);
  return Number.isFinite(n) ? n : null;
}

/** Comma-separated names, each decoded ('+' as a space), blanks and repeats dropped. */
function names(text) {
  const list = text.split(',').map((s) => dec(s, true)).filter((s) => s !== null && s.trim() !== '');
  return [...new Set(list)];
}

/**
 * The raw state in a hash ('#...' or without the '#'): {view, arrangement, subjects: [names], mode, from,
 * to, facets: Map(name -> [texts]), q, item}. Unknown keys and malformed values are ignored; the last of
 * repeated keys wins. '+' in q, s and facets reads as a space (links built with URLSearchParams), '%2B' as a
 * plus. A facet's texts are names or the ends of a range: resolveHash knows which.
 */
export function decodeHash(hash) {
  const raw = new Map();
  for (const part of String(hash ?? '').replace(/^#/, '').split('&')) {
    if (!part) continue;
    const eq = part.indexOf('=');
    const key = eq < 0 ? part : part.slice(0, eq);
    raw.set(key, eq < 0 ? '' : part.slice(eq + 1));
  }
  const x = parseNumber(dec(raw.get('x') ?? ''));
  const y = parseNumber(dec(raw.get('y') ?? ''));
  const z = parseNumber(dec(raw.get('z') ?? ''));
  const view = x !== null && y !== null && z !== null && z > 0 ? { x, y, z } : null;
  const q = raw.has('q') ? dec(raw.get('q'), true) ?? '' : '';
  const item = raw.has('item') ? dec(raw.get('item')) : null;
  const arrangement = raw.has('a') ? dec(raw.get('a')) : null;
  const facets = new Map();
  for (const [key, value] of raw) {
    if (!key.startsWith(FACET_KEY) || key.length === FACET_KEY.length) continue;
    facets.set(key.slice(FACET_KEY.length), value.split(',').map((s) => dec(s, true) ?? ''));
  }
  return {
    view,
    arrangement: arrangement || null,
    subjects: raw.has('s') ? names(raw.get('s')) : [],
    mode: raw.get('mode') === 'all' ? 'all' : 'any',
    from: parseYear(dec(raw.get('from') ?? '')),
    to: parseYear(dec(raw.get('to') ?? '')),
    facets,
    q,
    item: item === '' ? null : item,
  };
}

/**
 * Half-open year range [from, to + 1) for inclusive years typed or linked, either of which
 * may be missing (null): a missing end is taken from the data's extent [min, max] (or from
 * the other end when no item has a year). Ends given the wrong way round are swapped.
 * null when neither end is given.
 */
export function yearRange(from, to, extent) {
  if (from === null && to === null) return null;
  let a = from ?? (extent ? Math.min(extent[0], to) : to);
  let b = to ?? (extent ? Math.max(extent[1], from) : from);
  if (a > b) [a, b] = [b, a];
  return [a, b + 1];
}

/** Indices in `list` of `wanted` names: the exact name first, else the same name ignoring case; others dropped. */
function indicesOf(list, wanted) {
  const byName = new Map();
  const byFolded = new Map();
  list.forEach((name, k) => {
    if (!byName.has(name)) byName.set(name, k);
    const folded = name.toLowerCase();
    if (!byFolded.has(folded)) byFolded.set(folded, k);
  });
  const out = new Set();
  for (const name of wanted) {
    const k = byName.get(name) ?? byFolded.get(name.toLowerCase());
    if (k !== undefined) out.add(k);
  }
  return out;
}

/** A facet's selection from its texts in the hash: value indices (a Set), or an inclusive [low, high]; null if none. */
function facetSelection(facet, texts) {
  if (facet.kind === 'values') {
    const values = indicesOf(facet.values, texts.filter((t) => t.trim() !== ''));
    return values.size ? values : null;
  }
  const [low, high] = [texts[0], texts[1]].map((t) => parseNumber(t ?? ''));
  return numberRange(low, high, facet.min, facet.max);
}

/**
 * The decoded state checked against the collection: subject and facet value names become indices (exact
 * name first, else the same name ignoring case), the item id a position, years a half-open range, a number
 * facet's ends an inclusive range, the arrangement one the site has (else similarity's). Whatever the
 * collection lacks is dropped, silently.
 * @returns {{view, arrangement: object, subjects: Set<number>, mode, years: [number, number] | null,
 *   facets: Map<string, Set<number> | [number, number]>, q: string, item: number}}
 */
export function resolveHash(decoded, index, extent = null, item = -1) {
  const facets = new Map();
  for (const facet of index.facets ?? []) {
    const texts = decoded.facets?.get(facet.name);
    const selection = texts ? facetSelection(facet, texts) : null;
    if (selection) facets.set(facet.name, selection);
  }
  return {
    view: decoded.view,
    arrangement: (decoded.arrangement && findArrangement(index, decoded.arrangement)) || index.arrangements[0],
    subjects: indicesOf(index.subjectNames, decoded.subjects),
    mode: decoded.mode,
    years: yearRange(decoded.from, decoded.to, extent),
    facets,
    q: decoded.q,
    item,
  };
}
