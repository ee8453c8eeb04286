import { hex, type VirtAddr } from '../hal/addr.js';
import { RAM_PAGE_BYTES } from '../hal/ram.js';
import { formatRights, R_WRITE } from '../hal/rights.js';
import { type AddressSpace, isDataMapping, isExecMapping, isStackMapping } from '../mm/address-space.js';
import { FrameUse } from '../mm/frame-allocator.js';
import { VM_ACCOUNT, VM_HUGETLB, VM_SHARED, VM_SPECIAL } from '../mm/vm-flags.js';
import type { Vma } from '../mm/vma.js';
import { mergeableNeighbours } from '../mm/vma-merge.js';
import { type CheckRun, Owner, PageName } from './check-run.js';

/**
 * The invariants of one address space: its VMAs and counters, its page tables and every present
 * leaf, its guard markers and MADV_FREE marks. Returns the pages its VM_ACCOUNT VMAs hold, for the
 * kernel-wide commit charge.
 */
export function checkAddressSpace(run: CheckRun, space: AddressSpace): number {
  const vmas = space.vmas.toArray();
  const accounted = checkVmas(run, space, vmas);
  checkTables(run, space, vmas);
  checkMarks(run, space);
  return accounted;
}

/** Order, alignment, merging, and every per-mm counter recomputed from the VMAs. */
function checkVmas(run: CheckRun, space: AddressSpace, vmas: readonly Vma[]): number {
  const { out } = run;
  const { pageSize } = space;
  for (const v of space.vmas.check()) out.push(`VMA tree: ${v}`);
  let total = 0;
  let data = 0;
  let stack = 0;
  let exec = 0;
  let accounted = 0;
  let prev: Vma | undefined;
  for (const v of vmas) {
    if (v.start % pageSize || v.end % pageSize || v.start >= v.end)
      out.push(`VMA ${rangeOf(v)} is empty or not page-aligned`);
    if (v.end > space.layout.taskSize) out.push(`VMA ${rangeOf(v)} runs past TASK_SIZE`);
    if (prev !== undefined && mergeableNeighbours(prev, v, pageSize) && v.unmergedWith !== prev)
      out.push(`VMAs ${rangeOf(prev)} and ${rangeOf(v)} should have been merged`);
    const pages = (v.end - v.start) / pageSize;
    total += pages;
    if (isExecMapping(v.flags)) exec += pages;
    else if (isStackMapping(v.flags)) stack += pages;
    else if (isDataMapping(v.flags)) data += pages;
    if (v.flags & VM_ACCOUNT) accounted += pages;
    if (v.file !== null) {
      run.objects.set(v.file, (run.objects.get(v.file) ?? 0) + 1);
      // The object must know the VMA and its address space (MADV_REMOVE reaches the other
      // processes mapping it this way); checkObjects then compares the counts.
      const listed = v.file.mappedBy.get(v);
      if (listed === undefined) out.push(`VMA ${rangeOf(v)} maps ${v.file.path}, which does not list it`);
      else if (listed !== space)
        out.push(`${v.file.path} lists VMA ${rangeOf(v)} under another address space`);
    }
    prev = v;
  }
  const counters: [string, number, number][] = [
    ['total_vm', space.totalVm, total],
    ['data_vm', space.dataVm, data],
    ['stack_vm', space.stackVm, stack],
    ['exec_vm', space.execVm, exec],
    ['accounted_vm', space.accountedVm, accounted],
  ];
  for (const [name, cached, actual] of counters)
    if (cached !== actual) out.push(`${name} is ${cached} pages, VMAs add up to ${actual}`);
  return accounted;
}

/**
 * One walk over the tables: each table claimed once and counted right, no intermediate table
 * empty; each present leaf inside a VMA, within its rights, mapping an allocated frame that is a
 * user frame (or the kernel's zero page, read-only, in private anonymous memory), a privately
 * writable frame nowhere else. Leaves come in address order, so the VMA of each is found by
 * walking the VMAs alongside.
 */
function checkTables(run: CheckRun, space: AddressSpace, vmas: readonly Vma[]): void {
  const { format, geometry, frames } = run.k;
  const { out } = run;
  const root = space.pageTable.root;
  const last = geometry.levels - 1;
  let next = 0;
  let rightsOf: Vma | undefined;
  let allowed = 0;
  let tables = 0;
  let leaves = 0;

  const where = new PageName();
  const tableName = new PageName('table');
  const entryName = {
    level: 0,
    toString(): string {
      return `a table entry at level ${this.level}`;
    },
  };
  const leaf = (va: number, frame: number, rights: number): void => {
    leaves++;
    where.va = va;
    const f = run.frameNumber(frame, where);
    if (f < 0) return;
    const kernel = run.ownerOf(f) === Owner.Kernel;
    run.claim(f, kernel ? Owner.Kernel : Owner.User, where);
    run.reference(f);
    while (next < vmas.length && vmas[next].end <= va) next++;
    const vma = next < vmas.length && vmas[next].start <= va ? vmas[next] : undefined;
    if (vma === undefined) {
      out.push(`${where} is mapped outside any VMA`);
      return;
    }
    if (vma !== rightsOf) {
      rightsOf = vma;
      allowed = format.rightsFor(vma.prot);
    }
    if (rights & ~allowed)
      out.push(`${where} grants ${formatRights(rights)} but its VMA allows ${formatRights(allowed)}`);
    if (kernel) {
      if (rights & R_WRITE) out.push(`kernel frame ${hex(frame)} is mapped writable at ${hex(va)}`);
      // The zero page belongs in private anonymous memory only (a private /dev/zero mapping is).
      if (!vma.anonymous || vma.flags & VM_SHARED)
        out.push(`kernel frame ${hex(frame)} is mapped at ${hex(va)}, in a file or shared mapping`);
    } else if (rights & R_WRITE && !(vma.flags & VM_SHARED)) {
      const first = run.markWritable(f, va);
      if (first >= 0)
        out.push(`private frame ${hex(frame)} is mapped writable at ${hex(first)} and at ${hex(va)}`);
    }
  };

  const walk = (table: number, level: number, base: number): void => {
    tableName.va = table;
    entryName.level = level - 1;
    const f = run.frameNumber(table, entryName);
    if (f < 0 || !run.claim(f, Owner.Table, tableName)) return;
    tables++;
    if (frames.use[f] !== FrameUse.PageTable)
      out.push(`table ${hex(table)} is not marked as a page-table frame`);
    const span = geometry.levelSpan[level];
    const entries = geometry.levelMask[level] + 1;
    let valid = 0;
    const bytes = entries * 8;
    for (let page = 0; page < bytes; page += RAM_PAGE_BYTES) {
      const found = run.tableEntries(table + page, Math.min(RAM_PAGE_BYTES, bytes - page));
      for (let j = 0; j < found.length; j += 4) {
        valid++;
        const va = base + (page / 8 + found[j]) * span;
        if (level === last) leaf(va, found[j + 1], found[j + 2]);
        else if (found[j + 3] === 1) walk(found[j + 1], level + 1, va);
        else out.push(`block descriptor at level ${level} for ${hex(va)}`);
      }
    }
    if (frames.count[f] !== valid)
      out.push(`table ${hex(table)} caches ${frames.count[f]} valid entries but holds ${valid}`);
    if (valid === 0 && table !== root) out.push(`empty table ${hex(table)} at level ${level} was not freed`);
  };
  walk(root, 0, 0);
  const pt = space.pageTable;
  if (pt.tablePages !== tables)
    out.push(`the page-table counter says ${pt.tablePages} tables, the tree holds ${tables}`);
  if (pt.presentLeaves !== leaves)
    out.push(`the present-leaf counter says ${pt.presentLeaves}, the tables hold ${leaves}`);
}

/** Guard markers and MADV_FREE marks agree with the VMAs and the tables. */
function checkMarks(run: CheckRun, space: AddressSpace): void {
  const { out } = run;
  const rights = new Uint8Array(1);
  // Guard markers by run: the VMAs along each, and only its present leaves (there should be none).
  for (const [start, end] of space.guards.ranges()) {
    if (start % space.pageSize || end % space.pageSize)
      out.push(`guard marker at ${hex(start)} is not page-aligned`);
    let at = start;
    for (
      let v = space.vmas.firstIntersecting(start, end);
      v !== undefined && v.start < end;
      v = space.vmas.next(v)
    ) {
      if (v.start > at) out.push(`guard marker at ${hex(at)} lies outside any VMA`);
      if (v.flags & (VM_SPECIAL | VM_HUGETLB))
        out.push(`guard marker at ${hex(Math.max(v.start, start))} lies in a VMA that cannot have one`);
      at = v.end;
    }
    if (at < end) out.push(`guard marker at ${hex(at)} lies outside any VMA`);
    space.pageTable.visitLeaves(start, end, (_e, va) =>
      out.push(`guard marker at ${hex(va)} covers a mapped page`),
    );
  }
  for (const [va, frame] of space.lazyFree) {
    const vma = space.vmas.find(va);
    if (vma === undefined || !vma.anonymous || vma.flags & VM_SHARED)
      out.push(`MADV_FREE mark at ${hex(va)} lies outside private anonymous memory`);
    const mapped = space.pageTable.translate(va as VirtAddr, rights);
    if (mapped !== frame) {
      const there = mapped < 0 ? 'nothing is mapped there' : `${hex(mapped)} is mapped there`;
      out.push(`MADV_FREE mark at ${hex(va)} names frame ${hex(frame)}, but ${there}`);
    } else if (rights[0] & R_WRITE) {
      out.push(`MADV_FREE page at ${hex(va)} is writable, so no write would take it back`);
    }
  }
}

const rangeOf = (v: Vma) => `${hex(v.start)}-${hex(v.end)}`;
