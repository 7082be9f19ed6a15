/**
 * The selection's controls in the sidebar: the selection-mode toggle (a pressed/unpressed button; the
 * key L does the same from anywhere but a text field), the shape (lasso or rectangle), how many items are
 * selected, and Clear. Drawing happens on the mosaic (ui/viewer.js); main.js owns the selection itself.
 */

/**
 * @param {{mode:HTMLButtonElement, shapes:HTMLElement, count:HTMLElement, clear:HTMLButtonElement}} els
 * @param {{onMode(on:boolean):void, onShape(shape:string):void, onClear():void}} handlers
 */
export function createSelectionControls(els, { onMode, onShape, onClear }) {
  const nf = new Intl.NumberFormat('en');
  let on = false;
  els.mode.addEventListener('click', () => onMode(!on));
  els.clear.addEventListener('click', () => onClear());
  els.shapes.addEventListener('change', (e) => onShape(e.target.value));
  return {
    get on() { return on; },
    /** The shape a drag draws: 'lasso' or 'rectangle'. */
    get shape() {
      return els.shapes.querySelector('input:checked')?.value === 'rectangle' ? 'rectangle' : 'lasso';
    },
    /** Show selection mode as on or off. */
    setMode(value) {
      on = value;
      els.mode.setAttribute('aria-pressed', String(on));
      els.shapes.hidden = !on;
    },
    /** Show how many items are selected (0: none). */
    showCount(n) {
      els.count.textContent = n ? `${nf.format(n)} selected` : '';
      els.clear.disabled = n === 0;
    },
  };
}
