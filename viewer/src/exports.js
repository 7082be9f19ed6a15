/**
 * What the page downloads besides the CSV (csv.js): the records of the items shown as JSON, and the names
 * their thumbnails get in a ZIP (zip.js) of the selection. Pure: main.js fetches the records and the
 * thumbnails and makes the files.
 */
import { subjectsOf } from './data.js';

/** More thumbnails than this make no ZIP: the page would hold them all in memory (about 10 KB each). */
export const ZIP_MAX_ITEMS = 5000;

/**
 * JSON text of the records of `items` (positions; `records` theirs, as data.js loadRecords gives them),
 * each with its subjects' names, in item order.
 */
export function selectionJson(index, items, records) {
  const list = records.map((rec, k) => ({ ...rec, subjects: [...subjectsOf(index, items[k])].map((s) => index.subjectNames[s]) }));
  return `${JSON.stringify(list, null, 1)}\n`;
}

/**
 * The name each record's thumbnail gets in the ZIP: `thumbs/<its file name>` (the id in front when two
 * share a name), or null when it has no thumbnail of the site's own (an absolute URL is not the site's).
 */
export function thumbnailNames(records) {
  const taken = new Set();
  return records.map((rec) => {
    const path = String(rec.thumb || '');
    if (!path || /^[a-z][a-z0-9+.-]*:|^\/\//i.test(path)) return null;
    const file = decodeName(path.split(/[?#]/)[0].split('/').pop());
    let name = `thumbs/${file}`;
    if (taken.has(name)) name = `thumbs/${rec.id}-${file}`;
    taken.add(name);
    return name;
  });
}

/** A URL path's last part as a file name: percent escapes decoded where they are valid. */
function decodeName(part) {
  try {
    return decodeURIComponent(part) || 'thumbnail';
  } catch {
    return part || 'thumbnail';
  }
}
