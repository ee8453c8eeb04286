/**
 * fork, vfork, clone and exit: copy-on-write (frames shared read-only, copied on the first write of
 * either side, reused once exclusive again), reference counts and frees, what dup_mmap copies and
 * leaves out, the anon_vma tree of a fork, shared address spaces and threads, teardown by the last
 * user. The invariant checker runs after every step. The Linux behaviours asserted here are those
 * the recorded fork fixtures (test/fixtures/linux-x86_64-fork) show; the frame-level ones are the
 * model's bookkeeping of them.
 */
import {
  CLONE_FILES,
  CLONE_SIGHAND,
  CLONE_THREAD,
  CLONE_THREAD_FLAGS,
  CLONE_VM,
  EINVAL,
  ENOMEM,
  Kernel,
  MADV_DONTFORK,
  MADV_GUARD_INSTALL,
  MADV_WIPEONFORK,
  MAP_ANONYMOUS,
  MAP_FIXED_NOREPLACE,
  MAP_LOCKED,
  MAP_PRIVATE,
  MAP_SHARED,
  PageFaultError,
  PROT_READ,
  PROT_WRITE,
  procMaps,
  smapsFlags,
  type Task,
  type VirtAddr,
} from 'levitate-mm';
import { describe, expect, it } from 'vitest';
import { MemoryObject } from '../../src/mm/memory-object.js';

const P = 4096;
const RW = PROT_READ | PROT_WRITE;
const ANON = MAP_PRIVATE | MAP_ANONYMOUS;
const AT = 0x3000_0000;

function boot(paging: 'demand' | 'eager' = 'demand'): { kernel: Kernel; parent: Task; ok: () => void } {
  const kernel = new Kernel({ arch: 'x86_64', paging, ramBytes: 16 * 2 ** 20 });
  const parent = kernel.spawn();
  return { kernel, parent, ok: () => expect(kernel.check()).toEqual([]) };
}

function forked(kernel: Kernel, parent: Task, flags = 0): Task {
  const child = kernel.clone(parent, flags);
  if (typeof child === 'number') throw new Error(`clone failed: ${child}`);
  return child;
}

function mapAt(kernel: Kernel, addr: number, len: number, prot = RW, flags = ANON): number {
  const got = kernel.sys.mmap(addr, len, prot, flags | MAP_FIXED_NOREPLACE, -1, 0);
  expect(got).toBe(addr);
  return got;
}

const frameOf = (t: Task, va: number) => t.mm.pageTable.translate(va as VirtAddr);
const rightsOf = (t: Task, va: number) => {
  const r = new Uint8Array(1);
  t.mm.pageTable.translate(va as VirtAddr, r);
  return r[0];
};
const refs = (kernel: Kernel, frame: number) => kernel.frames.count[kernel.frames.frameIndex(frame as never)];
/** The maps lines of [AT, AT + 256 MiB). */
const lines = (t: Task) =>
  procMaps(t.mm)
    .split('\n')
    .filter((l) => l.startsWith('3') && l.length > 0)
    .map((l) => l.slice(0, 25));

describe('fork: copy-on-write', () => {
  it('shares private pages read-only, copies on the first write of either side, reuses an exclusive page', () => {
    const { kernel, parent, ok } = boot();
    mapAt(kernel, AT, 3 * P);
    parent.write(AT, [1]);
    parent.write(AT + P, [2]);
    parent.write(AT + 2 * P, [3]);
    const before = [0, 1, 2].map((i) => frameOf(parent, AT + i * P));
    const child = forked(kernel, parent);
    ok();
    for (let i = 0; i < 3; i++) {
      expect(frameOf(child, AT + i * P)).toBe(before[i]);
      expect(refs(kernel, before[i])).toBe(2);
      expect(rightsOf(parent, AT + i * P)).toBe(PROT_READ);
      expect(rightsOf(child, AT + i * P)).toBe(PROT_READ);
    }
    // The child's write copies page 0; the parent still sees its own data.
    child.write(AT, [11]);
    ok();
    expect(frameOf(child, AT)).not.toBe(before[0]);
    expect(refs(kernel, before[0])).toBe(1);
    expect([...parent.read(AT, 1)]).toEqual([1]);
    // Page 0 is the parent's alone again: its write reuses the frame in place (wp_page_reuse).
    parent.write(AT, [111]);
    ok();
    expect(frameOf(parent, AT)).toBe(before[0]);
    // Page 1 is still shared: the parent's write copies it.
    parent.write(AT + P, [22]);
    ok();
    expect(frameOf(parent, AT + P)).not.toBe(before[1]);
    expect([...child.read(AT, 3)]).toEqual([11, 0, 0]);
    expect([...child.read(AT + P, 1)]).toEqual([2]);
    expect([...parent.read(AT, 1)]).toEqual([111]);
    // Page 2: the child goes, the parent's write then reuses its page.
    kernel.exit(child);
    ok();
    expect(refs(kernel, before[2])).toBe(1);
    parent.write(AT + 2 * P, [33]);
    expect(frameOf(parent, AT + 2 * P)).toBe(before[2]);
    ok();
  });

  it('frees a shared frame only when its last user goes', () => {
    const { kernel, parent, ok } = boot();
    const free = kernel.frames.freePages;
    mapAt(kernel, AT, 4 * P);
    for (let i = 0; i < 4; i++) parent.write(AT + i * P, [i + 1]);
    const child = forked(kernel, parent);
    const frame = frameOf(parent, AT);
    expect(kernel.sys.munmap(AT, 4 * P)).toBe(0);
    ok();
    expect(kernel.frames.isAllocated(frame as never)).toBe(true);
    expect([...child.read(AT, 1)]).toEqual([1]);
    kernel.exit(child);
    ok();
    expect(kernel.frames.isAllocated(frame as never)).toBe(false);
    kernel.exit(parent);
    ok();
    expect(kernel.frames.freePages).toBe(free + 1); // the parent's root table too
  });

  it('keeps a page shared after mprotect back to writable, until a write copies it', () => {
    const { kernel, parent, ok } = boot();
    mapAt(kernel, AT, P);
    parent.write(AT, [5]);
    expect(kernel.sys.mprotect(AT, P, PROT_READ)).toBe(0);
    const child = forked(kernel, parent);
    expect(kernel.sys.mprotect(AT, P, RW)).toBe(0);
    ok();
    expect(rightsOf(parent, AT)).toBe(PROT_READ);
    parent.write(AT, [6]);
    ok();
    expect([...child.read(AT, 1)]).toEqual([5]);
  });

  it('shares MAP_SHARED memory and leaves its entries to fault again in the child', () => {
    const { kernel, parent, ok } = boot();
    mapAt(kernel, AT, 2 * P, RW, MAP_SHARED | MAP_ANONYMOUS);
    parent.write(AT, [7]);
    const child = forked(kernel, parent);
    ok();
    expect(frameOf(child, AT)).toBe(-1); // vma_needs_copy: no anon_vma
    child.write(AT + 1, [8]);
    ok();
    expect([...parent.read(AT, 2)]).toEqual([7, 8]);
    expect(rightsOf(child, AT)).toBe(RW);
  });

  it('does not copy the entries of a private VMA without an anon_vma (only read, zero page)', () => {
    const kernel = new Kernel({ arch: 'x86_64', paging: 'demand', layout: { zeroPageReads: true } });
    const parent = kernel.spawn();
    mapAt(kernel, AT, 2 * P);
    expect([...parent.read(AT, 1)]).toEqual([0]);
    expect(frameOf(parent, AT)).toBe(kernel.zeroFrame);
    const child = forked(kernel, parent);
    expect(frameOf(child, AT)).toBe(-1);
    child.write(AT, [1]);
    expect([...parent.read(AT, 1)]).toEqual([0]);
    expect(kernel.check()).toEqual([]);
  });

  it('copies a private file mapping: page-cache pages stay shared, private copies are copied on write', () => {
    const { kernel, parent, ok } = boot();
    parent.files.set(3, {
      file: new MemoryObject('/data', 8, 1, 77, 'file'),
      readable: true,
      writable: false,
    });
    expect(kernel.sys.mmap(AT, 2 * P, RW, MAP_PRIVATE | MAP_FIXED_NOREPLACE, 3, 0)).toBe(AT);
    expect([...parent.read(AT + P, 1)]).toEqual([0]); // page-cache page
    parent.write(AT, [9]); // a private copy: the VMA gets an anon_vma
    const cache = frameOf(parent, AT + P);
    const child = forked(kernel, parent);
    ok();
    expect(child.files.get(3)).toBe(parent.files.get(3));
    expect(frameOf(child, AT + P)).toBe(cache);
    child.write(AT + P, [4]);
    child.write(AT, [10]);
    ok();
    expect([...parent.read(AT, 1)]).toEqual([9]);
    expect([...parent.read(AT + P, 1)]).toEqual([0]);
  });

  it('in eager paging copies the pages of a private VMA that never faulted', () => {
    const { kernel, parent, ok } = boot('eager');
    mapAt(kernel, AT, P, PROT_READ);
    expect(kernel.sys.mprotect(AT, P, RW)).toBe(0);
    parent.write(AT, [3]);
    const child = forked(kernel, parent);
    ok();
    expect([...child.read(AT, 1)]).toEqual([3]);
    child.write(AT, [4]);
    expect([...parent.read(AT, 1)]).toEqual([3]);
    ok();
  });
});

describe('fork: what dup_mmap copies', () => {
  it('leaves MADV_DONTFORK out, MADV_WIPEONFORK empty (flag kept), mlock behind; counts and charges the copies', () => {
    const { kernel, parent, ok } = boot();
    mapAt(kernel, AT, 4 * P);
    parent.write(AT, [1]);
    expect(kernel.sys.madvise(AT + P, P, MADV_DONTFORK)).toBe(0);
    mapAt(kernel, AT + 0x10_0000, 2 * P);
    parent.write(AT + 0x10_0000, [2]);
    expect(kernel.sys.madvise(AT + 0x10_0000, 2 * P, MADV_WIPEONFORK)).toBe(0);
    mapAt(kernel, AT + 0x20_0000, 2 * P, RW, ANON | MAP_LOCKED);
    mapAt(kernel, AT + 0x20_2000, 2 * P);
    const committed = kernel.accounting.committed;
    const child = forked(kernel, parent);
    ok();
    expect(lines(child)).toEqual([
      '30000000-30001000 rw-p 00',
      '30002000-30004000 rw-p 00',
      '30100000-30102000 rw-p 00',
      '30200000-30202000 rw-p 00', // mlock gone, yet not merged with the next
      '30202000-30204000 rw-p 00',
    ]);
    expect(smapsFlags(child.mm).filter((f) => f.includes('wf'))).toEqual(['rd wr mr mw me ac wf']);
    expect([...child.read(AT + 0x10_0000, 1)]).toEqual([0]);
    expect(() => child.read(AT + P, 1)).toThrow(PageFaultError);
    expect(child.mm.mapCount).toBe(parent.mm.mapCount - 1);
    expect(child.mm.totalVm).toBe(parent.mm.totalVm - 1);
    expect(child.mm.dataVm).toBe(parent.mm.dataVm - 1);
    // Every VM_ACCOUNT copy is charged again; the DONTFORK page is not.
    expect(kernel.accounting.committed - committed).toBe(parent.mm.totalVm - 1);
    kernel.exit(child);
    expect(kernel.accounting.committed).toBe(committed);
    ok();
  });

  it('copies guard markers, even of a VMA never written, but not into a MADV_WIPEONFORK copy', () => {
    const { kernel, parent, ok } = boot();
    mapAt(kernel, AT, 4 * P);
    mapAt(kernel, AT + 0x10_0000, 4 * P);
    expect(kernel.sys.madvise(AT + P, P, MADV_GUARD_INSTALL)).toBe(0);
    expect(kernel.sys.madvise(AT + 0x10_0000 + P, P, MADV_GUARD_INSTALL)).toBe(0);
    expect(kernel.sys.madvise(AT + 0x10_0000, 4 * P, MADV_WIPEONFORK)).toBe(0);
    const child = forked(kernel, parent);
    ok();
    expect(() => child.read(AT + P, 1)).toThrow(/SEGV_MAPERR/);
    expect([...child.read(AT + 0x10_0000 + P, 1)]).toEqual([0]);
    expect(() => parent.read(AT + 0x10_0000 + P, 1)).toThrow(/SEGV_MAPERR/);
  });

  it('is refused with ENOMEM, changing nothing, when the commit charge of a copy is refused', () => {
    const kernel = new Kernel({ arch: 'x86_64', paging: 'demand', layout: { overcommitMemory: 2 } });
    const parent = kernel.spawn();
    const limit = kernel.accounting.commitLimit;
    const big = Math.floor((limit * 2) / 3) * P;
    expect(kernel.sys.mmap(0, big, RW, ANON, -1, 0)).toBeGreaterThan(0);
    const committed = kernel.accounting.committed;
    const maps = procMaps(parent.mm);
    expect(kernel.fork(parent)).toBe(-ENOMEM);
    expect(kernel.accounting.committed).toBe(committed);
    expect(procMaps(parent.mm)).toBe(maps);
    expect(kernel.tasks.size).toBe(1);
    expect(kernel.check()).toEqual([]);
  });

  it('copies the break, the heap and stack bounds and the gate area', () => {
    const { kernel, parent, ok } = boot();
    parent.mm.startBrk = 0x60_0000;
    parent.mm.brk = 0x60_0000;
    expect(kernel.sys.brk(0x60_5000)).toBe(0x60_5000);
    parent.write(0x60_0000, [1]);
    const child = forked(kernel, parent);
    expect([child.mm.startBrk, child.mm.brk]).toEqual([0x60_0000, 0x60_5000]);
    kernel.switchTo(child);
    // The heap is a fork child's VMA: growing it makes a second [heap] VMA (as on Linux).
    expect(kernel.sys.brk(0x60_8000)).toBe(0x60_8000);
    expect(procMaps(child.mm).match(/\[heap\]/g)).toHaveLength(2);
    kernel.switchTo(parent);
    expect(kernel.sys.brk(0x60_8000)).toBe(0x60_8000);
    expect(procMaps(parent.mm).match(/\[heap\]/g)).toHaveLength(1);
    ok();
  });
});

describe('fork: anon_vmas', () => {
  it('gives each copy an anon_vma of its own, child of the parent’s, and links it to the parent’s', () => {
    const { kernel, parent } = boot();
    mapAt(kernel, AT, 2 * P);
    parent.write(AT, [1]);
    const pv = parent.mm.vmas.find(AT)!;
    const child = forked(kernel, parent);
    const cv = child.mm.vmas.find(AT)!;
    expect(cv.anon).not.toBe(pv.anon);
    expect(cv.anon!.parent).toBe(pv.anon);
    expect(cv.anon!.root).toBe(pv.anon!.root);
    expect(cv.chain).toEqual([cv.anon, pv.anon]);
    expect(pv.chain).toEqual([pv.anon]);
  });

  it('reuses an ancestor’s anon_vma that no VMA uses and that has one child left (anon_vma_clone)', () => {
    const { kernel, parent } = boot();
    mapAt(kernel, AT, 2 * P);
    parent.write(AT, [1]);
    const c = forked(kernel, parent);
    const g = forked(kernel, c);
    const cav = c.mm.vmas.find(AT)!.anon!;
    kernel.switchTo(c);
    expect(kernel.sys.munmap(AT, 2 * P)).toBe(0);
    kernel.exit(c);
    const gv = g.mm.vmas.find(AT)!;
    const h = forked(kernel, g);
    const hv = h.mm.vmas.find(AT)!;
    expect(hv.anon).toBe(cav);
    expect(hv.chain).toEqual(gv.chain);
    // The parent's own anon_vma is still used, so a second fork of it gets a new one.
    const h2 = forked(kernel, g);
    expect(h2.mm.vmas.find(AT)!.anon!.parent).toBe(gv.anon);
    expect(kernel.check()).toEqual([]);
  });

  it('numbers anon_vmas per kernel: two kernels doing the same number them the same', () => {
    const ids = () => {
      const { kernel, parent } = boot();
      mapAt(kernel, AT, P);
      parent.write(AT, [1]);
      const child = forked(kernel, parent);
      return [parent, child].map((t) => t.mm.vmas.find(AT)!.anon!.id);
    };
    expect(ids()).toEqual(ids());
  });
});

describe('vfork, clone(CLONE_VM), threads and exit', () => {
  it('vfork and CLONE_VM share the address space; exits leave it, the last one tears it down', () => {
    const { kernel, parent, ok } = boot();
    const free = kernel.frames.freePages;
    mapAt(kernel, AT, 2 * P);
    parent.write(AT, [1]);
    const v = kernel.vfork(parent);
    if (typeof v === 'number') throw new Error('vfork failed');
    const shared = forked(kernel, parent, CLONE_VM);
    expect(v.mm).toBe(parent.mm);
    expect(shared.mm).toBe(parent.mm);
    expect(parent.mm.users).toBe(3);
    ok();
    v.write(AT + 1, [2]);
    expect([...parent.read(AT, 2)]).toEqual([1, 2]);
    expect(v.files).not.toBe(parent.files);
    kernel.exit(parent);
    kernel.exit(v);
    ok();
    expect([...shared.read(AT, 2)]).toEqual([1, 2]);
    expect(parent.mm.users).toBe(1);
    kernel.exit(shared);
    ok();
    expect(kernel.frames.freePages).toBe(free + 1);
  });

  it('threads share memory and files, each is its own task for switchTo, and the group id is the leader’s', () => {
    const { kernel, parent, ok } = boot();
    const t1 = forked(kernel, parent, CLONE_THREAD_FLAGS);
    const t2 = forked(kernel, t1, CLONE_THREAD_FLAGS);
    expect([t1.tgid, t2.tgid]).toEqual([parent.pid, parent.pid]);
    expect(new Set([parent.pid, t1.pid, t2.pid]).size).toBe(3);
    expect(t2.files).toBe(parent.files);
    kernel.switchTo(t2);
    expect(kernel.current).toBe(t2);
    const addr = kernel.sys.mmap(0, P, RW, ANON, -1, 0);
    t1.write(addr, [42]);
    kernel.switchTo(parent);
    expect([...parent.read(addr, 1)]).toEqual([42]);
    kernel.exit(t1);
    expect(() => kernel.switchTo(t1)).toThrow(/not alive/);
    expect([...t2.read(addr, 1)]).toEqual([42]);
    ok();
  });

  it('CLONE_FILES shares the file table; a fork copies it', () => {
    const { kernel, parent } = boot();
    const a = forked(kernel, parent, CLONE_FILES);
    const b = forked(kernel, parent);
    parent.files.set(5, { file: new MemoryObject('/x', 8, 1, 9, 'file'), readable: true, writable: true });
    expect(a.files.get(5)).toBeDefined();
    expect(b.files.get(5)).toBeUndefined();
  });

  it('refuses the flag combinations Linux refuses', () => {
    const { kernel, parent } = boot();
    expect(kernel.clone(parent, CLONE_THREAD | CLONE_VM)).toBe(-EINVAL);
    expect(kernel.clone(parent, CLONE_SIGHAND)).toBe(-EINVAL);
    expect(kernel.tasks.size).toBe(1);
  });

  it('exit of every process of a tree returns every frame and table, in any order', () => {
    const { kernel, parent, ok } = boot();
    const free = kernel.frames.freePages;
    mapAt(kernel, AT, 8 * P);
    mapAt(kernel, AT + 0x4000_0000, 2 * P, RW, MAP_SHARED | MAP_ANONYMOUS);
    for (let i = 0; i < 8; i++) parent.write(AT + i * P, [i]);
    parent.write(AT + 0x4000_0000, [1]);
    const c = forked(kernel, parent);
    c.write(AT, [9]);
    const g = forked(kernel, c);
    g.write(AT + 0x4000_0000 + P, [2]);
    const t = forked(kernel, g, CLONE_THREAD_FLAGS);
    t.write(AT + P, [8]);
    for (const task of [c, parent, t, g]) {
      kernel.exit(task);
      ok();
    }
    expect(kernel.frames.freePages).toBe(free + 1);
    expect(kernel.accounting.committed).toBe(0);
  });
});
