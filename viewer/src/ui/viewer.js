/**
 * The OpenSeadragon mosaic: tiles, hover outline + tooltip, click/tap to select, and the
 * dimming mask for filtered-out cells. Hit-testing goes pointer -> viewport -> image
 * coordinates -> cell -> item through the pure helpers in cells.js.
 */
import OpenSeadragon from 'openseadragon';
import { cellAt, cellRect, itemAtCell } from '../cells.js';
import { maskPixels } from '../filter.js';

/**
 * @param {HTMLElement} container  element OSD fills
 * @param {object} index           from buildIndex()
 * @param {{onHover(item:number, event:{clientX:number, clientY:number, pointerType:string}|null):void,
 *          onSelect(item:number):void}} handlers  item is -1 for empty cells / outside
 */
export function createViewer(container, index, { onHover, onSelect }) {
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

  const hoverBox = overlayBox('cell-outline cell-hover');
  const selectedBox = overlayBox('cell-outline cell-selected');
  const mask = document.createElement('canvas');
  mask.className = 'cell-mask';
  mask.width = grid.cols;
  mask.height = grid.rows;
  mask.hidden = true;
  const maskCtx = mask.getContext('2d');

  let image = null; // the TiledImage, once the DZI has opened
  let lastPointer = null; // {x, y} in viewer element pixels, plus client coords for the tooltip
  let hoverCell = -1;
  let selectedItem = -1;

  viewer.addHandler('open', () => {
    image = viewer.world.getItemAt(0);
    const full = image.imageToViewportRectangle(0, 0, grid.cols * grid.cellWidth, grid.rows * grid.cellHeight);
    viewer.addOverlay({ element: mask, location: full });
    if (selectedItem >= 0) showSelected(selectedItem);
  });
  viewer.addHandler('open-failed', (e) => {
    container.dispatchEvent(new CustomEvent('viewer-error', { bubbles: true, detail: e.message || 'Could not open the mosaic' }));
  });

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
    onSelect(hit.item);
  });

  function overlayBox(className) {
    const el = document.createElement('div');
    el.className = className;
    el.setAttribute('aria-hidden', 'true');
    return el;
  }
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
      const px = maskPixels(index, matches);
      maskCtx.putImageData(new ImageData(px, grid.cols, grid.rows), 0, 0);
    },
    destroy() {
      tracker.destroy();
      viewer.destroy();
    },
  };
}
