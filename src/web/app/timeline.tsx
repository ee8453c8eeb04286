/**
 * The timeline: every memory call of the log, one lane per process, coloured by verdict. Click or
 * drag to go to a call, the wheel zooms around the pointer; the scrubber and the keyboard (arrows,
 * Shift for tens, n / p for the next / previous difference, Home / End) move along it.
 */
import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import { type Timeline, Verdict } from '../protocol.js';
import { VERDICT_COLOR, VERDICT_NAME } from './colors.js';
import { findVerdict, position, worker } from './store.js';

const LANE_H = 18;
const AXIS_H = 14;
/** Which verdict shows when several share a pixel: a difference must never hide. */
const PRIORITY: Record<number, number> = {
  [Verdict.Differs]: 4,
  [Verdict.Error]: 3,
  [Verdict.Match]: 2,
  [Verdict.Unchecked]: 1,
};

/** The calls drawn for one window and width, kept so that moving the cursor only redraws the cursor. */
interface Base {
  key: string;
  t: Timeline;
  image: HTMLCanvasElement;
}

function draw(
  canvas: HTMLCanvasElement,
  w: number,
  t: Timeline,
  lo: number,
  hi: number,
  at: number,
  cache: { base?: Base },
): void {
  const dpr = window.devicePixelRatio || 1;
  const lanes = Math.max(1, t.lanes.length);
  const h = lanes * LANE_H + AXIS_H;
  // Not laid out (yet, or for a moment while the page is resized): nothing to draw into.
  if (w <= 0) return;
  const key = `${lo}:${hi}:${w}:${dpr}`;
  if (cache.base?.key !== key || cache.base.t !== t) {
    const image = document.createElement('canvas');
    image.width = Math.round(w * dpr);
    image.height = Math.round(h * dpr);
    drawCalls(image, t, lo, hi, w, dpr);
    cache.base = { key, t, image };
  }
  if (canvas.width !== cache.base.image.width || canvas.height !== cache.base.image.height) {
    canvas.width = cache.base.image.width;
    canvas.height = cache.base.image.height;
    canvas.style.height = `${h}px`;
  }
  const g = canvas.getContext('2d')!;
  g.setTransform(1, 0, 0, 1, 0, 0);
  g.drawImage(cache.base.image, 0, 0);
  if (at >= lo && at < hi) {
    const x = ((at - lo + 0.5) / Math.max(1, hi - lo)) * w;
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.fillStyle = '#1d1f23';
    g.fillRect(Math.round(x) - 1, 0, 2, lanes * LANE_H);
  }
}

/** Every call of the window [lo, hi): the worst verdict per pixel column and lane, lane names, the axis. */
function drawCalls(
  canvas: HTMLCanvasElement,
  t: Timeline,
  lo: number,
  hi: number,
  w: number,
  dpr: number,
): void {
  const lanes = Math.max(1, t.lanes.length);
  const h = lanes * LANE_H + AXIS_H;
  const g = canvas.getContext('2d')!;
  g.setTransform(dpr, 0, 0, dpr, 0, 0);
  g.clearRect(0, 0, w, h);
  g.font = '10px system-ui, sans-serif';
  for (let l = 0; l < lanes; l++) {
    g.fillStyle = l % 2 ? '#f4f5f7' : '#fafafb';
    g.fillRect(0, l * LANE_H, w, LANE_H);
  }
  const span = Math.max(1, hi - lo);
  const cols = Math.max(1, Math.floor(w));
  // The worst verdict per pixel column and lane.
  const best = new Uint8Array(cols * lanes);
  for (let i = lo; i < hi; i++) {
    const c = Math.min(cols - 1, Math.floor(((i - lo) / span) * cols));
    const k = c * lanes + t.lane[i];
    const p = PRIORITY[t.verdict[i]];
    if (p > best[k]) best[k] = p;
  }
  const byPriority = [0, Verdict.Unchecked, Verdict.Match, Verdict.Error, Verdict.Differs];
  const colW = Math.max(1, w / Math.min(cols, span));
  for (let c = 0; c < cols; c++) {
    for (let l = 0; l < lanes; l++) {
      const p = best[c * lanes + l];
      if (p === 0) continue;
      g.fillStyle = VERDICT_COLOR[byPriority[p] as Verdict];
      const y = l * LANE_H + (p === 4 ? 1 : 4);
      g.fillRect(
        c,
        y,
        Math.max(1, Math.min(colW - (colW > 3 ? 1 : 0), w - c)),
        p === 4 ? LANE_H - 2 : LANE_H - 8,
      );
    }
  }
  if (t.lanes.length > 1) {
    for (let l = 0; l < lanes; l++) {
      const label = t.lanes[l].label;
      g.fillStyle = 'rgba(255,255,255,0.85)';
      g.fillRect(0, l * LANE_H + 2, g.measureText(label).width + 6, LANE_H - 4);
      g.fillStyle = '#1d1f23';
      g.fillText(label, 3, l * LANE_H + 12);
    }
  }
  // Axis: call numbers.
  g.fillStyle = '#6b7078';
  const y = lanes * LANE_H + 11;
  const step = niceStep(span / Math.max(1, w / 90));
  for (let v = Math.ceil(lo / step) * step; v < hi; v += step) {
    const x = ((v - lo) / span) * w;
    g.fillRect(x, lanes * LANE_H, 1, 3);
    g.fillText(String(v + 1), x + 2, y);
  }
}

function niceStep(raw: number): number {
  const p = 10 ** Math.floor(Math.log10(Math.max(1, raw)));
  for (const m of [1, 2, 5, 10]) if (m * p >= raw) return m * p;
  return 10 * p;
}

export function TimelineView({ t }: { t: Timeline }) {
  const canvas = useRef<HTMLCanvasElement>(null);
  const [win, setWin] = useState<[number, number]>([0, t.count]);
  const dragging = useRef(false);
  const cache = useRef<{ base?: Base }>({});
  const at = position.value;

  // Keep the current call in the window (before the frame is painted, as everything a step draws).
  useLayoutEffect(() => {
    const [lo, hi] = win;
    if (at < lo || at >= hi) {
      const span = hi - lo;
      const nlo = Math.max(0, Math.min(t.count - span, at - Math.floor(span / 2)));
      setWin([nlo, nlo + span]);
    }
  }, [at]);

  // What a redraw needs, for the resize observer's (which outlives the steps).
  const redraw = useRef(() => {});
  redraw.current = () => {
    const c = canvas.current;
    if (c !== null) draw(c, width.current, t, win[0], win[1], position.value, cache.current);
  };
  // The canvas's laid-out width, as the resize observer last reported it: reading clientWidth
  // while drawing a step would force a layout of the whole page before the frame's own.
  const width = useRef(0);
  useLayoutEffect(() => {
    const c = canvas.current;
    if (c === null) return;
    // Redrawing changes the canvas's height: do it outside the observer's callback, and only for a
    // new width, so that the observer never loops.
    const ro = new ResizeObserver((entries) => {
      const w = entries[entries.length - 1].contentRect.width;
      if (w === width.current) return;
      width.current = w;
      requestAnimationFrame(() => redraw.current());
    });
    ro.observe(c);
    return () => ro.disconnect();
  }, []);
  useLayoutEffect(() => redraw.current(), [t, win, at]);

  const indexAt = (e: MouseEvent) => {
    const c = canvas.current!;
    const r = c.getBoundingClientRect();
    const f = (e.clientX - r.left) / r.width;
    return Math.floor(win[0] + f * (win[1] - win[0]));
  };

  const onWheel = (e: WheelEvent) => {
    e.preventDefault();
    const [lo, hi] = win;
    const mid = indexAt(e);
    const span = hi - lo;
    const next = Math.max(
      Math.min(20, t.count),
      Math.min(t.count, Math.round(span * (e.deltaY > 0 ? 1.25 : 0.8))),
    );
    const f = (mid - lo) / span;
    const nlo = Math.max(0, Math.min(t.count - next, Math.round(mid - f * next)));
    setWin([nlo, nlo + next]);
  };

  const next = (dir: 1 | -1) => {
    const i = findVerdict(t, worker().at, dir, Verdict.Differs);
    if (i >= 0) worker().seek(i);
  };

  return (
    <section class="timeline">
      <div class="controls">
        <button type="button" title="previous call (←)" onClick={() => worker().seek(worker().at - 1)}>
          ◀
        </button>
        <button type="button" title="next call (→)" onClick={() => worker().seek(worker().at + 1)}>
          ▶
        </button>
        <button type="button" id="prev-diff" title="previous difference (p)" onClick={() => next(-1)}>
          ◀ difference
        </button>
        <button type="button" id="next-diff" title="next difference (n)" onClick={() => next(1)}>
          next difference ▶
        </button>
        <span class="where" id="where">
          {t.kind === 'demo' ? 'step' : 'call'} {at + 1} / {t.count}
          {t.kind === 'replay' ? ` · line ${t.line[at]}` : ''}
        </span>
        <span class="legend">
          {[Verdict.Match, Verdict.Error, Verdict.Differs, Verdict.Unchecked].map((v) => (
            <span key={v}>
              <span class="chip" style={{ background: VERDICT_COLOR[v as Verdict] }} />
              {VERDICT_NAME[v as Verdict]}
            </span>
          ))}
          {win[1] - win[0] < t.count ? (
            <button type="button" onClick={() => setWin([0, t.count])}>
              zoom out
            </button>
          ) : null}
        </span>
      </div>
      <canvas
        ref={canvas}
        id="timeline-canvas"
        onMouseDown={(e) => {
          dragging.current = true;
          worker().seek(indexAt(e));
        }}
        onMouseMove={(e) => {
          if (dragging.current) worker().seek(indexAt(e));
        }}
        onMouseUp={() => {
          dragging.current = false;
        }}
        onMouseLeave={() => {
          dragging.current = false;
        }}
        onWheel={onWheel}
      />
      <input
        type="range"
        id="scrubber"
        aria-label="position"
        min={0}
        max={Math.max(0, t.count - 1)}
        value={at}
        onInput={(e) => worker().seek(Number((e.target as HTMLInputElement).value))}
      />
    </section>
  );
}

/** The keyboard: stepping and jumping, wherever the focus is (except in a text field). */
export function useTimelineKeys(t: Timeline | null): void {
  useEffect(() => {
    if (t === null) return;
    const onKey = (e: KeyboardEvent) => {
      const target = e.target as HTMLElement | null;
      // Fields handle their own keys (the scrubber steps on arrows by itself).
      if (target && /^(INPUT|SELECT|TEXTAREA)$/.test(target.tagName)) return;
      const w = worker();
      // From the position last asked for: keys pressed faster than steps are drawn all count.
      const at = w.at;
      let handled = true;
      if (e.key === 'ArrowRight') w.seek(at + (e.shiftKey ? 10 : 1));
      else if (e.key === 'ArrowLeft') w.seek(at - (e.shiftKey ? 10 : 1));
      else if (e.key === 'Home') w.seek(0);
      else if (e.key === 'End') w.seek(t.count - 1);
      else if (e.key === 'n') {
        const i = findVerdict(t, at, 1, Verdict.Differs);
        if (i >= 0) w.seek(i);
      } else if (e.key === 'p') {
        const i = findVerdict(t, at, -1, Verdict.Differs);
        if (i >= 0) w.seek(i);
      } else handled = false;
      if (handled) e.preventDefault();
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [t]);
}
