/**
 * The OpenSeadragon mosaic: tiles, hover outline + tooltip, click/tap to select, the dimming
 * mask for filtered-out cells, the search highlight, and the keyboard focus cell. Hit-testing
 * goes pointer -> viewport -> image coordinates -> cell -> item through the pure helpers in
 * cells.js; keyboard movement through keyboard.js.
 *
 * Overlays cost O(1) DOM nodes however big the collection: the mask is a cols x rows canvas
 * stretched over the mosaic, the search highlight one screen-sized canvas redrawn with the view
 * (only the cells in sight, as one path), and the hover/selected/focus outlines one <div> each.
 */
import OpenSeadragon from 'openseadragon';
import { cellAt, cellRect, itemAtCell } from '../cells.js';
import { maskPixels } from '../filter.js';
import { arrowDelta, clampedCell, freeArea, intersects, moveCell, panToShow } from '../keyboard.js';

const HIGHLIGHT = '#ff6ad5'; // search outlines (CSS --highlight); a dark line underneath for contrast
const MIN_OUTLINE_PX = 3; // screen pixels a cell needs for a search outline
const KEYBOARD_HELP = 'Zoomable mosaic of the collection. Arrow keys move between images, Enter opens the '
  + 'focused image, Escape closes it; plus and minus zoom, 0 shows the whole mosaic.';

/**
 * @param {HTMLElement} container  element OSD fills
 * @param {object} index           from buildIndex()
 * @param {{onHover(item:number, event:{clientX:number, clientY:number, pointerType:string}|null):void,
 *          onSelect(item:number):void, onFocusCell(col:number, row:number):void,
 *          onActivate(item:number):void, onViewChange():void, onOpen():void, onReady():void,
 *          covered():DOMRect|null}} handlers
 *   item is -1 for empty cells / outside; onFocusCell: the keyboard focus cell moved;
 *   onActivate: Enter on the focus cell; onViewChange: a pan/zoom came to rest; onOpen: the mosaic opened;
 *   onReady: its first tile is on screen (or it failed to open: the page goes on without it);
 *   covered: the client rectangle of whatever floats over the mosaic now (the details panel), or null.
 */
export function createViewer(container, index, handlers) {
  const { onHover, onSelect, onFocusCell, onActivate, onViewChange, onOpen, onReady, covered } = handlers;
  const { grid } = index;
  const viewer = OpenSeadragon({
    element: container,
    tileSources: index.collection.tiles.dzi, // relative to the page, like the rest of the site
    prefixUrl: 'assets/osd-images/',
    drawer: 'canvas', // plain 2D canvas: no WebGL readback stalls, and the mosaic needs no WebGL effects
    showNavigator: true,
    navigatorSizeRatio: 0.15,
    navigatorPosition: 'BOTTOM_LEFT',
    visibilityRatio: 0.5,
    constrainDuringPan: true,
    maxZoomPixelRatio: 3,
    // A click selects a cell instead of zooming; double-click/scroll/pinch still zoom.
    gestureSettingsMouse: { clickToZoom: false, dblClickToZoom: true },
    gestureSettingsTouch: { clickToZoom: false, dblClickToZoom: true },
    gestureSettingsPen: { clickToZoom: false, dblClickToZoom: true },
  });
  // The focusable element is OSD's canvas <div>; label it for screen readers. The drawing
  // <canvas> inside can take focus too (not in the tab order), so its keys reach the same handler.
  viewer.canvas.setAttribute('role', 'application');
  viewer.canvas.setAttribute('aria-label', KEYBOARD_HELP);
  viewer.canvas.setAttribute('aria-roledescription', 'mosaic');
  if (viewer.drawer && viewer.drawer.canvas instanceof HTMLElement) viewer.drawer.canvas.tabIndex = -1;
  reachableButtons(viewer);

  const hoverBox = overlayBox('cell-outline cell-hover');
  const selectedBox = overlayBox('cell-outline cell-selected');
  const focusBox = overlayBox('cell-outline cell-focus');
  const mask = document.createElement('canvas');
  mask.className = 'cell-mask';
  mask.width = grid.cols;
  mask.height = grid.rows;
  mask.hidden = true;
  const maskCtx = mask.getContext('2d');
  let maskImage = null;

  // Search highlight: a canvas the size of the viewer, above the mask, redrawn on every view update.
  const highlight = document.createElement('canvas');
  highlight.className = 'cell-highlight';
  highlight.setAttribute('aria-hidden', 'true');
  const highlightCtx = highlight.getContext('2d');
  let highlightFlags = null;

  let image = null; // the TiledImage, once the DZI has opened
  let lastPointer = null; // {x, y} in viewer element pixels, plus client coords for the tooltip
  let hoverCell = -1;
  let selectedItem = -1;
  let focus = null; // {col, row} of the keyboard focus cell, or null
  let focusShown = false;
  const pending = []; // view changes asked for before the mosaic opened

  viewer.addHandler('open', () => {
    image = viewer.world.getItemAt(0);
    const full = image.imageToViewportRectangle(0, 0, grid.cols * grid.cellWidth, grid.rows * grid.cellHeight);
    viewer.addOverlay({ element: mask, location: full });
    // In the overlay layer, above the mask and below the cell outlines. OSD wraps each overlay
    // element in a positioned <div>: go after that wrapper, not inside it.
    let layer = mask;
    while (layer.parentElement && layer.parentElement !== viewer.overlaysContainer) layer = layer.parentElement;
    layer.after(highlight);
    drawHighlight();
    if (selectedItem >= 0) showSelected(selectedItem);
    if (focus && focusShown) placeBox(focusBox, focus.col, focus.row);
    while (pending.length) pending.shift()();
    onOpen();
  });
  // The mosaic is on screen once the first tile has been painted (a coarse level at first).
  viewer.addOnceHandler('tile-drawn', () => {
    performance.mark('viewer-ready');
    onReady();
  });
  viewer.addHandler('open-failed', (e) => {
    onReady();
    container.dispatchEvent(new CustomEvent('viewer-error', { bubbles: true, detail: e.message || 'Could not open the mosaic' }));
  });
  viewer.addHandler('animation-finish', () => onViewChange());
  viewer.addHandler('update-viewport', () => { if (highlightFlags) drawHighlight(); });
  viewer.addHandler('resize', () => drawHighlight());

  /** Outline the visible cells of highlighted items, in screen pixels (cost: cells in sight, at least
   * MIN_OUTLINE_PX wide each). */
  function drawHighlight() {
    if (!image) return;
    const w = viewer.canvas.clientWidth, h = viewer.canvas.clientHeight;
    const dpr = window.devicePixelRatio || 1;
    if (!highlightFlags || !w || !h) {
      highlight.hidden = true;
      return;
    }
    highlight.hidden = false;
    if (highlight.width !== Math.round(w * dpr) || highlight.height !== Math.round(h * dpr)) {
      highlight.width = Math.round(w * dpr);
      highlight.height = Math.round(h * dpr);
      highlight.style.width = `${w}px`;
      highlight.style.height = `${h}px`;
    }
    const ctx = highlightCtx;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, w, h);
    const vp = viewer.viewport;
    const o = vp.pixelFromPoint(image.imageToViewportCoordinates(0, 0), true);
    const e = vp.pixelFromPoint(image.imageToViewportCoordinates(grid.cellWidth, grid.cellHeight), true);
    const cw = e.x - o.x, ch = e.y - o.y;
    // Cells too small for an outline: the mask alone shows the result (and a million outlines would stall).
    if (!(cw >= MIN_OUTLINE_PX && ch >= MIN_OUTLINE_PX)) return;
    const c0 = Math.max(0, Math.floor(-o.x / cw)), c1 = Math.min(grid.cols - 1, Math.floor((w - o.x) / cw));
    const r0 = Math.max(0, Math.floor(-o.y / ch)), r1 = Math.min(grid.rows - 1, Math.floor((h - o.y) / ch));
    ctx.beginPath();
    let any = false;
    for (let r = r0; r <= r1; r++) {
      for (let c = c0; c <= c1; c++) {
        const i = index.cellItem[r * grid.cols + c];
        if (i < 0 || !highlightFlags[i]) continue;
        ctx.rect(o.x + c * cw + 1, o.y + r * ch + 1, cw - 2, ch - 2);
        any = true;
      }
    }
    if (!any) return;
    const small = Math.min(cw, ch) < 8;
    if (!small) {
      ctx.lineWidth = 4;
      ctx.strokeStyle = 'rgba(0, 0, 0, 0.75)';
      ctx.stroke();
    }
    ctx.lineWidth = small ? 1 : 2;
    ctx.strokeStyle = HIGHLIGHT;
    ctx.stroke();
  }

  /** Run fn now if the mosaic is open, else once it is. */
  function whenOpen(fn) {
    if (image) fn();
    else pending.push(fn);
  }

  /** Item and cell under a point given in viewer-element pixels. */
  function hitTest(pixel) {
    if (!image) return { cell: -1, item: -1, col: -1, row: -1 };
    const vp = viewer.viewport.pointFromPixel(new OpenSeadragon.Point(pixel.x, pixel.y), true);
    const pt = image.viewportToImageCoordinates(vp);
    const c = cellAt(pt.x, pt.y, grid);
    if (!c) return { cell: -1, item: -1, col: -1, row: -1 };
    return { cell: c.row * grid.cols + c.col, item: itemAtCell(index, c.col, c.row), ...c };
  }

  function updateHover() {
    const hit = lastPointer ? hitTest(lastPointer) : { item: -1, cell: -1 };
    if (hit.item >= 0) {
      if (hit.cell !== hoverCell) placeBox(hoverBox, hit.col, hit.row);
      container.classList.add('over-item');
    } else {
      removeBox(hoverBox);
      container.classList.remove('over-item');
    }
    hoverCell = hit.item >= 0 ? hit.cell : -1;
    onHover(hit.item, hit.item >= 0 && lastPointer && !lastPointer.dragging ? lastPointer : null);
  }

  const tracker = new OpenSeadragon.MouseTracker({
    element: viewer.canvas,
    moveHandler(e) {
      const src = e.originalEvent || {};
      lastPointer = {
        x: e.position.x, y: e.position.y,
        clientX: src.clientX, clientY: src.clientY,
        pointerType: e.pointerType || src.pointerType || 'mouse',
        dragging: (e.buttons || 0) !== 0,
      };
      updateHover();
    },
    leaveHandler() {
      lastPointer = null;
      updateHover();
    },
  });
  // Zooming with the wheel moves the image under a still pointer: keep the outline honest.
  viewer.addHandler('animation', () => { if (lastPointer) updateHover(); });

  viewer.addHandler('canvas-click', (e) => {
    if (!e.quick) return; // a drag that ended, not a click
    e.preventDefaultAction = true;
    const hit = hitTest(e.position);
    // Arrow keys continue from the clicked cell; its outline only shows once they are used.
    if (hit.col >= 0) setFocus({ col: hit.col, row: hit.row }, false);
    onSelect(hit.item);
  });

  // Keyboard on the mosaic: arrows move the focus cell (instead of OSD's panning), Enter opens
  // it. OSD keeps +/-/=/_ (zoom) and 0 (home); numpad and layout variants are added here.
  viewer.addHandler('canvas-key', (e) => {
    const ev = e.originalEvent;
    if (!ev || ev.ctrlKey || ev.altKey || ev.metaKey) return;
    if (arrowDelta(ev.key) && !ev.shiftKey) {
      e.preventDefaultAction = true;
      ev.preventDefault();
      moveFocus(ev.key);
    } else if (ev.key === 'Enter') {
      e.preventDefaultAction = true;
      ev.preventDefault();
      const start = focusShown && focus ? focus : startCell();
      if (!focusShown) setFocus(start, true);
      onActivate(itemAtCell(index, start.col, start.row));
    } else if ((ev.key === '+' || ev.key === '=') && ev.code !== 'Equal') {
      e.preventDefaultAction = true;
      zoomBy(viewer.zoomPerScroll);
    } else if ((ev.key === '-' || ev.key === '_') && ev.code !== 'Minus') {
      e.preventDefaultAction = true;
      zoomBy(1 / viewer.zoomPerScroll);
    } else if (ev.key === '0' && ev.code !== 'Digit0') {
      e.preventDefaultAction = true;
      viewer.viewport.goHome();
    }
  });

  function zoomBy(factor) {
    viewer.viewport.zoomBy(factor);
    viewer.viewport.applyConstraints();
  }

  function overlayBox(className) {
    const el = document.createElement('div');
    el.className = className;
    el.setAttribute('aria-hidden', 'true');
    return el;
  }
  /** Viewport rectangle of a cell (OSD units). */
  function boxLocation(col, row) {
    const r = cellRect(col, row, grid);
    return image.imageToViewportRectangle(r.x, r.y, r.width, r.height);
  }
  function placeBox(el, col, row) {
    if (!image) return;
    if (viewer.getOverlayById(el)) viewer.updateOverlay(el, boxLocation(col, row));
    else viewer.addOverlay({ element: el, location: boxLocation(col, row) });
  }
  function removeBox(el) {
    if (viewer.getOverlayById(el)) viewer.removeOverlay(el);
  }
  function showSelected(item) {
    if (item >= 0) placeBox(selectedBox, index.col[item], index.row[item]);
    else removeBox(selectedBox);
  }

  function setFocus(cell, shown) {
    focus = cell;
    focusShown = shown;
    if (shown && cell) placeBox(focusBox, cell.col, cell.row);
    else removeBox(focusBox);
  }

  /**
   * The part of the view (viewport units) not hidden by a floating panel; `current` selects the
   * bounds on screen now, else where the running animation ends.
   */
  function visibleBounds(current) {
    const b = viewer.viewport.getBounds(current);
    const box = container.getBoundingClientRect();
    if (!box.width || !box.height) return b;
    const free = freeArea(box, covered && covered());
    return new OpenSeadragon.Rect(
      b.x + ((free.left - box.left) / box.width) * b.width,
      b.y + ((free.top - box.top) / box.height) * b.height,
      ((free.right - free.left) / box.width) * b.width,
      ((free.bottom - free.top) / box.height) * b.height,
    );
  }

  /**
   * Where an arrow press moves from: the shown focus cell; else the (hidden) focus cell left by a
   * click if it is in view; else the open item; else the cell in the middle of the visible area.
   */
  function startCell() {
    if (!image) return { col: 0, row: 0 };
    if (focus && focusShown) return focus;
    const view = visibleBounds(false);
    if (focus && intersects(boxLocation(focus.col, focus.row), view)) return focus;
    if (selectedItem >= 0) return { col: index.col[selectedItem], row: index.row[selectedItem] };
    const c = image.viewportToImageCoordinates(view.getCenter());
    return clampedCell(c.x, c.y, grid);
  }

  function moveFocus(key) {
    if (!image) return;
    const next = moveCell(startCell(), key, grid);
    setFocus(next, true);
    // Pan just enough to keep the cell (and half a cell around it) in view.
    const rect = boxLocation(next.col, next.row);
    const shift = panToShow(rect, visibleBounds(false), rect.width / 2);
    if (shift.x || shift.y) viewer.viewport.panBy(new OpenSeadragon.Point(shift.x, shift.y));
    onFocusCell(next.col, next.row);
  }

  /**
   * Pan/zoom so the item's cell is in the middle with about two cells of context around it:
   * the middle of the viewer, or of its uncovered part when a panel hides the middle (phones).
   */
  function goToItem(item, immediately = false) {
    whenOpen(() => {
      const vp = viewer.viewport;
      const r = boxLocation(index.col[item], index.row[item]);
      const around = new OpenSeadragon.Rect(r.x - 2 * r.width, r.y - 2 * r.height, 5 * r.width, 5 * r.height);
      vp.fitBounds(around, immediately);
      const box = container.getBoundingClientRect();
      const cover = covered && covered();
      const cx = box.left + box.width / 2, cy = box.top + box.height / 2;
      if (cover && box.width && cx >= cover.left && cx <= cover.right && cy >= cover.top && cy <= cover.bottom) {
        const free = freeArea(box, cover);
        const b = vp.getBounds(false);
        const dx = (((free.left + free.right) / 2 - cx) / box.width) * b.width;
        const dy = (((free.top + free.bottom) / 2 - cy) / box.height) * b.height;
        const c = around.getCenter();
        vp.panTo(new OpenSeadragon.Point(c.x - dx, c.y - dy), immediately);
      }
      vp.applyConstraints(immediately);
    });
  }

  return {
    osd: viewer,
    /** Outline an item as the selected one (-1 clears). */
    setSelected(item) {
      selectedItem = item;
      showSelected(item);
    },
    /** Dim cells whose item does not match; `active` false removes all dimming. */
    setMask(matches, active) {
      mask.hidden = !active;
      if (!active) return;
      maskImage ??= new ImageData(grid.cols, grid.rows); // one buffer, rewritten: a million cells are 4 MB
      maskPixels(index, matches, undefined, maskImage.data);
      maskCtx.putImageData(maskImage, 0, 0);
    },
    /** Outline the cells of flagged items (search results); null removes the outlines. */
    setHighlight(flags) {
      highlightFlags = flags;
      drawHighlight();
    },
    /** Show the keyboard focus cell on an item (e.g. a search result); -1 hides it. */
    focusItem(item) {
      if (item < 0) setFocus(focus, false);
      else whenOpen(() => setFocus({ col: index.col[item], row: index.row[item] }, true));
    },
    /** Move DOM focus to the mosaic. */
    focus() {
      viewer.canvas.focus({ preventScroll: true });
    },
    goToItem,
    /** The view as {x, y, z}: centre in viewport coordinates (image width = 1) and zoom. */
    getView() {
      const c = viewer.viewport.getCenter(true);
      return { x: c.x, y: c.y, z: viewer.viewport.getZoom(true) };
    },
    /** Jump to a view {x, y, z} (once the mosaic is open), kept within OSD's constraints. */
    setView(view, immediately = true) {
      whenOpen(() => {
        viewer.viewport.zoomTo(view.z, null, immediately);
        viewer.viewport.panTo(new OpenSeadragon.Point(view.x, view.y), immediately);
        viewer.viewport.applyConstraints(immediately);
      });
    },
    /** Is the view (its target) the home view, the whole mosaic? */
    isHome() {
      if (!image) return true;
      const vp = viewer.viewport;
      const z = vp.getZoom(false), home = vp.getHomeZoom();
      const c = vp.getCenter(false), hc = vp.getHomeBounds().getCenter();
      const tol = 1e-4 / Math.max(1, z);
      return Math.abs(z - home) <= home * 1e-3 && Math.abs(c.x - hc.x) <= tol && Math.abs(c.y - hc.y) <= tol;
    },
    get isOpen() { return !!image; },
    destroy() {
      tracker.destroy();
      viewer.destroy();
    },
  };
}

/**
 * OSD's zoom, home and full-page buttons answer Enter but are left out of the tab order, and they
 * fade out until a pointer comes near. Put them in the tab order as named buttons, keep the
 * controls shown while one has the focus, and let Space press them too.
 */
function reachableButtons(viewer) {
  for (const button of viewer.buttonGroup ? viewer.buttonGroup.buttons : []) {
    const { element } = button;
    element.tabIndex = 0;
    element.setAttribute('role', 'button');
    element.setAttribute('aria-label', button.tooltip);
    element.addEventListener('focus', () => viewer.setControlsEnabled(true));
    element.addEventListener('blur', () => viewer.setControlsEnabled(false));
    element.addEventListener('keydown', (event) => {
      if (event.key !== ' ') return;
      event.preventDefault();
      button.raiseEvent('click', { originalEvent: event });
      button.raiseEvent('release', { originalEvent: event });
    });
  }
}
