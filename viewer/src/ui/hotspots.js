/**
 * The Hotspots section: the site's largest hotspots (collection.json `hotspots`, largest first), each a
 * button with its representative's thumbnail, its label and its size; "Show all" lists the rest. Pointing
 * at or focusing one asks main.js to outline it on the mosaic (onPreview), clicking it or Enter to fly there
 * (onFly). Its title says where the label comes from (a curator, or the catalogue's terms). The thumbnails
 * need the representatives' record chunks (at a million items 12 chunks can be several MB), so they are
 * fetched when the list first comes into view, not with the page. Text goes in as textContent only.
 */
import { safeHref } from '../data.js';
import { labelSource } from '../hotspots.js';

export const HOTSPOTS_SHOWN = 12; // listed before "Show all"

/**
 * @param {{section:HTMLElement, list:HTMLOListElement, more:HTMLButtonElement}} els
 * @param {{hotspots: object[]}} index
 * @param {{onPreview(h:number):void, onFly(h:number):void, loadRecords(items:number[]):Promise<object[]>}} handlers
 *   onPreview: hotspot h is pointed at or focused (-1: none any more); loadRecords: the records (data.js) of
 *   the representatives, for their thumbnails
 */
export function createHotspots(els, index, { onPreview, onFly, loadRecords }) {
  const { hotspots } = index;
  const nf = new Intl.NumberFormat('en');
  els.section.hidden = hotspots.length === 0;
  let listed = 0;
  let pointed = -1; // the hotspot under the pointer, which wins over the focused one while there
  let inView = false; // the list has been on screen: thumbnails may be fetched

  /** Add buttons for hotspots [listed, upTo), with their thumbnails once the list is in view. */
  function listUpTo(upTo) {
    const from = listed;
    const frag = document.createDocumentFragment();
    for (let h = from; h < upTo; h++) frag.append(hotspotItem(h));
    els.list.append(frag);
    listed = upTo;
    els.more.hidden = listed >= hotspots.length;
    els.more.textContent = `Show all ${nf.format(hotspots.length)}`;
    if (inView) showThumbnails(from, upTo);
  }

  /** Fetch the records of hotspots [from, upTo)'s representatives and show their thumbnails. */
  function showThumbnails(from, upTo) {
    const shown = hotspots.slice(from, upTo).map((hotspot, k) => ({ h: from + k, item: hotspot.representative }))
      .filter((d) => d.item >= 0);
    loadRecords(shown.map((d) => d.item)).then((records) => {
      shown.forEach((d, k) => {
        const img = els.list.querySelector(`button[data-hotspot="${d.h}"] img`);
        const src = safeHref(records[k]?.thumb);
        if (img && src) img.src = src;
      });
    }, (err) => console.warn(`[viewer] no hotspot thumbnails: ${err.message}`));
  }

  function hotspotItem(h) {
    const hotspot = hotspots[h];
    const li = document.createElement('li');
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'hotspot';
    button.dataset.hotspot = String(h);
    button.title = labelSource(hotspot);
    const items = `${nf.format(hotspot.size)} item${hotspot.size === 1 ? '' : 's'}`;
    button.setAttribute('aria-label', `${hotspot.label}, ${items}`);
    const img = document.createElement('img');
    img.alt = '';
    img.loading = 'lazy';
    img.decoding = 'async';
    const label = document.createElement('span');
    label.className = 'hotspot-label';
    label.textContent = hotspot.label;
    const count = document.createElement('span');
    count.className = 'hotspot-count';
    count.textContent = nf.format(hotspot.size);
    button.append(img, label, count);
    li.append(button);
    return li;
  }

  const hotspotOf = (e) => {
    const button = e.target.closest?.('button[data-hotspot]');
    return button ? Number(button.dataset.hotspot) : -1;
  };
  const focused = () => (els.list.contains(document.activeElement) ? hotspotOf({ target: document.activeElement }) : -1);
  els.list.addEventListener('pointerover', (e) => {
    const h = hotspotOf(e);
    if (h >= 0 && h !== pointed) onPreview((pointed = h));
  });
  els.list.addEventListener('pointerleave', () => {
    pointed = -1;
    onPreview(focused());
  });
  els.list.addEventListener('focusin', (e) => {
    if (pointed < 0) onPreview(hotspotOf(e));
  });
  els.list.addEventListener('focusout', (e) => {
    if (pointed < 0 && !els.list.contains(e.relatedTarget)) onPreview(-1);
  });
  els.list.addEventListener('click', (e) => {
    const h = hotspotOf(e);
    if (h >= 0) onFly(h);
  });
  els.more.addEventListener('click', () => {
    const next = els.list.children.length;
    listUpTo(hotspots.length);
    els.list.querySelector(`button[data-hotspot="${next}"]`)?.focus();
  });

  if (!hotspots.length) return;
  listUpTo(Math.min(HOTSPOTS_SHOWN, hotspots.length));
  const observer = new IntersectionObserver((entries) => {
    if (!entries.some((e) => e.isIntersecting)) return;
    observer.disconnect();
    inView = true;
    showThumbnails(0, listed);
  });
  observer.observe(els.list);
}
