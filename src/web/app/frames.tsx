/**
 * Physical memory: one cell per frame (or per run of frames on a big machine), coloured by use:
 * kernel, page table, user page, shared user page (reference count above one: copy-on-write or the
 * zero page), free by the order of its buddy block. Frames the call allocated or freed are marked,
 * frames the TLB caches carry a dot; hover names the frame's owners. Below: buddyinfo and the TLB.
 */
import { useLayoutEffect, useRef, useState } from 'preact/hooks';
import { FrameCode, type FramesView, type TlbView } from '../protocol.js';
import { css, FRAME_LEGEND, frameRgb, hex } from './colors.js';
import { memo } from './memo.js';
import { frameInfo, worker } from './store.js';

const WIDTH = 320;
const MAX_H = 440;

/** Cell size in pixels and frames per cell. */
export function gridGeometry(total: number): { cell: number; per: number; cols: number; rows: number } {
  let cell = Math.floor(Math.sqrt((WIDTH * MAX_H) / total));
  cell = Math.max(1, Math.min(12, cell));
  const per = cell === 1 ? Math.max(1, Math.ceil(total / (WIDTH * MAX_H))) : 1;
  const cols = Math.floor(WIDTH / cell);
  const rows = Math.ceil(total / per / cols);
  return { cell, per, cols, rows };
}

/** Which code a cell of several frames shows: anything in use beats free, a table beats a user page. */
const RANK: Record<number, number> = {
  [FrameCode.Shared]: 6,
  [FrameCode.Table]: 5,
  [FrameCode.User]: 4,
  [FrameCode.Zero]: 3,
  [FrameCode.Kernel]: 2,
};

function drawGrid(
  c: HTMLCanvasElement,
  f: FramesView,
  tlbFrames: Set<number>,
  images: { last?: ImageData },
): void {
  const { cell, per, cols, rows } = gridGeometry(f.total);
  if (c.width !== cols * cell || c.height !== rows * cell) {
    c.width = cols * cell;
    c.height = rows * cell;
    c.style.width = `${cols * cell}px`;
    c.style.height = `${rows * cell}px`;
  }
  const g = c.getContext('2d')!;
  // One image reused from draw to draw (every cell is written again below, and putImageData
  // replaces every pixel, the last draw's marks too): half a megabyte less for the collector at
  // each step that changes a frame, and the canvas is not cleared by resizing it to its own size.
  let img = images.last;
  if (img === undefined || img.width !== cols * cell || img.height !== rows * cell) {
    img = g.createImageData(cols * cell, rows * cell);
    images.last = img;
  }
  const gap = cell >= 5 ? 1 : 0;
  for (let i = 0; i * per < f.total; i++) {
    let code = f.codes[i * per];
    for (let k = 1; k < per && i * per + k < f.total; k++) {
      const o = f.codes[i * per + k];
      if ((RANK[o] ?? 0) > (RANK[code] ?? 0) || (RANK[code] === undefined && o < code)) code = o;
    }
    const [r, gr, b] = frameRgb(code);
    const x0 = (i % cols) * cell;
    const y0 = Math.floor(i / cols) * cell;
    for (let y = 0; y < cell - gap; y++) {
      let p = ((y0 + y) * cols * cell + x0) * 4;
      for (let x = 0; x < cell - gap; x++) {
        img.data[p] = r;
        img.data[p + 1] = gr;
        img.data[p + 2] = b;
        img.data[p + 3] = 255;
        p += 4;
      }
    }
  }
  g.putImageData(img, 0, 0);
  const mark = (frame: number, color: string, inset: number) => {
    const i = Math.floor(frame / per);
    const x = (i % cols) * cell;
    const y = Math.floor(i / cols) * cell;
    g.strokeStyle = color;
    g.lineWidth = 1;
    if (cell >= 5)
      g.strokeRect(x + inset + 0.5, y + inset + 0.5, cell - gap - 2 * inset - 1, cell - gap - 2 * inset - 1);
    else {
      g.fillStyle = color;
      g.fillRect(x, y, Math.max(1, cell), Math.max(1, cell));
    }
  };
  for (const fr of f.changed) mark(fr, '#d64541', 0);
  for (const fr of tlbFrames) {
    const i = Math.floor(fr / per);
    if (cell >= 5) {
      g.fillStyle = '#fff';
      g.fillRect((i % cols) * cell + cell / 2 - 1.5, Math.floor(i / cols) * cell + cell / 2 - 1.5, 2, 2);
    }
  }
}

function sameCodes(a: Uint8Array, b: Uint8Array): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

const LEGEND = (
  <div class="legend" style={{ marginTop: '6px' }}>
    {FRAME_LEGEND.map((l) => (
      <span key={l.label}>
        <span class="chip" style={{ background: css(frameRgb(l.code)) }} />
        {l.label}
      </span>
    ))}
    <span>
      <span class="chip" style={{ border: '2px solid #d64541' }} />
      changed by this call
    </span>
  </div>
);

const TlbTable = memo(function TlbTable({ tlb }: { tlb: TlbView }) {
  return (
    <div class="tlb mono" id="tlb">
      {tlb.entries.length === 0 ? (
        <span style={{ color: '#6b7078' }}>
          empty: no user access has gone through the MMU since the tables last changed
        </span>
      ) : (
        <table>
          <tbody>
            {tlb.entries.slice(0, 200).map((e) => (
              <tr key={`${e.root}:${e.page}`}>
                <td>root {hex(e.root)}</td>
                <td>{hex(e.page)}</td>
                <td>→ {hex(e.frame)}</td>
                <td>{e.rights}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
});

export const FramesPanel = memo(function FramesPanel({
  frames,
  tlb,
  pageSize,
}: {
  frames: FramesView;
  tlb: TlbView;
  pageSize: number;
}) {
  const canvas = useRef<HTMLCanvasElement>(null);
  const [hover, setHover] = useState<{ frame: number; x: number; y: number } | null>(null);
  const tlbFrames = new Set(tlb.entries.map((e) => (e.frame - frames.base) / pageSize));
  const drawn = useRef<{ codes: Uint8Array; marks: string } | null>(null);
  const images = useRef<{ last?: ImageData }>({});
  // Drawn before the frame is painted, so that a step is on screen whole in one frame.
  useLayoutEffect(() => {
    const c = canvas.current;
    if (c === null) return;
    // Most calls of a replay change no frame: draw only when something did.
    const marks = `${frames.changed.join(',')}|${[...tlbFrames].join(',')}`;
    const last = drawn.current;
    if (last !== null && last.marks === marks && sameCodes(last.codes, frames.codes)) return;
    drawGrid(c, frames, tlbFrames, images.current);
    drawn.current = { codes: frames.codes, marks };
  }, [frames, tlb]);
  const geo = gridGeometry(frames.total);
  const onMove = (e: MouseEvent) => {
    const r = canvas.current!.getBoundingClientRect();
    const col = Math.floor((e.clientX - r.left) / geo.cell);
    const row = Math.floor((e.clientY - r.top) / geo.cell);
    const frame = (row * geo.cols + col) * geo.per;
    if (col < 0 || col >= geo.cols || frame >= frames.total) return;
    if (hover?.frame !== frame) worker().requestFrame(frame);
    setHover({ frame, x: e.clientX, y: e.clientY });
  };
  const info = frameInfo.value;
  const used = frames.total - frames.free;
  return (
    <div class="panel frames" id="frames" data-total={frames.total} data-free={frames.free}>
      <h2>
        Physical frames{' '}
        <span class="sub">
          {frames.total} frames of {pageSize / 1024} KiB · {used} in use
          {geo.per > 1 ? ` · ${geo.per} frames per pixel` : ''}
        </span>
      </h2>
      <canvas
        ref={canvas}
        id="frames-canvas"
        data-cell={geo.cell}
        data-per={geo.per}
        data-cols={geo.cols}
        onMouseMove={onMove}
        onMouseLeave={() => setHover(null)}
      />
      {LEGEND}
      <table class="stats mono" style={{ marginTop: '6px' }}>
        <tbody>
          <tr>
            <td>page tables</td>
            <td id="count-table">{frames.counts.table}</td>
            <td>user pages</td>
            <td id="count-user">{frames.counts.user}</td>
            <td>shared</td>
            <td id="count-shared">{frames.counts.shared}</td>
            <td>kernel</td>
            <td id="count-kernel">{frames.counts.kernel}</td>
          </tr>
        </tbody>
      </table>
      <div class="mono" style={{ color: '#6b7078' }} title="free blocks per order, as /proc/buddyinfo">
        buddyinfo: {frames.buddy.join(' ')}
      </div>
      <h2 style={{ marginTop: '8px' }}>
        TLB{' '}
        <span class="sub">
          {tlb.entries.length} entries · {tlb.hits} hits · {tlb.misses} misses
        </span>
      </h2>
      <TlbTable tlb={tlb} />
      {hover && info && info.frame === hover.frame ? (
        <div
          class="tooltip"
          style={{ left: `${Math.min(hover.x + 14, window.innerWidth - 420)}px`, top: `${hover.y + 12}px` }}
        >
          {`frame ${info.frame} @ ${hex(info.address)}${geo.per > 1 ? ` (first of ${geo.per})` : ''}\n${info.use}${
            info.freeOrder !== undefined ? `, in a free block of order ${info.freeOrder}` : ''
          }${info.use !== 'free' ? `, refcount ${info.count}` : ''}${info.owners.length ? `\n${info.owners.slice(0, 12).join('\n')}` : ''}`}
        </div>
      ) : null}
    </div>
  );
});
