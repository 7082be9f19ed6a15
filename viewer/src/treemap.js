/**
 * Treemap of the collection's subjects (d3-hierarchy: layout only, no DOM). It shows every named subject
 * items.json offers (the metadata stage's `subjects_top` most frequent), so the number of tiles is a setting
 * of the data, not of the viewer. "Other", which the metadata stage lists last for the items whose subjects
 * are all rarer, is not a subject of its own and gets no tile.
 */
import { hierarchy, treemap, treemapSquarify } from 'd3-hierarchy';

/** Share of the box every tile gets at least, so that the rarest of 65 subjects is still a target. */
export const TREEMAP_MIN_SHARE = 0.004;
const MIN_HEIGHT = 230; // px: the box for up to 24 subjects
const MAX_HEIGHT = 320; // px: the box for 47 subjects and more

/** Height in px of the treemap box for n tiles: 230 up to 24 tiles, then growing with sqrt(n), at most 320. */
export function treemapHeight(n) {
  return Math.round(Math.min(MAX_HEIGHT, MIN_HEIGHT * Math.sqrt(Math.max(1, n / 24))));
}

export const OTHER_SUBJECT = 'Other'; // scripts/metadata.py's catch-all, always the last name

/** Every named subject that some item has, as [{subject, name, count}], most frequent first. */
export function treemapSubjects(index) {
  const other = index.subjectNames.at(-1) === OTHER_SUBJECT ? index.subjectNames.length - 1 : -1;
  return index.subjectNames
    .map((name, subject) => ({ subject, name, count: index.subjectCounts[subject] || 0 }))
    .filter((d) => d.count > 0 && d.subject !== other)
    .sort((a, b) => b.count - a.count || a.subject - b.subject);
}

/**
 * Tiles [{subject, name, count, x0, y0, x1, y1}] filling a width x height box, sized by count.
 * `minShare` (0-1) gives every tile at least that share of the box, so that a rare subject among
 * many still gets a tile big enough to see and click; the rest is shared out by count.
 */
export function layoutTreemap(subjects, width, height, padding = 2, minShare = 0) {
  if (!subjects.length || width <= 0 || height <= 0) return [];
  const total = subjects.reduce((s, d) => s + (d.count || 0), 0);
  const floor = Math.min(minShare, 1 / subjects.length) * total;
  const root = hierarchy({ children: subjects })
    .sum((d) => (d.children ? 0 : Math.max(d.count || 0, floor)))
    .sort((a, b) => b.value - a.value);
  treemap().tile(treemapSquarify.ratio(1.4)).size([width, height]).paddingInner(padding).round(true)(root);
  return root.leaves().map((leaf) => ({ ...leaf.data, x0: leaf.x0, y0: leaf.y0, x1: leaf.x1, y1: leaf.y1 }));
}
