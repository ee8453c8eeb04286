import { hex } from '../hal/addr.js';
import { formatRights } from '../hal/rights.js';
import type { AddressSpace } from '../mm/address-space.js';
import { FrameUse } from '../mm/frame-allocator.js';
import { type CheckedKernel, CheckRun, type CheckState, Owner } from './check-run.js';
import { checkAddressSpace } from './check-space.js';

export type { CheckedKernel } from './check-run.js';

/**
 * The invariant checker. It recomputes from scratch what the kernel caches and compares:
 * - frames: the free counter and the free lists agree, each listed frame once and not handed out;
 *   every frame is free or owned (a page table, a user page, a kernel frame), never both and never
 *   neither (a leak), each marked with its use; a user or kernel frame's reference count equals
 *   the leaves and page caches that hold it;
 * - page tables: each table has one parent, its cached entry count is right, no intermediate
 *   table is empty; every present leaf lies inside a VMA and grants no more than the VMA's rights;
 *   a kernel frame is mapped only read-only (the zero page, in private anonymous memory); a
 *   private frame mapped writable is mapped nowhere else;
 * - VMAs: aligned, ordered, inside user space, the tree sound, no two neighbours Linux would have
 *   merged (unless Linux left them apart), and total_vm, data_vm, stack_vm, exec_vm, the
 *   accounted pages and each object's count of mapping VMAs equal to what the VMAs add up to;
 * - guard markers lie in VMAs over unmapped pages; MADV_FREE marks name the frame mapped there,
 *   read-only, in private anonymous memory;
 * - the TLB holds nothing the tables do not say, and the commit charge is what the accounted VMAs
 *   hold plus what Linux leaks.
 *
 * A check walks what is in use (free blocks, tables, leaves, VMAs, marks, TLB entries), never all
 * of RAM, unless the frame counts do not add up: then RAM is scanned to name the culprits.
 */
export class InvariantChecker {
  private epoch = 0;
  private state: CheckState | null = null;

  constructor(private readonly k: CheckedKernel) {}

  /** The violations in words; [] when consistent. */
  check(spaces: readonly AddressSpace[]): string[] {
    const run = this.start();
    checkFreeLists(run);
    for (const pa of this.k.kernelFrames) {
      const f = run.frameNumber(pa, 'a kernel frame');
      if (f < 0) continue;
      run.claim(f, Owner.Kernel, `kernel frame ${hex(pa)}`);
      if (this.k.frames.use[f] !== FrameUse.Kernel)
        run.out.push(`kernel frame ${hex(pa)} is not marked as kernel memory`);
    }
    let accounted = 0;
    for (const space of spaces) accounted += checkAddressSpace(run, space);
    checkObjects(run);
    checkReferences(run);
    checkLeaks(run);
    checkTlb(run, spaces);
    const { committed, leaked } = this.k.accounting;
    if (committed !== accounted + leaked) {
      run.out.push(
        `commit charge is ${committed} pages, but accounted VMAs hold ${accounted} and ${leaked} are leaked`,
      );
    }
    return run.out;
  }

  private start(): CheckRun {
    const n = this.k.frames.totalPages;
    if (this.state === null || this.epoch === 0xffffffff) {
      this.state = {
        tablePages: new Map(),
        stamp: new Uint32Array(n),
        owner: new Uint8Array(n),
        refs: new Uint32Array(n),
        writableStamp: new Uint32Array(n),
        writableVa: new Float64Array(n),
      };
      this.epoch = 0;
    }
    return new CheckRun(this.k, ++this.epoch, this.state);
  }
}

/** The free counter against the free lists; each listed frame listed once and not handed out. */
function checkFreeLists(run: CheckRun): void {
  const { frames } = run.k;
  frames.forEachFreeBlock((f, order) => {
    if (!run.markFree(f)) run.out.push(`frame ${hex(frames.frameAddress(f))} is on the free lists twice`);
    if (frames.allocatedAt(f))
      run.out.push(`frame ${hex(frames.frameAddress(f))} is on the free lists but handed out`);
    run.free += 2 ** order;
  });
  if (run.free !== frames.freePages)
    run.out.push(`free counter says ${frames.freePages}, free lists hold ${run.free}`);
}

/**
 * Each page of a mapped file or shmem object holds a reference; the object lists as many mapping
 * VMAs as map it. Each of those VMAs is listed, with its own address space (checkVmas), so equal
 * counts leave no room for a stale entry.
 */
function checkObjects(run: CheckRun): void {
  for (const [object, vmas] of run.objects) {
    if (object.mappers !== vmas)
      run.out.push(`${object.path} counts ${object.mappers} mapping VMAs, has ${vmas}`);
    const what = {
      index: 0,
      toString: (): string => `page ${what.index} of ${object.path}`,
    };
    for (const [index, frame] of object.pages) {
      what.index = index;
      const f = run.frameNumber(frame, what);
      if (f < 0) continue;
      run.claim(f, Owner.User, what);
      run.reference(f);
    }
  }
}

/** Each user or kernel frame's reference count and use, and the exclusivity of privately writable frames. */
function checkReferences(run: CheckRun): void {
  const { frames } = run.k;
  for (const f of run.counted) {
    const kernel = run.ownerOf(f) === Owner.Kernel;
    if (!kernel && frames.use[f] !== FrameUse.UserData)
      run.out.push(`user frame ${hex(frames.frameAddress(f))} is not marked as user memory`);
    if (frames.count[f] !== run.refs[f])
      run.out.push(
        `${kernel ? 'kernel' : 'user'} frame ${hex(frames.frameAddress(f))} counts ${frames.count[f]} mappings, has ${run.refs[f]}`,
      );
  }
  for (const f of run.writable) {
    const va = run.writableAt(f);
    if (va >= 0 && run.refs[f] !== 1) {
      run.out.push(
        `private frame ${hex(frames.frameAddress(f))} is mapped writable at ${hex(va)} but has ${run.refs[f]} mappings`,
      );
    }
  }
}

/**
 * Every frame is free or owned: the owned frames and the free lists must add up to all of RAM.
 * Only when they do not is RAM scanned, to name the frames that are neither, or both.
 */
function checkLeaks(run: CheckRun): void {
  const { frames } = run.k;
  if (run.owned + run.free === frames.totalPages) return;
  const listed = new Uint8Array(frames.totalPages);
  frames.forEachFreeBlock((f, order) => listed.fill(1, f, Math.min(f + 2 ** order, frames.totalPages)));
  let named = 0;
  for (let f = 0; f < frames.totalPages; f++) {
    const owner = run.ownerOf(f);
    // A listed frame that is also claimed was reported by the claim.
    const owned = owner !== 0 && owner !== Owner.Free;
    const pa = hex(frames.frameAddress(f));
    if (!owned && !listed[f]) {
      const kernel = frames.use[f] === FrameUse.Kernel ? 'kernel ' : '';
      run.out.push(`${kernel}frame ${pa} is allocated but owned by nothing (leak)`);
      named++;
    } else if (owned && listed[f]) {
      run.out.push(`frame ${pa} is free and owned at once`);
      named++;
    }
  }
  if (named === 0)
    run.out.push(`${run.owned} owned and ${run.free} free frames do not add up to ${frames.totalPages}`);
}

/** Every TLB entry says what the tables of a live address space say. */
function checkTlb(run: CheckRun, spaces: readonly AddressSpace[]): void {
  const live = new Map(spaces.map((s) => [s.pageTable.root as number, s]));
  const rights = new Uint8Array(1);
  for (const e of run.k.tlb.entriesInUse()) {
    const space = live.get(e.root);
    if (space === undefined) {
      run.out.push(`TLB holds ${hex(e.page)} of a dead address space ${hex(e.root)}`);
      continue;
    }
    const frame = space.pageTable.translate(e.page, rights);
    if (frame !== e.frame || rights[0] !== e.rights) {
      const tables = frame < 0 ? 'unmapped' : `${hex(frame)} ${formatRights(rights[0])}`;
      run.out.push(
        `TLB says ${hex(e.page)} -> ${hex(e.frame)} ${formatRights(e.rights)}, tables say ${tables}`,
      );
    }
  }
}
