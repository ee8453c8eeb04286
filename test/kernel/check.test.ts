/**
 * The invariant checker, proven by mutation: a live kernel (private, read-only, shared and heap
 * memory, page tables, the zero page, a guard marker, a page given up with MADV_FREE, TLB entries)
 * checks clean; then each invariant the checker claims is broken in exactly one way, and check()
 * must report a message naming it.
 */
import {
  type Arch,
  FrameUse,
  Kernel,
  MADV_FREE,
  MADV_GUARD_INSTALL,
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_PRIVATE,
  MAP_SHARED,
  type PhysAddr,
  PROT_READ,
  PROT_WRITE,
  type Task,
  type VirtAddr,
  VM_MAYREAD,
  VM_READ,
  Vma,
} from 'levitate-mm';
import { describe, expect, it } from 'vitest';

const P = 4096;
const RW = PROT_READ | PROT_WRITE;
const ANON = MAP_PRIVATE | MAP_ANONYMOUS;
/** Private writable memory: pages 0-3 written, 4 read (the zero page), 5 a guard, 3 given up. */
const A = 0x1000_0000;
/** Private read-only memory, page 0 read. */
const B = 0x2000_0000;
/** Shared anonymous memory, page 0 written (a shmem page). */
const S = 0x3000_0000;
/** Nothing is mapped here. */
const HOLE = 0x5000_0000;

interface Live {
  k: Kernel;
  t: Task;
  /** The frame mapped at `va`. */
  frameAt: (va: number) => PhysAddr;
}

function live(arch: Arch): Live {
  const k = new Kernel({ arch, paging: 'demand', ramBytes: 8 * 2 ** 20, layout: { zeroPageReads: true } });
  const t = k.spawn();
  expect(k.sys.mmap(A, 8 * P, RW, ANON | MAP_FIXED, -1, 0)).toBe(A);
  for (let p = 0; p < 4; p++) t.write(A + p * P, [p + 1]);
  t.read(A + 4 * P, 1);
  expect(k.sys.madvise(A + 5 * P, P, MADV_GUARD_INSTALL)).toBe(0);
  expect(k.sys.madvise(A + 3 * P, P, MADV_FREE)).toBe(0);
  expect(k.sys.mmap(B, 2 * P, PROT_READ, ANON | MAP_FIXED, -1, 0)).toBe(B);
  t.read(B, 1);
  expect(k.sys.mmap(S, 2 * P, RW, MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED, -1, 0)).toBe(S);
  t.write(S, [9]);
  t.mm.startBrk = t.mm.brk = 0x40_0000;
  expect(k.sys.brk(0x40_0000 + 2 * P)).toBe(0x40_0000 + 2 * P);
  t.write(0x40_0000, [1]);
  const frameAt = (va: number) => {
    const f = t.mm.pageTable.translate(va as VirtAddr);
    expect(f).toBeGreaterThan(0);
    return f as PhysAddr;
  };
  return { k, t, frameAt };
}

const index = (k: Kernel, pa: number) => k.frames.frameIndex(pa as PhysAddr);

/** Writes entry `i` of table `table` and counts it, as the page-table code would. */
function writeEntry(k: Kernel, table: number, i: number, lo: number, hi: number): void {
  k.ram.write64((table + i * 8) as PhysAddr, lo, hi);
  k.frames.count[index(k, table)]++;
}

/** The physical address of the last-level entry for `va` (its tables must exist). */
function leafEntry(k: Kernel, root: number, va: number): PhysAddr {
  const g = k.geometry;
  let table = root;
  for (let level = 0; ; level++) {
    const e = (table + (Math.floor(va / g.levelDiv[level]) & g.levelMask[level]) * 8) as PhysAddr;
    if (level === g.levels - 1) return e;
    table = k.format.address(k.ram.readLo(e), k.ram.readHi(e));
  }
}

/** The allocator's private free-list state, for corrupting it. */
interface AllocatorInternals {
  free: number;
  pcp: Int32Array;
  pcpCount: number;
}

/** A root-table index no mapping of the live kernel uses. */
const UNUSED_ROOT_INDEX = 200;

const MUTATIONS: { name: string; report: RegExp; mutate: (l: Live) => void }[] = [
  {
    name: 'a frame both free and mapped',
    report: /page 0x10000000 is frame 0x[0-9a-f]+, which is free/,
    mutate: ({ k, frameAt }) => k.frames.freePage(frameAt(A)),
  },
  {
    name: 'a frame on the free lists twice',
    report: /is on the free lists twice/,
    mutate: ({ k }) => {
      const a = k.frames as unknown as AllocatorInternals;
      const f = k.frames.allocPage(FrameUse.UserData)!;
      k.frames.freePage(f);
      a.pcp[a.pcpCount++] = index(k, f);
    },
  },
  {
    name: 'a frame on the free lists while handed out',
    report: /frame 0x[0-9a-f]+ is on the free lists but handed out/,
    mutate: ({ k, frameAt }) => {
      const a = k.frames as unknown as AllocatorInternals;
      a.pcp[a.pcpCount++] = index(k, frameAt(A + P));
    },
  },
  {
    name: 'a wrong free counter',
    report: /free counter says \d+, free lists hold \d+/,
    mutate: ({ k }) => {
      (k.frames as unknown as AllocatorInternals).free++;
    },
  },
  {
    name: 'a leaked frame',
    report: /^frame 0x[0-9a-f]+ is allocated but owned by nothing \(leak\)$/,
    mutate: ({ k }) => k.frames.allocPage(FrameUse.UserData),
  },
  {
    name: 'a leaked kernel frame',
    report: /^kernel frame 0x[0-9a-f]+ is allocated but owned by nothing \(leak\)$/,
    mutate: ({ k }) => k.frames.allocPage(FrameUse.Kernel),
  },
  {
    name: 'a wrong reference count',
    report: /user frame 0x[0-9a-f]+ counts 2 mappings, has 1/,
    mutate: ({ k, frameAt }) => {
      k.frames.count[index(k, frameAt(A))]++;
    },
  },
  {
    name: 'a wrong reference count of the zero page',
    report: /kernel frame 0x[0-9a-f]+ counts \d+ mappings, has \d+/,
    mutate: ({ k }) => {
      k.frames.count[index(k, k.zeroFrame)]++;
    },
  },
  {
    name: 'a user frame marked as something else',
    report: /user frame 0x[0-9a-f]+ is not marked as user memory/,
    mutate: ({ k, frameAt }) => {
      k.frames.use[index(k, frameAt(A))] = FrameUse.Kernel;
    },
  },
  {
    name: 'a table frame marked wrong',
    report: /table 0x[0-9a-f]+ is not marked as a page-table frame/,
    mutate: ({ k, t }) => {
      k.frames.use[index(k, t.mm.pageTable.root)] = FrameUse.UserData;
    },
  },
  {
    name: 'the zero page marked as user memory',
    report: /kernel frame 0x[0-9a-f]+ is not marked as kernel memory/,
    mutate: ({ k }) => {
      k.frames.use[index(k, k.zeroFrame)] = FrameUse.UserData;
    },
  },
  {
    name: "a table's cached entry count wrong",
    report: /table 0x[0-9a-f]+ caches \d+ valid entries but holds \d+/,
    mutate: ({ k, t }) => {
      k.frames.count[index(k, t.mm.pageTable.root)]++;
    },
  },
  {
    name: 'an empty intermediate table',
    report: /empty table 0x[0-9a-f]+ at level 1 was not freed/,
    mutate: ({ k, t }) => {
      const table = k.frames.allocPage(FrameUse.PageTable)!;
      k.ram.zero(table, P);
      writeEntry(k, t.mm.pageTable.root, UNUSED_ROOT_INDEX, k.format.tableLo(table), k.format.tableHi(table));
    },
  },
  {
    name: 'a table with two parents',
    report: /frame 0x[0-9a-f]+ is owned twice: by a page table and as table 0x[0-9a-f]+/,
    mutate: ({ k, t }) => {
      const root = t.mm.pageTable.root;
      const lo = k.ram.readLo(root as PhysAddr);
      const hi = k.ram.readHi(root as PhysAddr);
      expect(k.format.isValid(lo)).toBe(true);
      writeEntry(k, root, UNUSED_ROOT_INDEX, lo, hi);
    },
  },
  {
    name: 'a block descriptor where a table belongs',
    report: /block descriptor at level 0/,
    mutate: ({ k, t }) => {
      const root = t.mm.pageTable.root;
      const lo = k.ram.readLo(root as PhysAddr);
      // A valid entry that is not a table: AArch64 clears bit 1, x86-64 sets PS.
      const block = k.arch === 'aarch64' ? lo & ~2 : lo | 0x80;
      expect(k.format.isValid(block) && !k.format.isTable(block)).toBe(true);
      writeEntry(k, root, UNUSED_ROOT_INDEX, block, k.ram.readHi(root as PhysAddr));
    },
  },
  {
    name: 'a page table mapped as user memory',
    report: /frame 0x[0-9a-f]+ is owned twice: by a page table and as page 0x10006000/,
    mutate: ({ t }) => {
      t.mm.pageTable.map((A + 6 * P) as VirtAddr, t.mm.pageTable.root, PROT_READ);
    },
  },
  {
    name: 'a leaf pointing outside RAM',
    report: /page 0x10006000 points at 0x[0-9a-f]+, which is not a frame of RAM/,
    mutate: ({ k, t }) => {
      const outside = (k.ram.base + k.ram.size + 16 * P) as PhysAddr;
      const e = leafEntry(k, t.mm.pageTable.root, A + 6 * P);
      expect(k.format.isValid(k.ram.readLo(e))).toBe(false);
      writeEntry(
        k,
        e - (e % P),
        (e % P) / 8,
        k.format.leafLo(outside, PROT_READ),
        k.format.leafHi(outside, PROT_READ),
      );
    },
  },
  {
    name: 'a stray leaf outside any VMA',
    report: /page 0x50000000 is mapped outside any VMA/,
    mutate: ({ k, t }) => {
      const f = k.frames.allocPage(FrameUse.UserData)!;
      t.mm.pageTable.map(HOLE as VirtAddr, f, RW);
    },
  },
  {
    name: 'a leaf with more rights than its VMA',
    report: /page 0x20000000 grants rw- but its VMA allows r--/,
    mutate: ({ t }) => t.mm.pageTable.protectRange(B, B + P, () => RW),
  },
  {
    name: 'a writable zero page',
    report: /kernel frame 0x[0-9a-f]+ is mapped writable at 0x10004000/,
    mutate: ({ t }) => t.mm.pageTable.protectRange(A + 4 * P, A + 5 * P, () => RW),
  },
  {
    name: 'the zero page in shared memory',
    report: /kernel frame 0x[0-9a-f]+ is mapped at 0x30001000, in a file or shared mapping/,
    mutate: ({ k, t }) => {
      t.mm.pageTable.map((S + P) as VirtAddr, k.zeroFrame, PROT_READ);
    },
  },
  {
    name: 'one private frame mapped writable at two addresses',
    report: /private frame 0x[0-9a-f]+ is mapped writable at 0x10000000 and at 0x10006000/,
    mutate: ({ t, frameAt }) => {
      t.mm.pageTable.map((A + 6 * P) as VirtAddr, frameAt(A), RW);
    },
  },
  {
    name: 'a shared page mapped writable into private memory',
    report: /private frame 0x[0-9a-f]+ is mapped writable at 0x10006000 but has 3 mappings/,
    mutate: ({ t, frameAt }) => {
      t.mm.pageTable.map((A + 6 * P) as VirtAddr, frameAt(S), RW);
    },
  },
  {
    name: 'a page shared by fork left writable in one process',
    report: /private frame 0x[0-9a-f]+ is mapped writable at 0x10000000 but has 2 mappings/,
    mutate: ({ k, t }) => {
      const child = k.fork(t);
      expect(typeof child).not.toBe('number');
      expect(t.mm.pageTable.translate(A as VirtAddr)).toBe(
        (child as Task).mm.pageTable.translate(A as VirtAddr),
      );
      t.mm.pageTable.protectRange(A, A + P, () => RW);
    },
  },
  {
    name: 'two mergeable neighbours',
    report: /VMAs 0x10000000-0x10004000 and 0x10004000-0x10008000 should have been merged/,
    mutate: ({ t }) => {
      t.mm.splitVma(t.mm.vmas.find(A)!, A + 4 * P, null);
    },
  },
  {
    name: 'two mergeable neighbours of the same shmem object',
    report: /VMAs 0x30000000-0x30001000 and 0x30001000-0x30002000 should have been merged/,
    mutate: ({ t }) => {
      t.mm.splitVma(t.mm.vmas.find(S)!, S + P, null);
    },
  },
  {
    name: 'a VMA moved behind the tree',
    report: /VMA tree: .*changed behind the tree's back/,
    mutate: ({ t }) => {
      t.mm.vmas.find(B)!.end += P;
    },
  },
  {
    name: 'a VMA that is not page-aligned',
    report: /VMA 0x50000000-0x50000800 is empty or not page-aligned/,
    mutate: ({ t }) => {
      t.mm.insertVma(
        new Vma({ start: HOLE, end: HOLE + 0x800, flags: VM_READ | VM_MAYREAD, pgoff: 0 }),
        null,
      );
    },
  },
  {
    name: 'a VMA past TASK_SIZE',
    report: /runs past TASK_SIZE/,
    mutate: ({ t }) => {
      const top = t.mm.layout.taskSize;
      t.mm.insertVma(new Vma({ start: top, end: top + P, flags: VM_READ | VM_MAYREAD, pgoff: 0 }), null);
    },
  },
  ...(
    [
      ['total_vm', 'totalVm'],
      ['data_vm', 'dataVm'],
      ['stack_vm', 'stackVm'],
      ['exec_vm', 'execVm'],
      ['accounted_vm', 'accountedVm'],
    ] as const
  ).map(([name, field]) => ({
    name: `a wrong ${name}`,
    report: new RegExp(`^${name} is \\d+ pages, VMAs add up to \\d+$`),
    mutate: ({ t }: Live) => {
      t.mm[field]++;
    },
  })),
  {
    name: 'a wrong commit charge',
    report: /commit charge is \d+ pages, but accounted VMAs hold \d+ and 0 are leaked/,
    mutate: ({ k }) => {
      k.accounting.committed++;
    },
  },
  {
    name: 'a shmem object that lost track of a VMA mapping it',
    report: /\/dev\/zero \(deleted\) counts 0 mapping VMAs, has 1/,
    mutate: ({ t }) => {
      const vma = t.mm.vmas.find(S)!;
      vma.file!.mappedBy.delete(vma);
    },
  },
  {
    name: 'a shmem object that lists a dead VMA in place of the one mapping it',
    report: /VMA 0x30000000-0x30002000 maps \/dev\/zero \(deleted\), which does not list it/,
    mutate: ({ t }) => {
      const vma = t.mm.vmas.find(S)!;
      vma.file!.mappedBy.delete(vma);
      vma.file!.mappedBy.set(vma.cloneAt(vma.start, vma.end, P), t.mm);
    },
  },
  {
    name: 'a shmem object that lists a VMA under another address space',
    report: /\/dev\/zero \(deleted\) lists VMA 0x30000000-0x30002000 under another address space/,
    mutate: ({ k, t }) => {
      const vma = t.mm.vmas.find(S)!;
      vma.file!.mappedBy.set(vma, k.spawn().mm);
    },
  },
  {
    name: 'a stale TLB entry',
    report: /TLB says 0x10000000 -> 0x[0-9a-f]+ rw-, tables say 0x[0-9a-f]+ rw-/,
    mutate: ({ k, t, frameAt }) => {
      t.read(A, 1);
      k.tlb.insert(t.mm.pageTable.root, A as VirtAddr, frameAt(A + P), RW);
    },
  },
  {
    name: 'a TLB entry of a dead address space',
    report: /TLB holds 0x10000000 of a dead address space/,
    mutate: ({ k, frameAt }) =>
      k.tlb.insert((k.ram.base + 123 * P) as PhysAddr, A as VirtAddr, frameAt(A), RW),
  },
  {
    name: 'a guard marker over a mapped page',
    report: /guard marker at 0x10000000 covers a mapped page/,
    mutate: ({ t }) => t.mm.guards.add(A),
  },
  {
    name: 'a guard marker outside any VMA',
    report: /guard marker at 0x50000000 lies outside any VMA/,
    mutate: ({ t }) => t.mm.guards.add(HOLE),
  },
  {
    name: 'an MADV_FREE mark naming another frame',
    report: /MADV_FREE mark at 0x10003000 names frame 0x[0-9a-f]+, but 0x[0-9a-f]+ is mapped there/,
    mutate: ({ t, frameAt }) => t.mm.lazyFree.set(A + 3 * P, frameAt(A)),
  },
  {
    name: 'an MADV_FREE page left writable',
    report: /MADV_FREE page at 0x10003000 is writable/,
    mutate: ({ t }) => t.mm.pageTable.protectRange(A + 3 * P, A + 4 * P, () => RW),
  },
  {
    name: 'an MADV_FREE mark in shared memory',
    report: /MADV_FREE mark at 0x30000000 lies outside private anonymous memory/,
    mutate: ({ t, frameAt }) => t.mm.lazyFree.set(S, frameAt(S)),
  },
  {
    name: 'a resident-page counter off by one',
    report: /the present-leaf counter says \d+, the tables hold \d+/,
    mutate: ({ t }) => {
      t.mm.pageTable.presentLeaves++;
    },
  },
  {
    name: 'a page-table counter off by one',
    report: /the page-table counter says \d+ tables, the tree holds \d+/,
    mutate: ({ t }) => {
      t.mm.pageTable.tablePages--;
    },
  },
];

describe.each(['aarch64', 'x86_64'] as const)('kernel.check() on %s', (arch) => {
  it('finds nothing wrong in the live kernel', () => {
    const l = live(arch);
    expect(l.t.mm.guards.size).toBe(1);
    expect(l.t.mm.lazyFree.size).toBe(1);
    expect(l.t.mm.pageTable.translate((A + 4 * P) as VirtAddr)).toBe(l.k.zeroFrame);
    expect(l.k.check()).toEqual([]);
  });

  it.each(MUTATIONS)('names $name', ({ mutate, report }) => {
    const l = live(arch);
    // A check first: what it keeps for the next one (the tables it read) must not hide the change.
    expect(l.k.check()).toEqual([]);
    mutate(l);
    const found = l.k.check();
    expect(
      found.some((m) => report.test(m)),
      `check() said:\n${found.join('\n')}`,
    ).toBe(true);
  });
});
