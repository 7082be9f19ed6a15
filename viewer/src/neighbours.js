/**
 * "More like this": data/neighbours.json = {k, id: [ids in items.json order],
 * neighbours: [[positions, nearest first], ...]}. Positions refer to the neighbours file's own
 * `id` order; when that differs from items.json (an older or rebuilt file) they are mapped
 * through the ids, and ids items.json lacks are dropped. How many neighbours an item shows is the
 * file's to say (`k`, the workflow's `neighbours.count`): the viewer has no count of its own. Pure.
 */

/**
 * Neighbour lists as item positions of `index`: an array of length index.count whose entries
 * are arrays (possibly empty) of at most `k` positions (when the file gives a positive integer `k`;
 * else as long as the file's lists). Throws on a file that is not the documented shape.
 */
export function parseNeighbours(json, index) {
  if (!json || typeof json !== 'object' || !Array.isArray(json.neighbours)) {
    throw new Error('neighbours.json: no "neighbours" array');
  }
  const lists = json.neighbours;
  const k = Number.isInteger(json.k) && json.k > 0 ? json.k : Infinity;
  const ids = Array.isArray(json.id) ? json.id.map(String) : null;
  // Position in the file -> position in items.json (identity when the orders agree).
  let toItem = null;
  if (ids && (ids.length !== index.count || ids.some((id, p) => id !== index.ids[p]))) {
    toItem = ids.map((id) => (index.idPosition.has(id) ? index.idPosition.get(id) : -1));
  }
  const out = Array.from({ length: index.count }, () => []);
  for (let p = 0; p < lists.length; p++) {
    const item = toItem ? toItem[p] : p;
    if (item === undefined || item < 0 || item >= index.count || !Array.isArray(lists[p])) continue;
    out[item] = lists[p]
      .slice(0, k)
      .map((q) => (Number.isInteger(q) ? (toItem ? toItem[q] ?? -1 : q) : -1))
      .filter((q) => q >= 0 && q < index.count);
  }
  return out;
}

/** The distinct neighbours of `item`, nearest first, never the item itself. */
export function similarItems(lists, item) {
  const list = (lists && lists[item]) || [];
  const seen = new Set([item]);
  const out = [];
  for (const q of list) {
    if (seen.has(q)) continue;
    seen.add(q);
    out.push(q);
  }
  return out;
}
