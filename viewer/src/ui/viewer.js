/**
 * The OpenSeadragon mosaic: tiles, hover outline + tooltip, click/tap to select, the dimming
 * mask for filtered-out cells, the search highlight, the keyboard focus cell, and for exploring: the
 * arrangement on screen (its pyramid, its groups' labels), a hotspot's and the selection's outlines and
 * the lasso or rectangle being drawn. Hit-testing goes pointer -> viewport -> image coordinates -> cell ->
 * item through the pure helpers in cells.js; keyboard movement through keyboard.js. The grid and the
 * cell maps are always the index's, which main.js switches with the arrangement (arrangement.js).
 *
 * Overlays cost O(1) DOM nodes however big the collection: the mask is a cols x rows canvas
 * stretched over the mosaic, everything else drawn one screen-sized canvas redrawn with the view
 * (search outlines only for the cells in sight, as one path), and the hover/selected/focus outlines one
 * <div> each.
 */
import OpenSeadragon from 'openseadragon';
import { visibleGroups } from '../arrangement.js';
import { cellAt, cellRect, itemAtCell, itemsOutline } from '../cells.js';
import { maskPixels, matchingPositions } from '../filter.js';
import { arrowDelta, clampedCell, freeArea, intersects, moveCell, panToShow } from '../keyboard.js';
import { rectanglePolygon } from '../selection.js';

const HIGHLIGHT = '#ff6ad5'; // search outlines (CSS --highlight); a dark line underneath for contrast
const SELECTION = '#7dff8a'; // the selection's outline (CSS --selection)
const HOTSPOT = '#ffd34d'; // a hotspot's outline (CSS --accent)
const MIN_OUTLINE_PX = 3; // screen pixels a cell needs for a search outline
const MIN_LASSO_STEP = 3; // screen pixels between two corners of a lasso: a drag makes hundreds
const GROUP_FONT = '600 13px system-ui, -apple-system, "Segoe UI", Roboto, sans-serif';
const KEYBOARD_HELP = 'Zoomable mosaic of the collection. Arrow keys move between images, Enter opens the '
  + 'focused image, Escape closes it; plus and minus zoom, 0 shows the whole mosaic. In selection mode, '
  + 'dragging draws a lasso (with Shift a rectangle) and Space adds or removes the focused image.';

/**
 * @param {HTMLElement} container  element OSD fills
 * @param {object} index           from data.js createIndex()
 * @param {{onHover(item:number, event:{clientX:number, clientY:number, pointerType:string}|null):void,
 *          onSelect(item:number):void, onFocusCell(col:number, row:number):void,
 *          onActivate(item:number):void, onViewChange():void, onOpen():void, onReady():void,
 *          onLasso(polygon:number[], started:number):void, onToggleItem(item:number):void,
 *          covered():DOMRect|null}} handlers
 *   item is -1 for empty cells / outside; onFocusCell: the keyboard focus cell moved;
 *   onActivate: Enter on the focus cell; onViewChange: a pan/zoom came to rest; onOpen: the mosaic opened
 *   (again after each switch of arrangement); onReady: its first tile is on screen (or it failed to open:
 *   the page goes on without it); onLasso: a lasso or rectangle was drawn in selection mode (its corners in
 *   grid units, x0, y0, x1, y1, ...; `started`: when the pointer was released); onToggleItem: Space on the
 *   focus cell in selection mode; covered: the client rectangle of whatever floats over the mosaic now (the
 *   details panel), or null.
 */
export function createViewer(container, index, handlers) {
  const { onHover, onSelect, onFocusCell, onActivate, onViewChange, onOpen, onReady, onLasso, onToggleItem,
    covered } = handlers;
  const viewer = OpenSeadragon({
    element: container,
    tileSources: index.arrangement.dzi, // relative to the page, like the rest of the site
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
  mask.hidden = true;
  const maskCtx = mask.getContext('2d');
  let maskImage = null;
  let maskFlags = null; // what the mask shows, redrawn when the arrangement changes

  // Search, selection and hotspot outlines, group labels and the lasso being drawn: a canvas the size of
  // the viewer, above the mask, redrawn on every view update.
  const overlay = document.createElement('canvas');
  overlay.className = 'mosaic-overlay';
  overlay.setAttribute('aria-hidden', 'true');
  const overlayCtx = overlay.getContext('2d');
  let highlightFlags = null;
  // Regions outlined whatever the zoom: {items, outline (grid units, cells.js itemsOutline), arrangement}.
  const regions = { selection: null, hotspot: null };

  let image = null; // the TiledImage, once the DZI has opened (null again while another arrangement opens)
  let lastPointer = null; // {x, y} in viewer element pixels, plus client coords for the tooltip
  let hoverCell = -1;
  let selectedItem = -1;
  let focus = null; // {col, row} of the keyboard focus cell, or null
  let focusedItem = -1; // the item in it when it was set: the focus follows it to another arrangement
  let focusShown = false;
  let selecting = null; // selection mode: {shape: 'lasso' | 'rectangle'}, else null
  let drawing = null; // the lasso being drawn: {points: [x, y, ...] in grid units, rectangle: boolean}
  const pending = []; // view changes asked for before the mosaic opened

  viewer.addHandler('open', () => {
    image = viewer.world.getItemAt(0);
    const { grid } = index;
    drawMask();
    const full = image.imageToViewportRectangle(0, 0, grid.cols * grid.cellWidth, grid.rows * grid.cellHeight);
    viewer.addOverlay({ element: mask, location: full });
    // In the overlay layer, above the mask and below the cell outlines. OSD wraps each overlay
    // element in a positioned <div>: go after that wrapper, not inside it.
    let layer = mask;
    while (layer.parentElement && layer.parentElement !== viewer.overlaysContainer) layer = layer.parentElement;
    layer.after(overlay);
    drawOverlay();
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
  viewer.addHandler('update-viewport', () => drawOverlay());
  viewer.addHandler('resize', () => drawOverlay());

  /** Put the mask's flags (matches per item) into its canvas, a pixel per cell of the grid on screen. */
  function drawMask() {
    const { cols, rows } = index.grid;
    if (mask.width !== cols || mask.height !== rows) { // another arrangement's grid
      mask.width = cols;
      mask.height = rows;
      maskImage = null;
    }
    mask.hidden = !maskFlags;
    if (!maskFlags) return;
    maskImage ??= new ImageData(cols, rows); // one buffer, rewritten: a million cells are 4 MB
    maskPixels(index, maskFlags, undefined, maskImage.data);
    maskCtx.putImageData(maskImage, 0, 0);
  }

  /** Screen geometry of the grid now: the pixel of the mosaic's top left corner and a cell's size. */
  function gridOnScreen() {
    const { grid } = index;
    const vp = viewer.viewport;
    const o = vp.pixelFromPoint(image.imageToViewportCoordinates(0, 0), true);
    const e = vp.pixelFromPoint(image.imageToViewportCoordinates(grid.cellWidth, grid.cellHeight), true);
    return { o, cw: e.x - o.x, ch: e.y - o.y };
  }

  /**
   * Redraw the overlay canvas: the groups' labels, the search outlines, the selection's and a hotspot's
   * outline, and the lasso being drawn. Cost: the groups, the cells in sight (search outlines, only while
   * they are at least MIN_OUTLINE_PX wide) and the regions' outlines.
   */
  function drawOverlay() {
    if (!image) return;
    const groups = index.arrangement.groups;
    const w = viewer.canvas.clientWidth, h = viewer.canvas.clientHeight;
    const busy = highlightFlags || regions.selection || regions.hotspot || drawing || groups.length;
    if (!busy || !w || !h) {
      overlay.hidden = true;
      return;
    }
    overlay.hidden = false;
    const dpr = window.devicePixelRatio || 1;
    if (overlay.width !== Math.round(w * dpr) || overlay.height !== Math.round(h * dpr)) {
      overlay.width = Math.round(w * dpr);
      overlay.height = Math.round(h * dpr);
      overlay.style.width = `${w}px`;
      overlay.style.height = `${h}px`;
    }
    const ctx = overlayCtx;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, w, h);
    const screen = gridOnScreen();
    if (highlightFlags) drawSearchOutlines(ctx, screen, w, h);
    for (const [name, colour] of [['selection', SELECTION], ['hotspot', HOTSPOT]]) {
      const region = regionOutline(name);
      if (region) strokeSegments(ctx, screen, region, colour);
    }
    if (groups.length) drawGroupLabels(ctx, screen, groups, w, h);
    if (drawing) drawLasso(ctx, screen);
  }

  /** Outline the visible cells of highlighted items (the search's). */
  function drawSearchOutlines(ctx, { o, cw, ch }, w, h) {
    const { grid } = index;
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

  /** A region's outline in the arrangement on screen, computed once per arrangement. */
  function regionOutline(name) {
    const region = regions[name];
    if (!region) return null;
    if (region.arrangement !== index.arrangement) {
      region.outline = itemsOutline(index, region.items);
      region.arrangement = index.arrangement;
    }
    return region.outline;
  }

  /** Stroke segments (grid units) in `colour` over a dark line, so they read on any picture. */
  function strokeSegments(ctx, { o, cw, ch }, segments, colour) {
    ctx.beginPath();
    for (let k = 0; k < segments.length; k += 4) {
      ctx.moveTo(o.x + segments[k] * cw, o.y + segments[k + 1] * ch);
      ctx.lineTo(o.x + segments[k + 2] * cw, o.y + segments[k + 3] * ch);
    }
    ctx.lineCap = 'square';
    ctx.lineWidth = 5;
    ctx.strokeStyle = 'rgba(0, 0, 0, 0.8)';
    ctx.stroke();
    ctx.lineWidth = 2;
    ctx.strokeStyle = colour;
    ctx.stroke();
  }

  /**
   * Each group's label at the top left of the part of it in sight: across where the group is wide enough,
   * else up its left edge where it is tall enough (a narrow column of the date arrangement), else none.
   */
  function drawGroupLabels(ctx, { o, cw, ch }, groups, w, h) {
    const toScreen = (c, r) => ({ x: o.x + c * cw, y: o.y + r * ch });
    ctx.font = GROUP_FONT;
    ctx.textBaseline = 'top';
    for (const g of visibleGroups(groups, toScreen, { width: w, height: h })) {
      const text = g.label;
      const width = ctx.measureText(text).width + 10;
      const across = width <= g.width && g.height >= 22;
      if (!across && !(g.width >= 16 && g.height >= width + 4)) continue;
      ctx.save();
      ctx.translate(g.x + 2, across ? g.y + 2 : g.y + 2 + width);
      if (!across) ctx.rotate(-Math.PI / 2); // reads upwards, as a book's spine
      ctx.fillStyle = 'rgba(12, 14, 20, 0.78)';
      ctx.fillRect(0, 0, width, 20);
      ctx.fillStyle = '#eceff3';
      ctx.fillText(text, 5, 4);
      ctx.restore();
    }
  }

  /** The lasso (or rectangle) being drawn: a dashed white line on a black one. */
  function drawLasso(ctx, { o, cw, ch }) {
    const points = drawing.rectangle ? rectangleOf(drawing.points) : drawing.points;
    if (points.length < 4) return;
    ctx.beginPath();
    ctx.moveTo(o.x + points[0] * cw, o.y + points[1] * ch);
    for (let k = 2; k < points.length; k += 2) ctx.lineTo(o.x + points[k] * cw, o.y + points[k + 1] * ch);
    ctx.closePath();
    ctx.fillStyle = 'rgba(125, 255, 138, 0.12)';
    ctx.fill();
    ctx.setLineDash([]);
    ctx.lineWidth = 3;
    ctx.strokeStyle = '#000';
    ctx.stroke();
    ctx.setLineDash([6, 4]);
    ctx.lineWidth = 1.5;
    ctx.strokeStyle = '#fff';
    ctx.stroke();
    ctx.setLineDash([]);
  }

  /** The larger side (grid units) of the box round the polygon [x0, y0, x1, y1, ...]. */
  function spread(polygon) {
    let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
    for (let k = 0; k < polygon.length; k += 2) {
      x0 = Math.min(x0, polygon[k]); x1 = Math.max(x1, polygon[k]);
      y0 = Math.min(y0, polygon[k + 1]); y1 = Math.max(y1, polygon[k + 1]);
    }
    return Math.max(x1 - x0, y1 - y0);
  }

  /** The rectangle between the first and the last point drawn. */
  function rectangleOf(points) {
    const n = points.length;
    return rectanglePolygon({ x: points[0], y: points[1] }, { x: points[n - 2], y: points[n - 1] });
  }

  /** Run fn now if the mosaic is open, else once it is. */
  function whenOpen(fn) {
    if (image) fn();
    else pending.push(fn);
  }

  /** Image coordinates of a point given in viewer-element pixels. */
  function imagePoint(pixel) {
    const vp = viewer.viewport.pointFromPixel(new OpenSeadragon.Point(pixel.x, pixel.y), true);
    return image.viewportToImageCoordinates(vp);
  }

  /** Item and cell under a point given in viewer-element pixels. */
  function hitTest(pixel) {
    if (!image) return { cell: -1, item: -1, col: -1, row: -1 };
    const pt = imagePoint(pixel);
    const { grid } = index;
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

  // Selection mode: a drag draws a lasso (a rectangle with Shift or the rectangle shape) instead of panning;
  // the wheel, pinch and keys still zoom and pan. Corners are kept in grid units, where cells are 1 x 1.
  const gridPoint = (pixel) => {
    const pt = imagePoint(pixel);
    return [pt.x / index.grid.cellWidth, pt.y / index.grid.cellHeight];
  };
  viewer.addHandler('canvas-press', (e) => {
    if (!selecting || !image) return;
    drawing = { points: gridPoint(e.position), last: e.position,
      rectangle: selecting.shape === 'rectangle' || !!e.originalEvent?.shiftKey };
  });
  viewer.addHandler('canvas-drag', (e) => {
    if (!selecting) return;
    e.preventDefaultAction = true;
    if (!drawing || !image) return;
    if (e.originalEvent?.shiftKey) drawing.rectangle = true;
    if (Math.hypot(e.position.x - drawing.last.x, e.position.y - drawing.last.y) < MIN_LASSO_STEP) return;
    drawing.points.push(...gridPoint(e.position));
    drawing.last = e.position;
    drawOverlay();
  });
  viewer.addHandler('canvas-drag-end', (e) => {
    if (selecting) e.preventDefaultAction = true; // no flick after a lasso
  });
  viewer.addHandler('canvas-release', (e) => {
    if (!drawing) return;
    const started = performance.now();
    const shape = drawing;
    drawing = null;
    if (e.position && image) shape.points.push(...gridPoint(e.position));
    const polygon = shape.rectangle ? rectangleOf(shape.points) : shape.points;
    // A press without a drag is a click (canvas-click opens the item); a shape needs some size.
    if (polygon.length >= 6 && spread(polygon) > 0.05) onLasso(polygon, started);
    drawOverlay();
  });

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
    } else if (ev.key === 'Enter' || (ev.key === ' ' && selecting)) {
      e.preventDefaultAction = true;
      ev.preventDefault();
      const start = focusShown && focus ? focus : startCell();
      if (!focusShown) setFocus(start, true);
      const item = itemAtCell(index, start.col, start.row);
      if (ev.key === 'Enter') onActivate(item);
      else if (item >= 0) onToggleItem(item);
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
    const r = cellRect(col, row, index.grid);
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
    if (item >= 0 && index.col[item] >= 0) placeBox(selectedBox, index.col[item], index.row[item]);
    else removeBox(selectedBox);
  }

  function setFocus(cell, shown) {
    focus = cell;
    focusedItem = cell ? itemAtCell(index, cell.col, cell.row) : -1;
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
    return clampedCell(c.x, c.y, index.grid);
  }

  function moveFocus(key) {
    if (!image) return;
    const next = moveCell(startCell(), key, index.grid);
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
      if (index.col[item] < 0) return; // no cell in this arrangement
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
      maskFlags = active ? matches : null;
      drawMask();
    },
    /** Outline the cells of flagged items (search results); null removes the outlines. */
    setHighlight(flags) {
      highlightFlags = flags;
      drawOverlay();
    },
    /** Outline the region of the selected items (flags per item), whatever the zoom; null removes it. */
    setSelection(flags) {
      regions.selection = flags ? { items: matchingPositions(flags), outline: null, arrangement: null } : null;
      drawOverlay();
    },
    /** Outline the region of `items` (a hotspot's, positions); null removes it. */
    showRegion(items) {
      regions.hotspot = items ? { items, outline: null, arrangement: null } : null;
      drawOverlay();
    },
    /** Fly to the cells' box [col0, row0, col1, row1] (inclusive) with a cell of margin around it. */
    flyToBox([c0, r0, c1, r1]) {
      whenOpen(() => {
        const a = boxLocation(c0 - 1, r0 - 1), b = boxLocation(c1 + 1, r1 + 1);
        viewer.viewport.fitBounds(new OpenSeadragon.Rect(a.x, a.y, b.x + b.width - a.x, b.y + b.height - a.y));
        viewer.viewport.applyConstraints();
      });
    },
    /**
     * Turn selection mode on ({shape: 'lasso' | 'rectangle'}) or off (null): while on, a drag draws a lasso
     * instead of panning and Space on the focus cell adds or removes its item.
     */
    setSelecting(mode) {
      selecting = mode;
      if (!mode) drawing = null;
      container.classList.toggle('selecting', !!mode);
      drawOverlay();
    },
    /** Drop a lasso being drawn (Escape); true when there was one. */
    cancelLasso() {
      if (!drawing) return false;
      drawing = null;
      drawOverlay();
      return true;
    },
    /**
     * Show the arrangement the index has switched to (main.js applied its layout): open its pyramid at its
     * home view and redraw the mask, outlines and focus for its cells once it is on screen. `started`: when
     * the visitor asked, for the `arrangement-switch` measure (to the first tile of the new pyramid drawn).
     */
    showArrangement(started = performance.now()) {
      image = null; // hit tests and outlines wait for the new pyramid
      drawing = null;
      hoverCell = -1; // the same cell index is another item now: place the hover outline anew
      removeBox(hoverBox);
      if (focus) {
        const shown = focusShown && focusedItem >= 0 && index.col[focusedItem] >= 0;
        focus = shown ? { col: index.col[focusedItem], row: index.row[focusedItem] } : null;
        focusShown = shown;
      }
      viewer.addOnceHandler('tile-drawn', () => {
        performance.measure('arrangement-switch', { start: started, end: performance.now() });
      });
      viewer.open(index.arrangement.dzi);
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
