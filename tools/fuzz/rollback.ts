/**
 * The rollback check: what a failed call may leave behind. A failed call leaves the state exactly as
 * it was, except where Linux itself keeps a partial effect (each checked on Linux 6.18.44 with
 * tools/fuzz/linux/partial-effects.c, whose output test/syscall/madvise-partial-effects.test.ts compares):
 * - mprotect changes the VMAs of its range in turn and stops at the first hole or failing VMA,
 *   keeping what it changed before;
 * - madvise applies the advice to every VMA of its range in turn, skipping holes (ENOMEM at the
 *   end), and stops at the first VMA that refuses the advice, keeping what it did before;
 * - MADV_POPULATE_READ/WRITE keep the pages they populated before the failure (a hole, a VMA
 *   that refuses the access, a guard, a page past the end of the object mapped, out of memory);
 * - a user access that faults keeps the pages it faulted in before the failing one;
 * - MADV_FREE pages (any task's) that reclaim dropped to make room stay dropped, whether or not an
 *   allocation was refused in the end (tools/fuzz/linux/reclaim-during-failed-populate.c).
 * For those, the applied part is checked by re-issuing the call over each VMA piece it applied to:
 * that must succeed and change nothing; the piece where it stopped and everything after it, and
 * everything outside the range, must be exactly as before.
 */
import {
  EINVAL,
  ENOMEM,
  type Kernel,
  MADV_POPULATE_READ,
  MADV_POPULATE_WRITE,
  MAP_FIXED,
  MREMAP_DONTUNMAP,
  MREMAP_FIXED,
  PROT_GROWSDOWN,
  PROT_GROWSUP,
  type Task,
  VM_GROWSDOWN,
  VM_IO,
  VM_PFNMAP,
  VM_READ,
  VM_WRITE,
} from 'levitate-mm';
import {
  captureSpace,
  compareStates,
  forgetReclaimed,
  type Identities,
  inGuardRuns,
  leafAt,
  type SpaceState,
  type VmaRecord,
  vmaAt,
} from './state.js';

export type SyscallName = 'mmap' | 'munmap' | 'mprotect' | 'brk' | 'mremap' | 'madvise';

/** Whether a syscall result reports a failure. brk reports one by answering the old break. */
export function callFailed(
  name: SyscallName,
  result: number,
  before: SpaceState,
  args: readonly bigint[],
): boolean {
  if (name === 'brk') return result === before.counters.brk && BigInt(result) !== BigInt.asUintN(64, args[0]);
  return result < 0;
}

/** Runs one syscall of the current task. */
export function issue(kernel: Kernel, name: SyscallName, a: readonly bigint[]): number {
  switch (name) {
    case 'mmap':
      return kernel.sys.mmap(a[0], a[1], a[2], a[3], a[4], a[5]);
    case 'munmap':
      return kernel.sys.munmap(a[0], a[1]);
    case 'mprotect':
      return kernel.sys.mprotect(a[0], a[1], a[2]);
    case 'brk':
      return kernel.sys.brk(a[0]);
    case 'mremap':
      return kernel.sys.mremap(a[0], a[1], a[2], a[3], a[4]);
    case 'madvise':
      return kernel.sys.madvise(a[0], a[1], a[2]);
  }
}

/**
 * The outcome of a rollback check: problems in words, and what the call still did, for the shadow:
 * the ranges a walking call applied to, ranges it unmapped, pieces it moved.
 */
export interface RollbackVerdict {
  problems: string[];
  applied: [number, number][];
  unmapped?: [number, number][];
  moved?: { from: number; to: number; len: number }[];
}

interface Piece {
  start: number;
  end: number;
}

/** The VMA pieces of [start, end) in a snapshot, and whether a hole lies before each. */
function piecesOf(state: SpaceState, start: number, end: number): (Piece & { afterHole: boolean })[] {
  const out: (Piece & { afterHole: boolean })[] = [];
  let cursor = start;
  for (const v of state.vmas) {
    if (v.end <= start || v.start >= end) continue;
    const s = Math.max(v.start, start);
    out.push({ start: s, end: Math.min(v.end, end), afterHole: s > cursor });
    cursor = Math.min(v.end, end);
  }
  return out;
}

/** [start, end) of an (addr, len) pair as the walking syscalls compute it, or null for bad arguments. */
function walkRange(addr: bigint, len: bigint, pageSize: number, taskSize: number): [number, number] | null {
  const a = BigInt.asUintN(64, addr);
  const l = BigInt.asUintN(64, len);
  const ps = BigInt(pageSize);
  if (a % ps !== 0n) return null;
  const aligned = ((l + ps - 1n) / ps) * ps;
  // PAGE_ALIGN of a length in the last page of the 64-bit space wraps to 0: EINVAL up front.
  if (aligned === 0n || aligned >= 2n ** 64n || a + aligned >= 2n ** 64n) return null;
  // Nothing is mapped from TASK_SIZE on: a range reaching past it ends in a hole.
  if (a >= BigInt(taskSize)) return null;
  return [Number(a), Number(a + aligned)];
}

export interface FailedCall {
  kernel: Kernel;
  task: Task;
  ids: Identities;
  before: SpaceState;
  name: SyscallName;
  args: readonly bigint[];
  result: number;
  /** Whether the allocator refused an allocation during the call (injected or real). */
  allocationFailed: boolean;
  /**
   * Frames reclaim freed during the call (any task's MADV_FREE pages, and tables emptied with
   * them). Reclaim runs when an allocation finds RAM exhausted, and that allocation may then
   * succeed: the loss stays whatever the call answers, as Linux's reclaim is not undone either.
   */
  reclaimedFrames: number;
}

/** Checks what a failed syscall left behind against what Linux would leave. */
export function checkFailedCall(call: FailedCall): RollbackVerdict {
  const after = captureSpace(call.kernel, call.task, call.ids, call.before.ranges);
  // Running out of frames reclaims MADV_FREE pages, of this task and others, on the way, whether
  // or not an allocation is refused in the end.
  const c = {
    ...call,
    before: reclaimedBefore(call.before, after, call.reclaimedFrames, call.allocationFailed),
  };
  const ignoreCounters = call.allocationFailed ? ['freeFrames'] : [];
  const { kernel, before } = c;
  const pageSize = kernel.pageSize;
  const exact = () => ({ problems: compareStates(before, after, pageSize, { ignoreCounters }), applied: [] });
  if (c.name === 'mremap' && !call.allocationFailed) return checkMremap(c, after) ?? exact();
  if ((c.name === 'mmap' || c.name === 'munmap') && !call.allocationFailed) {
    const ends = c.name === 'mmap' ? fixedEnds(c.args, pageSize) : unmapEnds(c.args, pageSize);
    if (ends !== null)
      return {
        problems: compareStates(before, joinSplits(before, after, ends, pageSize), pageSize, {
          ignoreCounters,
        }),
        applied: [],
      };
  }
  if (c.name !== 'mprotect' && c.name !== 'madvise') return exact();
  const range = walkRange(c.args[0], c.args[1], pageSize, kernel.layout.taskSize);
  if (range === null) return exact();
  if (c.name === 'madvise') {
    const advice = Number(BigInt.asUintN(32, c.args[2]));
    if (advice === MADV_POPULATE_READ || advice === MADV_POPULATE_WRITE)
      return checkPopulate(c, after, range, advice === MADV_POPULATE_WRITE);
  }
  return checkWalk(c, after, range);
}

/**
 * `before` as it must be after reclaim ran during a call: without the MADV_FREE pages reclaim
 * dropped and, when no allocation was refused (every frame the call took it still holds or gave
 * back), with the frames reclaim freed counted free.
 */
export function reclaimedBefore(
  before: SpaceState,
  after: SpaceState,
  reclaimedFrames: number,
  allocationFailed: boolean,
): SpaceState {
  if (reclaimedFrames === 0 && !allocationFailed) return before;
  const was = forgetReclaimed(before, after);
  if (allocationFailed) return was;
  return { ...was, counters: { ...was.counters, freeFrames: was.counters.freeFrames + reclaimedFrames } };
}

/** The ends of a MAP_FIXED mmap's range, or null for any other mmap. */
function fixedEnds(args: readonly bigint[], pageSize: number): [number, number] | null {
  const ps = BigInt(pageSize);
  const addr = BigInt.asUintN(64, args[0]);
  const len = ((BigInt.asUintN(64, args[1]) + ps - 1n) / ps) * ps;
  if (!(Number(BigInt.asUintN(32, args[3])) & MAP_FIXED) || addr % ps !== 0n || addr + len >= 2n ** 64n)
    return null;
  return [Number(addr), Number(addr + len)];
}

/** The ends of a munmap's range, or null when it is not page-aligned or wraps. */
function unmapEnds(args: readonly bigint[], pageSize: number): [number, number] | null {
  return fixedEnds([args[0], args[1], 0n, BigInt(MAP_FIXED)], pageSize);
}

/**
 * `after` with the VMAs split at `points` joined again where `before` had one VMA across the point:
 * a MAP_FIXED refused by Linux's own checks (the address-space limit, the commit charge) keeps the
 * splits vms_gather_munmap_vmas made, unmerged (recorded on Linux:
 * test/fixtures/linux-regressions/aarch64-fixed-enomem-keeps-split.json); a munmap, MAP_FIXED or
 * MREMAP_FIXED target refused at the end of its range by a special mapping (EINVAL) keeps the split
 * at its start (tools/fuzz/linux/special-mappings.c). Nothing else may differ.
 */
function joinSplits(
  before: SpaceState,
  after: SpaceState,
  points: readonly number[],
  pageSize: number,
): SpaceState {
  const across = (p: number) => before.vmas.some((v) => v.start < p && p < v.end);
  const vmas: VmaRecord[] = [];
  for (const v of after.vmas) {
    const lower = vmas.at(-1);
    if (
      lower !== undefined &&
      lower.end === v.start &&
      v.unmergedBelow &&
      points.includes(v.start) &&
      across(v.start) &&
      lower.pgoff + (lower.end - lower.start) / pageSize === v.pgoff &&
      lower.flags === v.flags &&
      lower.file === v.file &&
      lower.anon === v.anon &&
      lower.name === v.name &&
      lower.droppable === v.droppable
    )
      vmas[vmas.length - 1] = { ...lower, end: v.end };
    else vmas.push(v);
  }
  return { ...after, vmas };
}

function outsideProblems(
  before: SpaceState,
  after: SpaceState,
  pageSize: number,
  [s, e]: [number, number],
  anonMayAppear = false,
): string[] {
  // A split kept at an end of the range leaves two look-alike VMAs there, as in Linux.
  const options = { anonMayAppear, unmergedMayAppear: true };
  return [
    ...compareStates(before, after, pageSize, { range: [0, s], ...options }),
    ...compareStates(before, after, pageSize, { range: [e, Number.POSITIVE_INFINITY], ...options }),
  ];
}

/**
 * mremap with MREMAP_FIXED refused without a failed allocation. A resize (`mremap_to`) clears the
 * whole target first, cuts the tail of a shrinking source next and moves the VMA last. A same-size
 * move (`remap_move`, 6.17 on) moves the VMAs of the source one by one, each piece to its own
 * target (the gaps between the pieces kept, and not cleared), each with its own target clear
 * (`mremap_to` per piece): the pieces before the refusal are moved, the refused piece's target may
 * be cleared (or only split at its start, when a special mapping refused the split at its end), and
 * nothing else changes (tools/fuzz/linux/mremap-pieces.c). Keeping whatever it did before the
 * refusal is what Linux does; any other change is named. Null when the call is not of that kind.
 */
function checkMremap(c: FailedCall, afterCall: SpaceState): RollbackVerdict | null {
  const { kernel, before } = c;
  const ps = kernel.pageSize;
  const u = (v: bigint) => BigInt.asUintN(64, v);
  const align = (v: bigint) => ((u(v) + BigInt(ps) - 1n) / BigInt(ps)) * BigInt(ps);
  const flags = Number(BigInt.asUintN(32, c.args[3]));
  const [addrW, oldW, newW, toW] = [u(c.args[0]), align(c.args[1]), align(c.args[2]), u(c.args[4])];
  const top = BigInt(kernel.layout.taskSize);
  if (!(flags & MREMAP_FIXED) || addrW % BigInt(ps) !== 0n || toW % BigInt(ps) !== 0n) return null;
  if (newW === 0n || oldW === 0n || addrW + oldW > top || toW + newW > top) return null;
  const [addr, oldLen, newLen, to] = [Number(addrW), Number(oldW), Number(newW), Number(toW)];
  if (addr < to + newLen && to < addr + oldLen) return null;
  const dontUnmap = (flags & MREMAP_DONTUNMAP) !== 0;
  if (oldLen === newLen) return checkMoveEach(c, afterCall, addr, oldLen, to, dontUnmap);
  const target: [number, number] = [to, to + newLen];
  const source: [number, number] = [addr, addr + oldLen];
  const [lo1, hi1, lo2, hi2] = target[0] < source[0] ? [...target, ...source] : [...source, ...target];
  // Clearing a target, or cutting a tail, that a special mapping refuses to have split at its end
  // keeps the split made at its start.
  const after = joinSplits(before, afterCall, newLen < oldLen ? [to, addr + newLen] : [to], ps);
  const problems = [
    ...compareStates(before, after, ps, { range: [0, lo1] }),
    ...compareStates(before, after, ps, { range: [hi1, lo2] }),
    ...compareStates(before, after, ps, { range: [hi2, Number.POSITIVE_INFINITY] }),
  ];
  const same = (range: [number, number]) => compareStates(before, after, ps, { range }).length === 0;
  const unmapped: [number, number][] = [];
  if (!same(target)) {
    problems.push(...clearedProblems(after, target));
    unmapped.push(target);
  }
  if (newLen < oldLen && !same([addr + newLen, addr + oldLen])) {
    problems.push(
      ...clearedProblems(after, [addr + newLen, addr + oldLen]).map((p) => `${p} (the tail of the source)`),
    );
    unmapped.push([addr + newLen, addr + oldLen]);
  }
  // The move is the last step: the source (but a tail cut) is as it was.
  if (!same([addr, addr + Math.min(oldLen, newLen)])) problems.push('the source changed without moving');
  // Nothing kept: then nothing else may differ either (counters, commit charge, ...).
  if (unmapped.length === 0) problems.push(...compareStates(before, after, ps));
  return { problems: problems.slice(0, 6), applied: [], unmapped, moved: [] };
}

/** Whether a snapshot has a VMA in [s, e). */
const mapped = (st: SpaceState, s: number, e: number) => st.vmas.some((v) => v.start < e && s < v.end);

/** What is left in a range that must have been cleared: its VMAs and present pages, in words. */
function clearedProblems(after: SpaceState, [s, e]: [number, number]): string[] {
  const problems: string[] = [];
  for (let i = 0; i < after.leaves.length; i += 3) {
    const va = after.leaves[i];
    if (va >= s && va < e) problems.push(`target page 0x${va.toString(16)} kept`);
  }
  for (const v of after.vmas)
    if (v.start < e && s < v.end)
      problems.push(`target page 0x${Math.max(v.start, s).toString(16)} still mapped`);
  return problems;
}

/** The present leaves of [s, e) as offsets from s, frames and rights, as one comparable string. */
function leavesIn(st: SpaceState, s: number, e: number): string {
  const out: number[] = [];
  for (let i = firstLeaf(st, s); i < st.leaves.length && st.leaves[i] < e; i += 3)
    out.push(st.leaves[i] - s, st.leaves[i + 1], st.leaves[i + 2]);
  return out.join(',');
}

function firstLeaf(st: SpaceState, va: number): number {
  let i = 0;
  while (i < st.leaves.length && st.leaves[i] < va) i += 3;
  return i;
}

/**
 * A refused same-size MREMAP_FIXED (`remap_move`): piece i of the source (its part of one VMA)
 * goes to `to + (piece start - addr)`. A prefix of the pieces moved (source gone, or emptied with
 * MREMAP_DONTUNMAP; its pages at its target in one VMA); the first piece not moved may have its
 * own target cleared, or split at its start only; everything else is as it was: the pieces after
 * it and their targets, the source's holes and the target's parts between the pieces.
 */
function checkMoveEach(
  c: FailedCall,
  afterCall: SpaceState,
  addr: number,
  len: number,
  to: number,
  dontUnmap: boolean,
): RollbackVerdict | null {
  const { before } = c;
  const ps = c.kernel.pageSize;
  const pieces = piecesOf(before, addr, addr + len).map((p) => ({ ...p, dst: to + (p.start - addr) }));
  // A source that does not start in a VMA is refused (EFAULT) before anything is done.
  if (pieces.length === 0 || pieces[0].afterHole) return null;
  const moved: { from: number; to: number; len: number }[] = [];
  for (const p of pieces) {
    const n = p.end - p.start;
    const gone = dontUnmap ? leavesIn(afterCall, p.start, p.end) === '' : !mapped(afterCall, p.start, p.end);
    // At its target in one VMA of its own kind (copy_vma: an anonymous VMA never faulted takes the
    // pgoff of its new address, any other keeps its own), maybe merged with a neighbour.
    const src = vmaAt(before, p.start)!;
    const pgoff = src.anonymous && src.anon === 0 ? p.dst / ps : src.pgoff + (p.start - src.start) / ps;
    const arrived =
      leavesIn(afterCall, p.dst, p.dst + n) === leavesIn(before, p.start, p.end) &&
      afterCall.vmas.some(
        (v) =>
          v.start <= p.dst &&
          p.dst + n <= v.end &&
          v.flags === src.flags &&
          v.file === src.file &&
          v.name === src.name &&
          v.pgoff + (p.dst - v.start) / ps === pgoff,
      );
    if (!gone || !arrived) break;
    moved.push({ from: p.start, to: p.dst, len: n });
  }
  const refused = pieces[moved.length];
  // The refused piece's target clear may have kept the split at its start.
  const after = refused === undefined ? afterCall : joinSplits(before, afterCall, [refused.dst], ps);
  const same = (range: [number, number]) => compareStates(before, after, ps, { range }).length === 0;
  const unmapped: [number, number][] = moved.map((m) => [m.to, m.to + m.len]);
  const problems: string[] = [];
  if (refused !== undefined) {
    const target: [number, number] = [refused.dst, refused.dst + (refused.end - refused.start)];
    if (!same(target)) {
      problems.push(...clearedProblems(after, target));
      unmapped.push(target);
    }
  }
  // Everything else as it was: the ranges between those the call may have changed.
  const changed = [...moved.map((m): [number, number] => [m.from, m.from + m.len]), ...unmapped].sort(
    (x, y) => x[0] - y[0],
  );
  let cursor = 0;
  for (const [s, e] of [...changed, [Number.POSITIVE_INFINITY, Number.POSITIVE_INFINITY]]) {
    if (cursor < s) problems.push(...compareStates(before, after, ps, { range: [cursor, s] }));
    cursor = Math.max(cursor, e);
  }
  // Nothing kept: then nothing else may differ either (counters, commit charge, ...).
  if (unmapped.length === 0) problems.push(...compareStates(before, after, ps));
  return { problems: problems.slice(0, 6), applied: [], unmapped, moved };
}

/** mprotect and madvise: a prefix of the pieces applied, the rest untouched. */
function checkWalk(c: FailedCall, after: SpaceState, range: [number, number]): RollbackVerdict {
  const { kernel, task, ids, before } = c;
  const pageSize = kernel.pageSize;
  let [s, e] = range;
  let prot = 0;
  if (c.name === 'mprotect') {
    prot = Number(BigInt.asUintN(32, c.args[2]));
    if (prot & PROT_GROWSUP) return { problems: compareStates(before, after, pageSize), applied: [] };
    if (prot & PROT_GROWSDOWN) {
      // do_mprotect_pkey: the range starts at the start of its first VMA, down from inside it or
      // up from a hole below it (tools/fuzz/linux/mremap-pieces.c, mprotect-growsdown-from-hole.json),
      // which must grow down; on any other it is EINVAL.
      const first = before.vmas.find((v) => v.end > s && v.start < e);
      if (first === undefined || !(first.flags & VM_GROWSDOWN))
        return { problems: compareStates(before, after, pageSize), applied: [] };
      s = first.start;
    }
    prot &= ~PROT_GROWSDOWN;
  }
  // A changed piece may merge with a neighbour, which then shares its anonymous identity.
  const problems = outsideProblems(before, after, pageSize, [s, e], true);
  const pieces = piecesOf(before, s, e);
  const applied: [number, number][] = [];
  const reissue = (p: Piece) => {
    const args =
      c.name === 'mprotect'
        ? [BigInt(p.start), BigInt(p.end - p.start), BigInt(prot)]
        : [BigInt(p.start), BigInt(p.end - p.start), c.args[2]];
    const where = [[p.start, p.end] as const];
    const was = captureSpace(kernel, task, ids, where);
    const result = issue(kernel, c.name, args);
    const now = captureSpace(kernel, task, ids, where);
    return { result, changes: compareStates(was, now, pageSize, { range: [p.start, p.end] }) };
  };
  let stopped = false;
  for (const [i, p] of pieces.entries()) {
    const label = `piece ${i} [0x${p.start.toString(16)}, 0x${p.end.toString(16)})`;
    const untouched =
      compareStates(before, after, pageSize, {
        range: [p.start, p.end],
        anonMayAppear: true,
        unmergedMayAppear: true,
      }).length === 0;
    if (stopped || (c.name === 'mprotect' && (p.afterHole || (i === 0 && p.start > s)))) {
      stopped = true;
      if (!untouched) problems.push(`${label} changed after the walk had stopped (at a hole or a refusal)`);
      continue;
    }
    const again = reissue(p);
    if (again.result === 0) {
      if (again.changes.length > 0)
        problems.push(
          `${label} was not changed, but the same call on it alone does: ${again.changes.join('; ')}`,
        );
      applied.push([p.start, p.end]);
      continue;
    }
    // The piece refuses the call: that is where the walk stops, with this piece untouched.
    stopped = true;
    if (again.result !== c.result)
      problems.push(`${label} alone answers ${again.result}, the whole call ${c.result}`);
    if (!untouched) problems.push(`${label} refused the call but was changed`);
  }
  const covered = pieces.reduce((n, p) => n + (p.end - p.start), 0);
  if (!stopped && c.result === -ENOMEM && covered === e - s)
    problems.push('every piece accepts the call and the range has no hole, yet it answered -ENOMEM');
  return { problems, applied };
}

/** MADV_POPULATE_*: the pages of a prefix of the range are populated, nothing else changed. */
function checkPopulate(
  c: FailedCall,
  after: SpaceState,
  range: [number, number],
  write: boolean,
): RollbackVerdict {
  const { kernel, before } = c;
  const pageSize = kernel.pageSize;
  const [s, e] = range;
  const need = write ? VM_WRITE : VM_READ;
  // A populated page gives its VMA, which may reach outside the range, an anonymous identity.
  const problems = outsideProblems(before, after, pageSize, range, true);
  // The failure point: the first page that is not (now) accessible as asked.
  let x = s;
  let why = 'everything was populated';
  for (; x < e; x += pageSize) {
    const vma = vmaAt(before, x);
    if (vma === undefined) {
      why = 'hole';
      break;
    }
    if (!(vma.flags & need) || vma.flags & (VM_IO | VM_PFNMAP)) {
      why = 'refused';
      break;
    }
    if (inGuardRuns(before.guards, x)) {
      why = 'guard';
      break;
    }
    const leaf = leafAt(after, x);
    if (leaf === undefined || !(leaf[1] & need)) {
      why = pastTheEnd(c.task, vma, x, pageSize) ? 'past the end' : 'out of memory';
      break;
    }
    const old = leafAt(before, x);
    if (old !== undefined && old[1] & need && (old[0] !== leaf[0] || old[1] !== leaf[1]))
      problems.push(`page 0x${x.toString(16)} was already populated, yet its entry changed`);
  }
  const expected: Record<string, number[]> = {
    hole: [-12],
    refused: [-EINVAL],
    guard: [-14, -EINVAL, -12],
    // The file's fault method answers SIGBUS (filemap_fault, shmem_fault): -EFAULT, recorded on
    // Linux by tools/fuzz/linux/partial-effects.c ("POPULATE_WRITE [S grown past its object]").
    'past the end': [-14],
    'out of memory': [-12],
  };
  if (!(expected[why] ?? []).includes(c.result))
    problems.push(`MADV_POPULATE stopped (${why}) answering ${c.result}`);
  if (why === 'out of memory' && !c.allocationFailed)
    problems.push(
      `MADV_POPULATE stopped at 0x${x.toString(16)} answering ${c.result} with no allocation refused`,
    );
  problems.push(
    ...compareStates(before, after, pageSize, {
      skipPages: [s, x],
      anonMayAppear: true,
      objectPagesMayAppear: true,
      ignoreCounters: ['freeFrames'],
    }),
  );
  return { problems, applied: [] };
}

/**
 * Whether the page at `va` of `vma` lies wholly past the end of the object it maps: a file, or
 * the shmem object of shared anonymous memory, which keeps the size it was created with when
 * mremap grows the mapping.
 */
function pastTheEnd(task: Task, vma: VmaRecord, va: number, pageSize: number): boolean {
  const size = task.mm.vmas.find(va)?.file?.size ?? null;
  return size !== null && vma.pgoff * pageSize + (va - vma.start) >= size;
}

/**
 * A user access that faulted: the pages before the faulting one may have been faulted in, and a
 * grows-down VMA may have grown down into the access, up to and including the faulting page (Linux
 * grows the stack before it checks the access); the faulting page's entry, and everything outside
 * the access, are as before.
 */
export function checkFailedAccess(
  kernel: Kernel,
  task: Task,
  ids: Identities,
  before: SpaceState,
  addr: number,
  len: number,
  faultAt: number,
  outOfMemory: boolean,
): { problems: string[]; grown: [number, number][] } {
  const after = captureSpace(kernel, task, ids, before.ranges);
  const was = outOfMemory ? forgetReclaimed(before, after) : before;
  const ps = kernel.pageSize;
  const top = kernel.layout.taskSize;
  if (!(addr + len <= top))
    return {
      problems: compareStates(was, after, ps, { ignoreCounters: outOfMemory ? ['freeFrames'] : [] }),
      grown: [],
    };
  const first = addr - (addr % ps);
  const fault = Math.max(first, faultAt - (faultAt % ps));
  const end = Math.ceil((addr + Math.max(len, 1)) / ps) * ps;
  if (fault >= end) return { problems: [`fault at 0x${faultAt.toString(16)} outside the access`], grown: [] };
  const grown = after.vmas.filter((v) => {
    const old = was.vmas.find((o) => o.end === v.end && o.start > v.start);
    return old !== undefined && v.flags & VM_GROWSDOWN && v.start >= first;
  });
  // A stack grown to the VMA below stays apart from it, as in Linux.
  const unGrown = (s: SpaceState) => ({
    ...s,
    vmas: s.vmas.map((v) => {
      const g = grown.find((x) => x.end === v.end);
      if (g === undefined) return v;
      const old = was.vmas.find((o) => o.end === v.end)!;
      return { ...v, start: old.start, pgoff: old.pgoff, unmergedBelow: old.unmergedBelow };
    }),
  });
  const now = unGrown(after);
  // A page faulted in gives its VMA (all of it) an anonymous identity.
  const problems = [
    ...compareStates(was, now, ps, { range: [0, first], anonMayAppear: true }),
    ...compareStates(was, now, ps, { range: [first, end], skipVmas: true, skipPages: [0, fault] }),
    ...compareStates(was, now, ps, { range: [end, Number.POSITIVE_INFINITY], anonMayAppear: true }),
    ...compareStates(was, now, ps, {
      anonMayAppear: true,
      objectPagesMayAppear: true,
      skipPages: [0, Number.POSITIVE_INFINITY],
      ignoreCounters: COUNTERS,
    }),
  ];
  return {
    problems,
    grown: grown.map((g) => [g.start, was.vmas.find((o) => o.end === g.end)!.start]),
  };
}

/** The counters a faulting access may change (a grown stack, pages faulted in, reclaim). */
const COUNTERS = [
  'totalVm',
  'dataVm',
  'stackVm',
  'execVm',
  'accountedVm',
  'freeFrames',
  'committed',
  'brk',
  'startBrk',
];

/** The address ranges a call may act on, from its arguments (its page-table entries are compared). */
export function callRanges(
  name: SyscallName,
  a: readonly bigint[],
  pageSize: number,
  vaSpan: number,
  brk: number,
): [number, number][] {
  const ps = BigInt(pageSize);
  const span = BigInt(vaSpan);
  const range = (start: bigint, len: bigint): [number, number] => {
    const s = BigInt.asUintN(64, start);
    const lo = s - (s % ps);
    const hi = s + BigInt.asUintN(64, len) + ps;
    return [Number(lo < span ? lo : span), Number(hi < span ? hi : span)];
  };
  switch (name) {
    case 'mmap':
      return [range(a[0], a[1])];
    case 'munmap':
    case 'mprotect':
    case 'madvise':
      return [range(a[0], a[1])];
    case 'brk': {
      const b = BigInt(brk);
      const to = BigInt.asUintN(64, a[0]);
      return [to < b ? range(to, b - to) : range(b, to - b)];
    }
    case 'mremap': {
      const old = BigInt.asUintN(64, a[1]);
      const len = BigInt.asUintN(64, a[2]);
      return [range(a[0], old > len ? old : len), range(a[4], len)];
    }
  }
}
