/**
 * The page state in the URL hash, so a link restores what its sender saw:
 *   #x=<centre x>&y=<centre y>&z=<zoom>   OpenSeadragon viewport coordinates (image width = 1)
 *   &s=<subject>,<subject>                 each name encodeURIComponent'd, joined by ','
 *   &mode=all                               (omitted for the default 'any')
 *   &from=<year>&to=<year>                  inclusive years
 *   &q=<search text>                        encodeURIComponent'd
 *   &item=<id>                              the open item, by id (never by position)
 * Pure: decoding never throws, and names/ids the collection lacks are dropped by resolveHash.
 */

/** Viewport coordinates to 5 decimals (-0 becomes 0). */
export function roundCoord(v) {
  return Number(v.toFixed(5)) + 0;
}

/** Zoom to 3 significant digits. */
export function roundZoom(z) {
  return Number(z.toPrecision(3));
}

const enc = encodeURIComponent;

/**
 * Hash text (without '#') for a state {view: {x, y, z} | null, subjects: [names], mode,
 * from, to, q, item}; keys whose value is empty or default are left out.
 */
export function encodeHash(state) {
  const parts = [];
  const { view } = state;
  if (view && [view.x, view.y, view.z].every(Number.isFinite) && view.z > 0) {
    parts.push(`x=${roundCoord(view.x)}`, `y=${roundCoord(view.y)}`, `z=${roundZoom(view.z)}`);
  }
  if (state.subjects && state.subjects.length) parts.push(`s=${state.subjects.map(enc).join(',')}`);
  if (state.mode === 'all') parts.push('mode=all');
  if (Number.isInteger(state.from)) parts.push(`from=${state.from}`);
  if (Number.isInteger(state.to)) parts.push(`to=${state.to}`);
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

/**
 * The raw state in a hash ('#...' or without the '#'): {view, subjects: [names], mode, from,
 * to, q, item}. Unknown keys and malformed values are ignored; the last of repeated keys wins.
 * '+' in q and s reads as a space (links built with URLSearchParams), '%2B' as a plus.
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
  const subjects = raw.has('s')
    ? raw.get('s').split(',').map((s) => dec(s, true)).filter((s) => s !== null && s.trim() !== '')
    : [];
  const q = raw.has('q') ? dec(raw.get('q'), true) ?? '' : '';
  const item = raw.has('item') ? dec(raw.get('item')) : null;
  return {
    view,
    subjects: [...new Set(subjects)],
    mode: raw.get('mode') === 'all' ? 'all' : 'any',
    from: parseYear(dec(raw.get('from') ?? '')),
    to: parseYear(dec(raw.get('to') ?? '')),
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

/**
 * The decoded state checked against the collection: subject names become indices (exact
 * name first, else the same name ignoring case), the item id a position, years a half-open
 * range. Whatever the collection lacks is dropped, silently.
 * @returns {{view, subjects: Set<number>, mode, years: [number, number] | null, q: string, item: number}}
 */
export function resolveHash(decoded, index, extent = null, item = -1) {
  const byName = new Map();
  const byFolded = new Map();
  index.subjectNames.forEach((name, k) => {
    if (!byName.has(name)) byName.set(name, k);
    const folded = name.toLowerCase();
    if (!byFolded.has(folded)) byFolded.set(folded, k);
  });
  const subjects = new Set();
  for (const name of decoded.subjects) {
    const k = byName.get(name) ?? byFolded.get(name.toLowerCase());
    if (k !== undefined) subjects.add(k);
  }
  return {
    view: decoded.view,
    subjects,
    mode: decoded.mode,
    years: yearRange(decoded.from, decoded.to, extent),
    q: decoded.q,
    item,
  };
}
