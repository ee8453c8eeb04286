/**
 * What keeps a step cheap to draw: every step's view arrives from the worker as a fresh copy, so
 * the parts equal to the previous step's are swapped for the previous objects (structural
 * sharing), and panels and rows are memoized on the identity of their inputs, so that only what
 * the call changed is rendered and laid out again.
 */
import { Component, type FunctionComponent, h } from 'preact';
import type { RegionView, SpaceView, StepView } from '../protocol.js';

function sameBytes(a: ArrayBufferView, b: ArrayBufferView): boolean {
  if (a.constructor !== b.constructor || a.byteLength !== b.byteLength) return false;
  const n = a.byteLength;
  if (a.byteOffset % 4 === 0 && b.byteOffset % 4 === 0 && n % 4 === 0) {
    const x = new Int32Array(a.buffer, a.byteOffset, n / 4);
    const y = new Int32Array(b.buffer, b.byteOffset, n / 4);
    for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
    return true;
  }
  const x = new Uint8Array(a.buffer, a.byteOffset, n);
  const y = new Uint8Array(b.buffer, b.byteOffset, n);
  for (let i = 0; i < n; i++) if (x[i] !== y[i]) return false;
  return true;
}

/**
 * `next`, with every part deep-equal to the same part of `prev` replaced by `prev`'s (`prev`
 * itself when all of it is equal). For the plain data that crosses postMessage: primitives,
 * arrays, typed arrays and plain objects.
 */
export function shareEqual<T>(prev: T, next: T): T {
  if (Object.is(prev, next)) return prev;
  if (typeof prev !== 'object' || typeof next !== 'object' || prev === null || next === null) return next;
  if (ArrayBuffer.isView(prev) || ArrayBuffer.isView(next)) {
    return ArrayBuffer.isView(prev) && ArrayBuffer.isView(next) && sameBytes(prev, next) ? prev : next;
  }
  if (Array.isArray(prev) !== Array.isArray(next)) return next;
  if (Array.isArray(next)) {
    const p = prev as unknown[];
    let same = p.length === next.length;
    const out = next.map((v, i) => {
      const s = i < p.length ? shareEqual(p[i], v) : v;
      if (s !== p[i]) same = false;
      return s;
    });
    return (same ? prev : out) as T;
  }
  const p = prev as Record<string, unknown>;
  const n = next as Record<string, unknown>;
  const keys = Object.keys(n);
  let same = keys.length === Object.keys(p).length;
  const out: Record<string, unknown> = {};
  for (const k of keys) {
    const s = k in p ? shareEqual(p[k], n[k]) : n[k];
    if (s !== p[k]) same = false;
    out[k] = s;
  }
  return (same ? prev : out) as T;
}

/** The regions of `next`, each one equal to the previous step's region at the same start reused. */
function shareRegions(prev: readonly RegionView[], next: RegionView[]): RegionView[] {
  const byStart = new Map(prev.map((r) => [r.start, r]));
  let same = prev.length === next.length;
  const out = next.map((r, i) => {
    const old = byStart.get(r.start);
    const s = old === undefined ? r : shareEqual(old, r);
    if (s !== prev[i]) same = false;
    return s;
  });
  return same ? (prev as RegionView[]) : out;
}

/** `next` sharing with `prev` what did not change (regions are matched by start address). */
export function shareStep(prev: StepView | null, next: StepView): StepView {
  if (prev === null) return next;
  let space: SpaceView | null = next.space;
  if (prev.space !== null && next.space !== null) {
    space = shareEqual(prev.space, {
      ...next.space,
      regions: shareRegions(prev.space.regions, next.space.regions),
    });
  }
  return shareEqual(prev, { ...next, space });
}

function shallowDiffers(a: object, b: object): boolean {
  const x = a as Record<string, unknown>;
  const y = b as Record<string, unknown>;
  for (const k in x) if (k !== '__source' && !(k in y)) return true;
  for (const k in y) if (k !== '__source' && x[k] !== y[k]) return true;
  return false;
}

/**
 * `render` as a component that renders again only when one of its props is no longer the same
 * (by identity), or when a signal it reads changes (the signals integration sees to that).
 */
export function memo<P extends object>(render: FunctionComponent<P>): FunctionComponent<P> {
  class Memo extends Component<P> {
    override shouldComponentUpdate(next: P): boolean {
      return shallowDiffers(this.props, next);
    }
    render(props: P) {
      return h(render, props);
    }
  }
  return Memo as unknown as FunctionComponent<P>;
}
