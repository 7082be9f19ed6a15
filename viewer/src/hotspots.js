/**
 * Hotspots (collection.json `hotspots` and data/hotspots.bin, viewer/README.md "Exploring"): regions of the
 * similarity mosaic whose pictures belong together, each with a label from the catalogue or a curator. The
 * list comes with collection.json; which items are in which hotspot (a Uint16 per item) only when a hotspot
 * is first pointed at, since at a million items that column is 2 MB. Members are items, not cells, so a
 * hotspot can be outlined and flown to in any arrangement: its cells are wherever the index's layout puts
 * its items. Pure: no DOM.
 */

/**
 * The valid hotspots, in the site's order (largest first): {label, autoLabel, terms, size, representative
 * (a position, -1 when out of range), key, curated (a curator named it: label differs from autoLabel)}.
 */
export function parseHotspots(collection, count) {
  const list = Array.isArray(collection.hotspots) ? collection.hotspots : [];
  return list.filter((h) => h && typeof h === 'object').map((h) => {
    const label = String(h.label ?? '').trim();
    const autoLabel = String(h.autoLabel ?? label).trim();
    const representative = Number.isInteger(h.representative) && h.representative >= 0 && h.representative < count
      ? h.representative : -1;
    return {
      label: label || autoLabel || 'Unnamed',
      autoLabel,
      terms: Array.isArray(h.terms) ? h.terms.map(String) : [],
      size: Number.isInteger(h.size) && h.size >= 0 ? h.size : 0,
      representative,
      key: String(h.key ?? ''),
      curated: label !== '' && label !== autoLabel,
    };
  });
}

/**
 * The members of every hotspot from the hotspots column (0 = none, h + 1 = hotspot h), grouped: hotspot h's
 * items are items[start[h] .. start[h + 1]), in position order. Values beyond the list are ignored.
 */
export function hotspotMembers(column, hotspots) {
  const start = new Uint32Array(hotspots + 1);
  for (let i = 0; i < column.length; i++) {
    const h = column[i] - 1;
    if (h >= 0 && h < hotspots) start[h + 1]++;
  }
  for (let h = 0; h < hotspots; h++) start[h + 1] += start[h];
  const next = start.slice(0, hotspots);
  const items = new Uint32Array(start[hotspots]);
  for (let i = 0; i < column.length; i++) {
    const h = column[i] - 1;
    if (h >= 0 && h < hotspots) items[next[h]++] = i;
  }
  return {
    start, items,
    /** Hotspot h's items (a typed subarray). */
    of(h) {
      return h >= 0 && h < hotspots ? items.subarray(start[h], start[h + 1]) : new Uint32Array(0);
    },
  };
}

/**
 * The text a hotspot's button tells about its name: a curator's, or made from the catalogue's terms; and the
 * picture id a curator names in the labels file (hotspots.labels) to rename it.
 */
export function labelSource(hotspot) {
  const source = hotspot.curated ? `Named by a curator (from the catalogue: ${hotspot.autoLabel || 'no name'})`
    : `Label from the catalogue${hotspot.terms.length ? `: ${hotspot.terms.join(', ')}` : ''}`;
  return hotspot.key ? `${source}. Picture id ${hotspot.key}` : source;
}
