/**
 * What a failed call must leave as it was, as a structured snapshot that can be compared whole or
 * over an address range: the calling task's VMAs, present page-table entries, guard markers, pages
 * given up with MADV_FREE, the pages of the shmem objects it maps, its break and counters, and the
 * kernel-wide free frames and commit charge.
 */
import type { Kernel, Task } from 'levitate-mm';

/** One VMA with every attribute that decides what it maps and whether it merges. */
export interface VmaRecord {
  start: number;
  end: number;
  flags: number;
  pgoff: number;
  /** Identity of the mapped object (0: anonymous) and of the anonymous identity (0: none yet). */
  file: number;
  anon: number;
  name: string;
  droppable: boolean;
  /** Anonymous memory (no object, or private /dev/zero): a move of it never faulted takes a new pgoff. */
  anonymous: boolean;
  /** Left unmerged with the VMA just below it (a boundary Linux does not merge). */
  unmergedBelow: boolean;
}

export interface SpaceState {
  vmas: VmaRecord[];
  /** The address ranges whose page-table entries were captured (null: all). */
  ranges: readonly (readonly [number, number])[] | null;
  /** Present leaves in address order: va, frame, rights, three numbers each. */
  leaves: number[];
  /**
   * Guard markers as runs in address order: start and end of each, two numbers per run, adjacent
   * runs joined (a guard over a 64 GiB reservation is one run, not 16 million pages).
   */
  guards: number[];
  /** MADV_FREE pages in address order: va and the frame given up, two numbers each. */
  lazyFree: number[];
  /** Object identity -> page offset -> frame, for every object the task maps. */
  objects: Map<number, Map<number, number>>;
  counters: Record<string, number>;
}

/** Numbers objects (shmem objects, anonymous identities) in the order a run first meets them. */
export class Identities {
  private readonly ids = new WeakMap<object, number>();
  private next = 1;

  of(o: object | null): number {
    if (o === null) return 0;
    let id = this.ids.get(o);
    if (id === undefined) {
      id = this.next++;
      this.ids.set(o, id);
    }
    return id;
  }
}

/**
 * The task's state. `ranges` limits the page-table entries captured to those address ranges (a
 * call's arguments name where it may act); everything else is captured whole.
 */
export function captureSpace(
  kernel: Kernel,
  task: Task,
  ids: Identities,
  ranges: readonly (readonly [number, number])[] | null = null,
): SpaceState {
  const space = task.mm;
  const vmas: VmaRecord[] = [];
  const objects = new Map<number, Map<number, number>>();
  for (const v of space.vmas) {
    const file = ids.of(v.file);
    vmas.push({
      start: v.start,
      end: v.end,
      flags: v.flags,
      pgoff: v.pgoff,
      file,
      anon: ids.of(v.anon),
      name: v.name,
      droppable: v.droppable,
      anonymous: v.anonymous,
      unmergedBelow: v.unmergedWith !== null && v.unmergedWith.end === v.start,
    });
    if (v.file !== null && !objects.has(file)) objects.set(file, new Map(v.file.pages));
  }
  const leaves: number[] = [];
  const { ram, format } = kernel;
  const visit = (e: number, va: number) => {
    const lo = ram.readLo(e as never);
    const hi = ram.readHi(e as never);
    leaves.push(va, format.address(lo, hi), format.userRights(lo, hi));
  };
  for (const [start, end] of ranges === null ? [[0, kernel.geometry.vaSpan] as const] : mergeRanges(ranges))
    space.pageTable.visitLeaves(start, end, visit);
  const lazyFree: number[] = [];
  for (const [va, frame] of [...space.lazyFree].sort((a, b) => a[0] - b[0])) lazyFree.push(va, frame);
  return {
    vmas,
    ranges,
    leaves,
    guards: joinedRuns(space.guards.runsIn(0, Number.MAX_SAFE_INTEGER)),
    lazyFree,
    objects,
    counters: {
      brk: space.brk,
      startBrk: space.startBrk,
      totalVm: space.totalVm,
      dataVm: space.dataVm,
      stackVm: space.stackVm,
      execVm: space.execVm,
      accountedVm: space.accountedVm,
      freeFrames: kernel.frames.freePages,
      committed: kernel.accounting.committed,
    },
  };
}

const hex = (n: number) => `0x${n.toString(16)}`;

/** Sorted, disjoint ranges covering the given ones. */
function mergeRanges(ranges: readonly (readonly [number, number])[]): [number, number][] {
  const sorted = ranges.filter(([s, e]) => e > s).sort((a, b) => a[0] - b[0]);
  const out: [number, number][] = [];
  for (const [s, e] of sorted) {
    const last = out.at(-1);
    if (last !== undefined && s <= last[1]) last[1] = Math.max(last[1], e);
    else out.push([s, e]);
  }
  return out;
}

function formatVma(v: VmaRecord): string {
  const name = v.name === '' ? '' : ` ${v.name}`;
  const drop = v.droppable ? ' droppable' : '';
  const apart = v.unmergedBelow ? ' unmerged below' : '';
  return `${hex(v.start)}-${hex(v.end)} flags ${hex(v.flags)} pgoff ${hex(v.pgoff)} file ${v.file} anon ${v.anon}${name}${drop}${apart}`;
}

/** Whether two VMA records agree in everything but where they are (start, end, pgoff). */
function sameAttributes(a: VmaRecord, b: VmaRecord): boolean {
  return (
    a.flags === b.flags &&
    a.file === b.file &&
    a.anon === b.anon &&
    a.name === b.name &&
    a.droppable === b.droppable &&
    a.unmergedBelow === b.unmergedBelow
  );
}

/** The VMAs of [lo, hi), clipped to it, with neighbours that differ only by a boundary joined. */
function clippedVmas(vmas: readonly VmaRecord[], lo: number, hi: number, pageSize: number): VmaRecord[] {
  const out: VmaRecord[] = [];
  // An empty range holds nothing (not a zero-length piece of the VMA around it).
  if (lo >= hi) return out;
  for (const v of vmas) {
    if (v.start >= hi) break;
    if (v.end <= lo) continue;
    const start = Math.max(v.start, lo);
    const piece = {
      ...v,
      start,
      end: Math.min(v.end, hi),
      pgoff: v.pgoff + (start - v.start) / pageSize,
      unmergedBelow: v.unmergedBelow && start === v.start,
    };
    const prev = out.at(-1);
    if (
      prev !== undefined &&
      prev.end === piece.start &&
      prev.pgoff + (prev.end - prev.start) / pageSize === piece.pgoff &&
      sameAttributes(prev, piece)
    ) {
      prev.end = piece.end;
    } else {
      out.push(piece);
    }
  }
  return out;
}

function inRange(list: readonly number[], stride: number, lo: number, hi: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < list.length; i += stride) {
    if (list[i] < lo || list[i] >= hi) continue;
    out.push(
      list
        .slice(i, i + stride)
        .map(hex)
        .join(' '),
    );
  }
  return out;
}

/** Describes how two lists differ: the first entries that are not common to both. */
function listDiff(what: string, a: readonly string[], b: readonly string[], out: string[]): void {
  const sa = new Set(a);
  const sb = new Set(b);
  const gone = a.filter((x) => !sb.has(x));
  const added = b.filter((x) => !sa.has(x));
  if (gone.length === 0 && added.length === 0 && a.length === b.length) return;
  const show = (xs: string[]) => xs.slice(0, 4).join('; ') + (xs.length > 4 ? `; … (${xs.length})` : '');
  out.push(`${what}: was [${show(gone)}], now [${show(added)}]`);
}

export interface CompareOptions {
  /** Compare only addresses in [lo, hi) (VMAs clipped), and none of the kernel-wide counters. */
  range?: readonly [number, number];
  /** Counters allowed to differ. */
  ignoreCounters?: readonly string[];
  /** Leaves, MADV_FREE marks and guard markers of the pages in [lo, hi) are compared by the caller. */
  skipPages?: readonly [number, number];
  /** VMAs may have gained an anonymous identity (a fault gave them their first page). */
  anonMayAppear?: boolean;
  /** Pages may have been added to the shmem objects. */
  objectPagesMayAppear?: boolean;
  /** Leave the VMAs out (the caller allows them to change). */
  skipVmas?: boolean;
  /** VMAs may have been left unmerged with the one below (a split kept when a later step failed). */
  unmergedMayAppear?: boolean;
}

/** The differences between two snapshots, in words; [] when equal under `options`. */
export function compareStates(
  before: SpaceState,
  after: SpaceState,
  pageSize: number,
  options: CompareOptions = {},
): string[] {
  const out: string[] = [];
  const [lo, hi] = options.range ?? [0, Number.POSITIVE_INFINITY];
  const whole = options.range === undefined;
  const anonFree = (v: VmaRecord) =>
    options.anonMayAppear || options.unmergedMayAppear
      ? {
          ...v,
          anon: options.anonMayAppear ? 0 : v.anon,
          unmergedBelow: options.unmergedMayAppear ? false : v.unmergedBelow,
        }
      : v;
  const vmas = (s: SpaceState) =>
    whole ? s.vmas.map(anonFree) : clippedVmas(s.vmas.map(anonFree), lo, hi, pageSize);
  if (!options.skipVmas && !sameVmas(before.vmas, after.vmas, options.anonMayAppear === true)) {
    // Formatted only when they differ: listDiff reports nothing for equal lists.
    const [a, b] = [vmas(before), vmas(after)];
    if (!sameVmas(a, b, false))
      listDiff(whole ? 'VMAs' : `VMAs in [${hex(lo)}, ${hex(hi)})`, a.map(formatVma), b.map(formatVma), out);
  }
  // The lists are sorted by address: only the part in [lo, hi) is looked at.
  const [skipLo, skipHi] = options.skipPages ?? [0, 0];
  const pick = (list: readonly number[], stride: number) => {
    const kept: number[] = [];
    for (let i = firstAtOrAbove(list, stride, lo); i < list.length && list[i] < hi; i += stride) {
      if (list[i] >= skipLo && list[i] < skipHi) continue;
      for (let j = 0; j < stride; j++) kept.push(list[i + j]);
    }
    return kept;
  };
  const lists: [string, readonly number[], readonly number[], number][] = [
    ['page-table entries', before.leaves, after.leaves, 3],
    ['MADV_FREE pages', before.lazyFree, after.lazyFree, 2],
  ];
  for (const [what, a, b, stride] of lists) {
    const pa = pick(a, stride);
    const pb = pick(b, stride);
    if (pa.length === pb.length && pa.every((x, i) => x === pb[i])) continue;
    listDiff(what, inRange(pa, stride, lo, hi), inRange(pb, stride, lo, hi), out);
  }
  // Guard runs: clipped to [lo, hi), the caller's pages cut out.
  const guardsIn = (runs: readonly number[]) => {
    const kept: number[] = [];
    const keep = (s: number, e: number) => {
      if (s < e) kept.push(s, e);
    };
    for (let i = 0; i < runs.length; i += 2) {
      const s = Math.max(runs[i], lo);
      const e = Math.min(runs[i + 1], hi);
      keep(s, Math.min(e, skipLo));
      keep(Math.max(s, skipHi), e);
    }
    return joined(kept);
  };
  const ga = guardsIn(before.guards);
  const gb = guardsIn(after.guards);
  if (ga.length !== gb.length || ga.some((x, i) => x !== gb[i])) {
    const runs = (g: number[]) => {
      const text: string[] = [];
      for (let i = 0; i < g.length; i += 2) text.push(`${hex(g[i])}-${hex(g[i + 1])}`);
      return text;
    };
    listDiff('guard pages', runs(ga), runs(gb), out);
  }
  if (whole) {
    const ignored = new Set(options.ignoreCounters ?? []);
    for (const [k, v] of Object.entries(before.counters)) {
      if (!ignored.has(k) && after.counters[k] !== v) out.push(`${k} was ${v}, now ${after.counters[k]}`);
    }
    if (!options.objectPagesMayAppear) {
      const pages = (s: SpaceState) =>
        [...s.objects].flatMap(([id, m]) => [...m].map(([i, f]) => `object ${id} page ${i} -> ${hex(f)}`));
      listDiff('shmem pages', pages(before), pages(after), out);
    }
  }
  return out;
}

function sameVmas(a: readonly VmaRecord[], b: readonly VmaRecord[], anonMayAppear: boolean): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i];
    const y = b[i];
    if (
      x.start !== y.start ||
      x.end !== y.end ||
      x.flags !== y.flags ||
      x.pgoff !== y.pgoff ||
      x.file !== y.file ||
      (x.anon !== y.anon && !anonMayAppear) ||
      x.name !== y.name ||
      x.droppable !== y.droppable ||
      x.unmergedBelow !== y.unmergedBelow
    )
      return false;
  }
  return true;
}

/** [start, end) pairs in address order, flat, with touching runs joined into one. */
function joined(flat: readonly number[]): number[] {
  const out: number[] = [];
  for (let i = 0; i < flat.length; i += 2) {
    if (out.length > 0 && out[out.length - 1] === flat[i]) out[out.length - 1] = flat[i + 1];
    else out.push(flat[i], flat[i + 1]);
  }
  return out;
}

function joinedRuns(runs: readonly { start: number; end: number }[]): number[] {
  return joined(runs.flatMap((r) => [r.start, r.end]));
}

/** Whether `va` lies in one of the runs of a `SpaceState.guards` list. */
export function inGuardRuns(guards: readonly number[], va: number): boolean {
  let a = 0;
  let b = guards.length / 2;
  while (a < b) {
    const m = (a + b) >> 1;
    if (guards[m * 2 + 1] <= va) a = m + 1;
    else b = m;
  }
  return a * 2 < guards.length && guards[a * 2] <= va;
}

/** Index of the first entry (of `stride` numbers, sorted by the first) at or above `va`. */
function firstAtOrAbove(list: readonly number[], stride: number, va: number): number {
  let a = 0;
  let b = list.length / stride;
  while (a < b) {
    const m = (a + b) >> 1;
    if (list[m * stride] < va) a = m + 1;
    else b = m;
  }
  return a * stride;
}

/** The present leaf of `va` in a snapshot: [frame, rights], or undefined. */
export function leafAt(state: SpaceState, va: number): [number, number] | undefined {
  const l = state.leaves;
  const i = firstAtOrAbove(l, 3, va);
  return i < l.length && l[i] === va ? [l[i + 1], l[i + 2]] : undefined;
}

/** The VMA of a snapshot that holds `va`, or undefined. */
export function vmaAt(state: SpaceState, va: number): VmaRecord | undefined {
  return state.vmas.find((v) => v.start <= va && va < v.end);
}

/**
 * `before` without the MADV_FREE pages that `after` shows reclaimed (no entry, no mark): running out
 * of frames drops such pages, in Linux as here, whatever call ran out.
 */
export function forgetReclaimed(before: SpaceState, after: SpaceState): SpaceState {
  const kept = new Set<number>();
  for (let i = 0; i < after.lazyFree.length; i += 2) kept.add(after.lazyFree[i]);
  const gone = new Set<number>();
  for (let i = 0; i < before.lazyFree.length; i += 2) {
    const va = before.lazyFree[i];
    if (!kept.has(va) && leafAt(after, va) === undefined) gone.add(va);
  }
  if (gone.size === 0) return before;
  const leaves: number[] = [];
  for (let i = 0; i < before.leaves.length; i += 3)
    if (!gone.has(before.leaves[i]))
      leaves.push(before.leaves[i], before.leaves[i + 1], before.leaves[i + 2]);
  const lazyFree: number[] = [];
  for (let i = 0; i < before.lazyFree.length; i += 2)
    if (!gone.has(before.lazyFree[i])) lazyFree.push(before.lazyFree[i], before.lazyFree[i + 1]);
  return { ...before, leaves, lazyFree };
}
