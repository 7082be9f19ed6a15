/**
 * The details side panel for one item. All data goes in through textContent / attributes
 * (never innerHTML) so catalogue text such as "<img onerror=...>" shows literally.
 */
import { displayDate, safeHref, subjectsOf } from '../data.js';

/**
 * @param {HTMLElement} root  the <aside> from index.html
 * @param {object} index
 * @param {{onClose():void, onSubject(subject:number):void, isSubjectSelected(subject:number):boolean,
 *   onJump(item:number):void}} handlers  onJump: a "more like this" thumbnail was chosen
 */
export function createPanel(root, index, { onClose, onSubject, isSubjectSelected, onJump }) {
  const $ = (sel) => root.querySelector(sel);
  const thumb = $('.panel-thumb');
  const title = $('.panel-title');
  const date = $('.panel-date');
  const rawDate = $('.panel-date-raw');
  const subjects = $('.panel-subjects');
  const subjectsHeading = $('.panel-subjects-heading');
  const record = $('.panel-record');
  const full = $('.panel-image');
  const ident = $('.panel-id');
  const description = $('.panel-description');
  const rights = $('.panel-rights');
  const rightsHeading = $('.panel-rights-heading');
  const closeButton = $('.panel-close');
  let current = -1;
  let similar = null; // the <section id="similar">, while shown

  closeButton.addEventListener('click', () => onClose());

  function setLink(a, href) {
    const safe = safeHref(href);
    a.hidden = !safe;
    if (safe) a.href = safe;
    else a.removeAttribute('href');
  }

  function renderSubjects() {
    subjects.replaceChildren();
    const list = current >= 0 ? subjectsOf(index, current) : [];
    subjectsHeading.hidden = list.length === 0;
    for (const s of list) {
      const li = document.createElement('li');
      const b = document.createElement('button');
      b.type = 'button';
      b.className = 'chip';
      b.textContent = index.subjectNames[s];
      b.dataset.subject = index.subjectNames[s];
      b.setAttribute('aria-pressed', String(isSubjectSelected(s)));
      b.title = isSubjectSelected(s) ? 'Remove this subject from the filter' : 'Show items with this subject';
      b.addEventListener('click', () => onSubject(s));
      li.append(b);
      subjects.append(li);
    }
  }

  /** Section "More like this": one button per neighbour (records: theirs, in order) with its local thumbnail. */
  function renderSimilar(items, records) {
    const section = document.createElement('section');
    section.id = 'similar';
    section.setAttribute('aria-labelledby', 'similar-heading');
    const h = document.createElement('h3');
    h.id = 'similar-heading';
    h.textContent = 'More like this';
    const grid = document.createElement('div');
    grid.className = 'similar-grid';
    items.forEach((j, k) => {
      const rec = records[k] || {};
      const b = document.createElement('button');
      b.type = 'button';
      b.className = 'similar-item';
      b.dataset.item = String(j);
      const name = rec.title || 'Untitled';
      b.title = name;
      const img = document.createElement('img');
      img.alt = name;
      img.loading = 'lazy';
      img.decoding = 'async';
      const src = safeHref(rec.thumb);
      if (src) img.src = src;
      b.append(img);
      b.addEventListener('click', () => onJump(j));
      grid.append(b);
    });
    section.append(h, grid);
    return section;
  }

  function removeSimilar() {
    if (similar) similar.remove();
    similar = null;
  }

  return {
    get item() { return current; },
    /** Show item i, whose record (data.js) is `rec`. */
    open(i, rec) {
      if (i !== current) removeSimilar();
      current = i;
      const name = rec.title || 'Untitled';
      // The site's own cell-size thumbnail (thumbs/<id>.jpg), which the metadata stage names for every item.
      const src = safeHref(rec.thumb);
      thumb.hidden = !src;
      if (src) {
        thumb.src = src;
        thumb.alt = name;
      }
      title.textContent = name;
      const shown = displayDate(rec);
      date.textContent = shown || 'Date unknown';
      // The catalogue's own wording, when the normalised label says it differently.
      const raw = rec.date.trim();
      rawDate.hidden = !raw || raw === shown;
      rawDate.textContent = `Catalogued as: ${raw}`;
      ident.textContent = `ID ${rec.id}`;
      const desc = rec.description.trim();
      description.hidden = !desc;
      description.textContent = desc;
      const right = rec.rights.trim();
      rights.hidden = rightsHeading.hidden = !right;
      rights.textContent = right;
      setLink(record, rec.url);
      setLink(full, rec.imageUrl);
      renderSubjects();
      // Focus stays where it was (usually the mosaic, so arrow keys keep panning); the panel
      // follows the mosaic in tab order and Escape closes it.
      root.hidden = false;
    },
    close() {
      current = -1;
      removeSimilar();
      root.hidden = true;
    },
    /** Show "more like this" for `item` (ignored if another item is open by now): the neighbours' positions
     * and records; [] or null: none. */
    showSimilar(item, items, records) {
      if (item !== current) return;
      removeSimilar();
      if (!items || !items.length) return;
      similar = renderSimilar(items, records);
      root.append(similar);
    },
    /** Move keyboard focus into the panel (its title), e.g. after a jump from a thumbnail. */
    focus() {
      title.focus({ preventScroll: true });
    },
    /** Re-render subject chips after the filter changed (pressed state). */
    refresh() {
      if (current >= 0) renderSubjects();
    },
  };
}
