/**
 * The address space at the current step, drawn like procmap: a strip with high addresses at the
 * top, each region to scale (or by the log of its size), long unmapped stretches compressed to a
 * break that says how much is missing, colours by kind, the call's change outlined; beside it the
 * regions as /proc/PID/maps lists them. Hover shows the maps line, VmFlags and resident pages; a
 * click picks an address for the page-table walk.
 */
import { useRef, useState } from 'preact/hooks';
import type { RegionView, SpaceView } from '../protocol.js';
import { hex, KIND_COLOR, KINDS, sizeText } from './colors.js';
import { memo } from './memo.js';
import { address, worker } from './store.js';

const H = 600;
const W = 92;
const BREAK_PX = 14;
const MIN_PX = 2;

type Piece =
  | { kind: 'region'; r: RegionView; start: number; end: number }
  | { kind: 'removed'; start: number; end: number }
  | { kind: 'gap'; start: number; end: number; compressed: boolean };

export interface StripLayout {
  pieces: Array<Piece & { y: number; h: number }>;
}

/**
 * Places the pieces of the strip, top = highest address. Gaps longer than a fiftieth of what is
 * mapped become fixed-height breaks; the rest shares the height linearly (or by log2 of size).
 */
export function layoutStrip(space: SpaceView, scale: 'linear' | 'log'): StripLayout {
  const items: Piece[] = [];
  for (const r of space.regions) items.push({ kind: 'region', r, start: r.start, end: r.end });
  for (const [start, end] of space.removed) items.push({ kind: 'removed', start, end });
  items.sort((a, b) => a.start - b.start);
  const mapped = items.reduce((n, p) => n + (p.end - p.start), 0);
  const pieces: Piece[] = [];
  for (let i = 0; i < items.length; i++) {
    if (i > 0 && items[i].start > items[i - 1].end) {
      const start = items[i - 1].end;
      const end = items[i].start;
      pieces.push({ kind: 'gap', start, end, compressed: end - start > mapped / 50 });
    }
    pieces.push(items[i]);
  }
  const weight = (p: Piece) => (scale === 'log' ? Math.log2((p.end - p.start) / 4096) + 1 : p.end - p.start);
  let fixed = 0;
  let total = 0;
  for (const p of pieces) {
    if (p.kind === 'gap' && p.compressed) fixed += BREAK_PX;
    else total += weight(p);
  }
  const avail = Math.max(40, H - fixed - pieces.length * MIN_PX);
  let y = 0;
  const out: StripLayout['pieces'] = [];
  // Top = highest address: walk from the end.
  for (let i = pieces.length - 1; i >= 0; i--) {
    const p = pieces[i];
    const h =
      p.kind === 'gap' && p.compressed ? BREAK_PX : MIN_PX + (total > 0 ? (weight(p) / total) * avail : 0);
    out.push({ ...p, y, h });
    y += h;
  }
  return { pieces: out };
}

function perms(r: RegionView): string {
  return r.maps.split(/\s+/)[1] ?? '';
}

function nameOf(r: RegionView): string {
  return r.maps.split(/\s+/).slice(5).join(' ');
}

function Tooltip({ r, x, y }: { r: RegionView; x: number; y: number }) {
  return (
    <div
      class="tooltip"
      style={{ left: `${Math.min(x + 14, window.innerWidth - 660)}px`, top: `${y + 12}px` }}
    >
      {`${r.maps}\nVmFlags: ${r.vmFlags}\n${sizeText(r.end - r.start)}, ${r.resident} resident page${r.resident === 1 ? '' : 's'} · ${r.kind}${r.changed ? ' · changed by this call' : ''}`}
    </div>
  );
}

type Hover = { r: RegionView; x: number; y: number } | null;
type SetHover = (h: Hover) => void;

/** Asks for the walk of the page at fraction `frac` of `r` (0: its first page). */
function pick(r: RegionView, pageSize: number, frac = 0): void {
  const pages = (r.end - r.start) / pageSize;
  const page = Math.min(pages - 1, Math.max(0, Math.floor(frac * pages)));
  worker().requestWalk(r.start + page * pageSize);
}

/** One region of the strip; drawn again only when it, its place or its selection changes. */
const StripRegion = memo(function StripRegion({
  r,
  y,
  h,
  selected,
  pageSize,
  setHover,
}: {
  r: RegionView;
  y: number;
  h: number;
  selected: boolean;
  pageSize: number;
  setHover: SetHover;
}) {
  return (
    // biome-ignore lint/a11y/noStaticElementInteractions: the list beside the strip offers the same choice
    <rect
      class="region"
      data-start={r.start}
      data-end={r.end}
      data-kind={r.kind}
      x={4}
      y={y}
      width={W - 8}
      height={Math.max(1, h - 0.5)}
      fill={KIND_COLOR[r.kind]}
      stroke={r.changed ? '#ffd400' : selected ? '#1d1f23' : 'none'}
      stroke-width={r.changed ? 3 : 1.5}
      onMouseMove={(e) => setHover({ r, x: e.clientX, y: e.clientY })}
      onMouseLeave={() => setHover(null)}
      onClick={(e) => {
        const box = (e.target as SVGRectElement).getBoundingClientRect();
        // Top of the box is the region's end.
        pick(r, pageSize, 1 - (e.clientY - box.top) / Math.max(1, box.height));
      }}
    />
  );
});

/** One row of the maps list; rendered again only when its region, selection or hover changes. */
const RegionRow = memo(function RegionRow({
  r,
  selected,
  hovered,
  pageSize,
  setHover,
}: {
  r: RegionView;
  selected: boolean;
  hovered: boolean;
  pageSize: number;
  setHover: SetHover;
}) {
  const cls = [r.changed ? 'changed' : '', hovered ? 'hover' : '', selected ? 'selected' : ''].join(' ');
  return (
    <tr
      class={`region-row ${cls}`}
      data-maps={r.maps}
      data-resident={r.resident}
      data-kind={r.kind}
      onMouseMove={(e) => setHover({ r, x: e.clientX, y: e.clientY })}
      onMouseLeave={() => setHover(null)}
      onClick={() => pick(r, pageSize)}
    >
      <td>
        <span class="chip" style={{ background: KIND_COLOR[r.kind] }} />
        {r.start.toString(16)}-{r.end.toString(16)}
      </td>
      <td>{perms(r)}</td>
      <td style={{ textAlign: 'right' }}>{sizeText(r.end - r.start)}</td>
      <td style={{ textAlign: 'right' }} title="resident pages">
        {r.resident}
      </td>
      <td title={nameOf(r)}>{nameOf(r)}</td>
    </tr>
  );
});

/**
 * Keys for the regions of a step: a region the last step had keeps its key (a call that adds or
 * removes a region patches only that one), and a new region takes over the key of one that is
 * gone (after a jump, where most regions are new, their elements are patched rather than removed
 * and created again).
 */
function stableKeys(
  last: Map<number, number>,
  regions: readonly RegionView[],
  next: { n: number },
): Map<number, number> {
  const keys = new Map<number, number>();
  const taken = new Set<number>();
  for (const r of regions) {
    const k = last.get(r.start);
    if (k !== undefined) {
      keys.set(r.start, k);
      taken.add(k);
    }
  }
  // Gone keys in address order, given to the new regions in address order: the elements keep
  // their order, so none has to be moved in the page (a move costs more than a patch).
  const gone: number[] = [];
  for (const k of last.values()) if (!taken.has(k)) gone.push(k);
  let g = 0;
  for (const r of regions) if (!keys.has(r.start)) keys.set(r.start, g < gone.length ? gone[g++] : next.n++);
  return keys;
}

const HATCH = (
  <defs>
    <pattern id="hatch" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">
      <rect width="6" height="6" fill="#fff" />
      <line x1="0" y1="0" x2="0" y2="6" stroke="#d64541" stroke-width="2" />
    </pattern>
  </defs>
);

const COLUMNS = (
  <colgroup>
    <col style={{ width: '212px' }} />
    <col style={{ width: '40px' }} />
    <col style={{ width: '64px' }} />
    <col style={{ width: '40px' }} />
    <col />
  </colgroup>
);

export const AddressSpaceView = memo(function AddressSpaceView({
  space,
  pageSize,
}: {
  space: SpaceView | null;
  pageSize: number;
}) {
  const [scale, setScale] = useState<'linear' | 'log'>('linear');
  const [hover, setHover] = useState<Hover>(null);
  const keyState = useRef({ last: new Map<number, number>(), next: { n: 0 } });
  if (space === null) {
    return (
      <div class="panel">
        <h2>Address space</h2>
        <div class="empty">no process at this step</div>
      </div>
    );
  }
  const layout = layoutStrip(space, scale);
  const keys = stableKeys(keyState.current.last, space.regions, keyState.current.next);
  keyState.current.last = keys;
  const chosen = address.value;
  const isChosen = (r: RegionView) => chosen !== null && chosen >= r.start && chosen < r.end;
  const rows: Array<{ start: number; end: number; r?: RegionView }> = [];
  for (const r of space.regions) rows.push({ start: r.start, end: r.end, r });
  for (const [start, end] of space.removed) rows.push({ start, end });
  rows.sort((a, b) => b.start - a.start);
  return (
    <div class="panel">
      <h2>
        Address space <span class="sub">pid {space.pid}</span>
        <span class="sub">
          {space.mapCount} mappings · {space.residentPages} resident pages · {space.tablePages} table pages ·
          root {hex(space.root)}
        </span>
      </h2>
      <div class="legend" style={{ marginBottom: '6px' }}>
        {KINDS.map((k) => (
          <span key={k}>
            <span class="chip" style={{ background: KIND_COLOR[k] }} />
            {k}
          </span>
        ))}
        <span>
          <span class="chip" style={{ background: '#ffd400' }} />
          changed by this call
        </span>
        <select
          aria-label="scale"
          value={scale}
          onChange={(e) => setScale((e.target as HTMLSelectElement).value as 'linear' | 'log')}
        >
          <option value="linear">to scale</option>
          <option value="log">log of size</option>
        </select>
      </div>
      <div class="space">
        <svg width={W} height={H} id="strip" role="img" aria-label="address space strip">
          {HATCH}
          {layout.pieces.map((p) => {
            // Regions keyed as stableKeys says, gaps and unmapped ranges by address.
            if (p.kind === 'gap') {
              return p.compressed ? (
                <g key={`gap ${p.start}`}>
                  <line
                    x1={8}
                    x2={W - 8}
                    y1={p.y + p.h / 2}
                    y2={p.y + p.h / 2}
                    stroke="#c4c7cc"
                    stroke-dasharray="3 3"
                  />
                  <text x={W / 2} y={p.y + p.h / 2 - 2} font-size="9" text-anchor="middle" fill="#6b7078">
                    {sizeText(p.end - p.start)}
                  </text>
                </g>
              ) : null;
            }
            if (p.kind === 'removed') {
              return (
                <rect
                  key={`removed ${p.start}`}
                  class="removed"
                  x={4}
                  y={p.y}
                  width={W - 8}
                  height={Math.max(1, p.h - 0.5)}
                  fill="url(#hatch)"
                >
                  <title>{`${hex(p.start)}-${hex(p.end)} unmapped by this call`}</title>
                </rect>
              );
            }
            return (
              <StripRegion
                key={keys.get(p.r.start)}
                r={p.r}
                y={p.y}
                h={p.h}
                selected={isChosen(p.r)}
                pageSize={pageSize}
                setHover={setHover}
              />
            );
          })}
        </svg>
        <div class="regions">
          <table class="mono" id="regions">
            {COLUMNS}
            <tbody>
              {rows.map((row) => {
                const r = row.r;
                if (r === undefined) {
                  return (
                    <tr key={`removed ${row.start}`} class="removed">
                      <td colSpan={5}>
                        {row.start.toString(16)}-{row.end.toString(16)} unmapped by this call (
                        {sizeText(row.end - row.start)})
                      </td>
                    </tr>
                  );
                }
                return (
                  <RegionRow
                    key={keys.get(r.start)}
                    r={r}
                    selected={isChosen(r)}
                    hovered={hover?.r === r}
                    pageSize={pageSize}
                    setHover={setHover}
                  />
                );
              })}
            </tbody>
          </table>
        </div>
      </div>
      {hover ? <Tooltip r={hover.r} x={hover.x} y={hover.y} /> : null}
    </div>
  );
});
