/**
 * Treemap of the most frequent subjects (d3-hierarchy: layout only, no DOM).
 */
import { hierarchy, treemap, treemapSquarify } from 'd3-hierarchy';

/** The `limit` most frequent subjects as [{subject, name, count}], most frequent first. */
export function topSubjects(index, limit = 24) {
  return index.subjectNames
    .map((name, subject) => ({ subject, name, count: index.subjectCounts[subject] || 0 }))
    .filter((d) => d.count > 0)
    .sort((a, b) => b.count - a.count || a.subject - b.subject)
    .slice(0, limit);
}

/** Tiles [{subject, name, count, x0, y0, x1, y1}] filling a width x height box. */
export function layoutTreemap(subjects, width, height, padding = 2) {
  if (!subjects.length || width <= 0 || height <= 0) return [];
  const root = hierarchy({ children: subjects })
    .sum((d) => d.count || 0)
    .sort((a, b) => b.value - a.value);
  treemap().tile(treemapSquarify.ratio(1.4)).size([width, height]).paddingInner(padding).round(true)(root);
  return root.leaves().map((leaf) => ({ ...leaf.data, x0: leaf.x0, y0: leaf.y0, x1: leaf.x1, y1: leaf.y1 }));
}
