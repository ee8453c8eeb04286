/**
 * Shadow memory: a model, independent of the kernel's, of what every user byte of one task must read.
 * It follows the documented effect of each successful call on data: a new private mapping reads
 * zero, a shared one is a new object whose pages every mapping of it sees, munmap and brk drop
 * pages, mremap moves them (a grown private tail reads zero, a grown shared one continues the
 * object), MADV_DONTNEED and guard installation zero private pages, MADV_REMOVE zeroes the object,
 * MADV_FREE makes a page read either its old bytes or zero until it is written. Reads are compared
 * with it; `sweep` compares every present page and every page it knows.
 */
import {
  type Kernel,
  MADV_DOFORK,
  MADV_DONTFORK,
  MADV_DONTNEED,
  MADV_DONTNEED_LOCKED,
  MADV_FREE,
  MADV_GUARD_INSTALL,
  MADV_KEEPONFORK,
  MADV_REMOVE,
  MADV_WIPEONFORK,
  MAP_DROPPABLE,
  MAP_GROWSDOWN,
  MAP_SHARED,
  MAP_SHARED_VALIDATE,
  MAP_TYPE,
  MREMAP_DONTUNMAP,
  MREMAP_FIXED,
  type Task,
  VM_DONTCOPY,
  VM_GROWSDOWN,
  VM_MAYSHARE,
  VM_WIPEONFORK,
} from 'levitate-mm';

/** The possible contents of one page (null: all zero); `lazy` pages may also read zero at any time. */
interface Cell {
  cands: (Uint8Array | null)[];
  lazy: boolean;
}

/** The pages of a private mapping's memory, or of a shared object, by page index. */
class Store {
  readonly pages = new Map<number, Cell>();
  constructor(readonly shared: boolean) {}
}

interface Segment {
  start: number;
  end: number;
  store: Store;
  /** Store index of the page at `start`. */
  base: number;
  growsdown: boolean;
  /** A private file mapping (from the boot snapshot): MADV_FREE refuses it. */
  file: boolean;
  /** MADV_DONTFORK: a fork's child does not get it. */
  dontfork: boolean;
  /** MADV_WIPEONFORK (or MAP_DROPPABLE): a fork's child gets it reading zero. */
  wipe: boolean;
}

/** What a fresh mapping inherits: from the mapping it grows, or nothing. */
type Inherited = Pick<Segment, 'growsdown' | 'dontfork' | 'wipe'>;
const PLAIN: Inherited = { growsdown: false, dontfork: false, wipe: false };
const inherit = (s: Segment | undefined): Inherited =>
  s === undefined ? PLAIN : { growsdown: s.growsdown, dontfork: s.dontfork, wipe: s.wipe };

/** Below this many bytes a loop compares faster than a call into the host's memcmp. */
const SHORT = 32;
const view = (b: Uint8Array, from: number, n: number) => Buffer.from(b.buffer, b.byteOffset + from, n);

/** Whether a[aOff, aOff + n) and b[bOff, bOff + n) hold the same bytes. */
function bytesEqual(a: Uint8Array, aOff: number, b: Uint8Array, bOff: number, n: number): boolean {
  if (n < SHORT) {
    for (let i = 0; i < n; i++) if (a[aOff + i] !== b[bOff + i]) return false;
    return true;
  }
  return view(a, aOff, n).equals(view(b, bOff, n));
}

/** Whether b[from, to) is all zero: its first byte is, and every byte equals the next. */
const isZero = (b: Uint8Array, from = 0, to = b.length) =>
  to <= from || (b[from] === 0 && bytesEqual(b, from, b, from + 1, to - from - 1));

function sameBytes(a: Uint8Array | null, b: Uint8Array, off: number, n: number, at = 0): boolean {
  return a === null ? isZero(b, at, at + n) : bytesEqual(a, off, b, at, n);
}

const hex = (n: number) => `0x${n.toString(16)}`;
const pageAlign = (n: bigint, ps: number) => ((n + BigInt(ps) - 1n) / BigInt(ps)) * BigInt(ps);

export class Shadow {
  private segs: Segment[] = [];

  constructor(readonly pageSize: number) {}

  /** A shadow of the task's address space as it is now, every page reading zero (a fresh boot). */
  static ofTask(task: Task): Shadow {
    const s = new Shadow(task.mm.pageSize);
    const objects = new Map<object, Store>();
    for (const v of task.mm.vmas) {
      const shared = (v.flags & VM_MAYSHARE) !== 0;
      let store = new Store(shared);
      if (shared && v.file !== null) {
        store = objects.get(v.file) ?? store;
        objects.set(v.file, store);
      }
      s.segs.push({
        start: v.start,
        end: v.end,
        store,
        base: shared ? v.pgoff : 0,
        growsdown: (v.flags & VM_GROWSDOWN) !== 0,
        file: v.file !== null,
        dontfork: (v.flags & VM_DONTCOPY) !== 0,
        wipe: (v.flags & VM_WIPEONFORK) !== 0,
      });
    }
    return s;
  }

  private indexOf(va: number): number {
    let a = 0;
    let b = this.segs.length;
    while (a < b) {
      const m = (a + b) >> 1;
      if (this.segs[m].end <= va) a = m + 1;
      else b = m;
    }
    return a;
  }

  private segAt(va: number): Segment | undefined {
    const s = this.segs[this.indexOf(va)];
    return s !== undefined && s.start <= va ? s : undefined;
  }

  private cellKey(seg: Segment, va: number): number {
    return seg.base + Math.floor((va - seg.start) / this.pageSize);
  }

  /** Takes [lo, hi) out of the segments and returns the pieces; `drop` forgets private pages. */
  private cut(lo: number, hi: number, drop: boolean): Segment[] {
    const out: Segment[] = [];
    const keep: Segment[] = [];
    const ps = this.pageSize;
    for (const s of this.segs) {
      if (s.end <= lo || s.start >= hi) {
        keep.push(s);
        continue;
      }
      if (s.start < lo) keep.push({ ...s, end: lo });
      const start = Math.max(s.start, lo);
      const end = Math.min(s.end, hi);
      const piece = { ...s, start, end, base: s.base + (start - s.start) / ps };
      out.push(piece);
      if (drop && !s.store.shared) this.forget(piece);
      if (s.end > hi) keep.push({ ...s, start: hi, base: s.base + (hi - s.start) / ps });
    }
    this.segs = keep;
    return out;
  }

  private forget(piece: Segment): void {
    const last = piece.base + (piece.end - piece.start) / this.pageSize;
    for (const k of [...piece.store.pages.keys()])
      if (k >= piece.base && k < last) piece.store.pages.delete(k);
  }

  private insert(seg: Segment): void {
    const i = this.indexOf(seg.start);
    this.segs.splice(i, 0, seg);
  }

  private mapFresh(start: number, end: number, shared: boolean, attrs: Inherited): void {
    if (end <= start) return;
    this.cut(start, end, true);
    this.insert({ start, end, store: new Store(shared), base: 0, ...attrs, file: false });
  }

  /** Splits the segment that holds `va` there, so that `va` starts a segment. */
  private splitAt(va: number): void {
    const i = this.indexOf(va);
    const s = this.segs[i];
    if (s === undefined || s.start >= va) return;
    const upper = { ...s, start: va, base: this.cellKey(s, va) };
    this.segs.splice(i, 1, { ...s, end: va }, upper);
  }

  /** A fork's child: shared memory shared, private memory copied (zero where wiped), DONTFORK left out. */
  forked(): Shadow {
    const child = new Shadow(this.pageSize);
    const copies = new Map<Store, Store>();
    for (const s of this.segs) {
      if (s.dontfork) continue;
      if (s.store.shared) {
        child.segs.push({ ...s });
      } else if (s.wipe) {
        child.segs.push({ ...s, store: new Store(false), base: 0 });
      } else {
        let copy = copies.get(s.store);
        if (copy === undefined) {
          copy = new Store(false);
          for (const [k, cell] of s.store.pages)
            copy.pages.set(k, { cands: [...cell.cands], lazy: cell.lazy });
          copies.set(s.store, copy);
        }
        child.segs.push({ ...s, store: copy });
      }
    }
    return child;
  }

  /** Applies the effect on data of a call that succeeded (or, for madvise, of the pieces it applied to). */
  applyCall(name: string, a: readonly bigint[], result: number, oldBrk: number, taskSize: number): void {
    const ps = this.pageSize;
    const len = (v: bigint) => Number(pageAlign(BigInt.asUintN(64, v), ps));
    const u = (v: bigint) => Number(BigInt.asUintN(64, v));
    switch (name) {
      case 'mmap': {
        const flags = Number(BigInt.asUintN(32, a[3]));
        const type = flags & MAP_TYPE;
        this.mapFresh(result, result + len(a[1]), type === MAP_SHARED || type === MAP_SHARED_VALIDATE, {
          growsdown: (flags & MAP_GROWSDOWN) !== 0,
          dontfork: false,
          wipe: type === MAP_DROPPABLE,
        });
        return;
      }
      case 'munmap':
        this.cut(u(a[0]), Math.min(u(a[0]) + len(a[1]), taskSize), true);
        return;
      case 'brk': {
        const from = Math.ceil(oldBrk / ps) * ps;
        const to = Math.ceil(result / ps) * ps;
        if (to > from) this.mapFresh(from, to, false, PLAIN);
        else if (to < from) this.cut(to, from, true);
        return;
      }
      case 'mremap':
        this.remap(u(a[0]), len(a[1]), len(a[2]), Number(BigInt.asUintN(32, a[3])), result);
        return;
      case 'madvise':
        this.advise(u(a[0]), Math.min(u(a[0]) + len(a[1]), taskSize), Number(BigInt.asUintN(32, a[2])));
        return;
    }
  }

  private remap(addr: number, oldLen: number, newLen: number, flags: number, to: number): void {
    const ps = this.pageSize;
    if (to === addr && !(flags & (MREMAP_FIXED | MREMAP_DONTUNMAP))) {
      if (newLen < oldLen) this.cut(addr + newLen, addr + oldLen, true);
      else if (newLen > oldLen) this.extend(addr + oldLen, addr + newLen, this.segAt(addr + oldLen - ps));
      return;
    }
    if (oldLen === 0) {
      // A second mapping of the same shared object.
      const src = this.segAt(addr)!;
      this.cut(to, to + newLen, true);
      this.insert({ ...src, start: to, end: to + newLen, base: this.cellKey(src, addr) });
      return;
    }
    const moveLen = Math.min(oldLen, newLen);
    if (newLen < oldLen) this.cut(addr + newLen, addr + oldLen, true);
    const pieces = this.cut(addr, addr + moveLen, false);
    if (flags & MREMAP_DONTUNMAP) {
      for (const p of pieces) {
        if (p.store.shared) this.insert({ ...p });
        else this.insert({ ...p, store: new Store(false), base: 0 });
      }
    }
    // A same-size MREMAP_FIXED move clears only the target of each piece; any other, the whole target.
    const perPiece = flags & MREMAP_FIXED && oldLen === newLen;
    if (!perPiece) this.cut(to, to + newLen, true);
    for (const p of pieces) {
      const at = to + (p.start - addr);
      if (perPiece) this.cut(at, at + (p.end - p.start), true);
      this.insert({ ...p, start: at, end: at + (p.end - p.start) });
    }
    if (newLen > oldLen) this.extend(to + oldLen, to + newLen, this.segAt(to + oldLen - ps));
  }

  /** Grows a mapping in place: a shared one continues its object, a private one gets zero pages. */
  private extend(start: number, end: number, last: Segment | undefined): void {
    if (last === undefined || !last.store.shared) {
      this.mapFresh(start, end, false, inherit(last));
      return;
    }
    this.cut(start, end, true);
    this.insert({ ...last, start, end, base: this.cellKey(last, start - this.pageSize) + 1 });
  }

  private advise(start: number, end: number, advice: number): void {
    const fork: Partial<Inherited> | undefined = {
      [MADV_DONTFORK]: { dontfork: true },
      [MADV_DOFORK]: { dontfork: false },
      [MADV_WIPEONFORK]: { wipe: true },
      [MADV_KEEPONFORK]: { wipe: false },
    }[advice];
    if (fork !== undefined) {
      this.splitAt(start);
      this.splitAt(end);
      for (const s of this.segs) if (s.start >= start && s.end <= end) Object.assign(s, fork);
      return;
    }
    for (const s of this.segs) {
      if (s.end <= start || s.start >= end) continue;
      const lo = Math.max(s.start, start);
      const hi = Math.min(s.end, end);
      const piece = { ...s, start: lo, end: hi, base: this.cellKey(s, lo) };
      switch (advice) {
        case MADV_DONTNEED:
        case MADV_DONTNEED_LOCKED:
        case MADV_GUARD_INSTALL:
          if (!s.store.shared) this.forget(piece);
          break;
        case MADV_REMOVE:
          if (s.store.shared) this.forget(piece);
          break;
        case MADV_FREE:
          if (!s.store.shared && !s.file) {
            const last = piece.base + (hi - lo) / this.pageSize;
            for (const [k, cell] of s.store.pages) if (k >= piece.base && k < last) cell.lazy = true;
          }
          break;
      }
    }
  }

  /** After a successful access at `va` with no shadow page: a grows-down mapping above grew to it. */
  private grewTo(va: number): Segment | undefined {
    const ps = this.pageSize;
    const above = this.segs[this.indexOf(va)];
    if (above === undefined || !above.growsdown || above.start <= va) return undefined;
    const page = va - (va % ps);
    this.insert({
      start: page,
      end: above.start,
      store: new Store(false),
      base: 0,
      ...inherit(above),
      file: false,
    });
    return this.segAt(va);
  }

  /** [start, end) was unmapped (part of a failed call that Linux keeps). */
  unmap(start: number, end: number): void {
    this.cut(start, end, true);
  }

  /** [from, from+len) moved to `to` (a piece of a failed same-size mremap that Linux keeps). */
  move(from: number, to: number, len: number, dontUnmap: boolean): void {
    this.remap(from, len, len, MREMAP_FIXED | (dontUnmap ? MREMAP_DONTUNMAP : 0), to);
  }

  /** A grows-down mapping grew down over [start, end) (a fault that then failed the access). */
  grow(start: number, end: number): void {
    const above = this.segAt(end);
    this.insert({
      start,
      end,
      store: new Store(false),
      base: 0,
      ...inherit(above),
      growsdown: true,
      file: false,
    });
  }

  /**
   * Calls `fn` for each page piece of an access of `len` bytes at `va` that succeeded: its segment
   * (a stack grown to it if need be), the page's store key, the offset in the page, the offset in
   * the access and the length. Stops at the first problem `fn` describes.
   */
  private pieces(
    what: string,
    va: number,
    len: number,
    fn: (seg: Segment, key: number, off: number, done: number, n: number) => string | null,
  ): string | null {
    const ps = this.pageSize;
    for (let done = 0; done < len; ) {
      const at = va + done;
      const off = at % ps;
      const n = Math.min(ps - off, len - done);
      const seg = this.segAt(at) ?? this.grewTo(at);
      if (seg === undefined) return `a ${what} at ${hex(at)} succeeded where nothing is mapped`;
      const problem = fn(seg, this.cellKey(seg, at), off, done, n);
      if (problem !== null) return `${hex(at)} ${problem}`;
      done += n;
    }
    return null;
  }

  /** Checks bytes a read returned; describes the first mismatch, or returns null. */
  checkRead(va: number, bytes: Uint8Array): string | null {
    return this.pieces('read', va, bytes.length, (seg, key, off, done, n) => {
      const cell = seg.store.pages.get(key);
      if (cell === undefined)
        return isZero(bytes, done, done + n) ? null : `reads ${describe(bytes, done, n)}, expected zeros`;
      const fits = cell.cands.filter((c) => sameBytes(c, bytes.subarray(done), off, n));
      if (fits.length > 0) {
        cell.cands = fits;
        return null;
      }
      if (!cell.lazy || !isZero(bytes, done, done + n))
        return `reads ${describe(bytes, done, n)}, expected ${describe(cell.cands[0] ?? new Uint8Array(this.pageSize), off, n)}`;
      // A page given up with MADV_FREE was reclaimed: it reads zero from now on.
      cell.cands = [null];
      cell.lazy = false;
      return null;
    });
  }

  /** Records a write that succeeded; describes an impossible one (nothing mapped there), or returns null. */
  applyWrite(va: number, bytes: Uint8Array): string | null {
    return this.pieces('write', va, bytes.length, (seg, key, off, done, n) => {
      const cell = seg.store.pages.get(key) ?? { cands: [null], lazy: false };
      // A write to a page given up with MADV_FREE takes it back, reclaimed (zero) or not.
      const cands = cell.lazy ? [...cell.cands, null] : cell.cands;
      cell.cands = dedupe(
        cands.map((c) => {
          const page = c === null ? new Uint8Array(this.pageSize) : c.slice();
          page.set(bytes.subarray(done, done + n), off);
          return page;
        }),
      );
      cell.lazy = false;
      seg.store.pages.set(key, cell);
      return null;
    });
  }

  /**
   * Compares the shadow with the kernel: the same pages mapped (VMAs against segments), and every
   * present page and every page the shadow holds bytes for reading what it must. No side effects on
   * the kernel: pages are read through the tables and RAM, not by user accesses.
   */
  sweep(kernel: Kernel, task: Task): string[] {
    const out: string[] = [];
    const ps = this.pageSize;
    const join = (xs: [number, number][]) => {
      const m: [number, number][] = [];
      for (const [s, e] of xs) {
        const last = m.at(-1);
        if (last !== undefined && last[1] === s) last[1] = e;
        else m.push([s, e]);
      }
      return m.map(([s, e]) => `${hex(s)}-${hex(e)}`).join(' ');
    };
    const kernelSpans = join([...task.mm.vmas].map((v) => [v.start, v.end]));
    const shadowSpans = join(this.segs.map((s) => [s.start, s.end]));
    if (kernelSpans !== shadowSpans) out.push(`mapped ranges: kernel ${kernelSpans}; shadow ${shadowSpans}`);
    const buf = new Uint8Array(ps);
    const seen = new Set<number>();
    const compare = (va: number, frame: number | undefined) => {
      if (frame === undefined) buf.fill(0);
      else kernel.ram.read(frame as never, buf, 0, ps);
      const seg = this.segAt(va);
      if (seg === undefined) {
        out.push(`page ${hex(va)} is present but not mapped in the shadow`);
        return;
      }
      const cell = seg.store.pages.get(this.cellKey(seg, va));
      if (cell === undefined) {
        if (!isZero(buf)) out.push(`page ${hex(va)} holds ${firstNonZero(buf)}, expected zeros`);
        return;
      }
      const fits = cell.cands.filter((c) => sameBytes(c, buf, 0, ps));
      if (fits.length > 0) cell.cands = fits;
      else if (cell.lazy && isZero(buf)) {
        cell.cands = [null];
        cell.lazy = false;
      } else out.push(`page ${hex(va)} differs from the shadow at byte ${firstDiff(cell.cands[0], buf)}`);
    };
    for (const leaf of task.mm.pageTable.leaves()) {
      seen.add(leaf.va);
      compare(leaf.va, leaf.frame);
    }
    for (const s of this.segs) {
      const last = s.base + (s.end - s.start) / ps;
      for (const k of s.store.pages.keys()) {
        if (k < s.base || k >= last) continue;
        const va = s.start + (k - s.base) * ps;
        if (seen.has(va)) continue;
        const vma = task.mm.vmas.find(va);
        compare(va, vma?.file?.pages.get(vma.pgoff + (va - vma.start) / ps));
      }
    }
    return out.slice(0, 8);
  }

  /** Addresses of mapped segments, for generators that aim at what is mapped. */
  spans(): readonly { start: number; end: number }[] {
    return this.segs;
  }
}

function dedupe(cands: Uint8Array[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const c of cands) if (!out.some((o) => sameBytes(o, c, 0, c.length))) out.push(c);
  return out;
}

function describe(b: Uint8Array, from: number, n: number): string {
  const shown = [...b.subarray(from, from + Math.min(n, 8))].map((x) => x.toString(16).padStart(2, '0'));
  return `[${shown.join(' ')}${n > 8 ? ' …' : ''}]`;
}

function firstNonZero(b: Uint8Array): string {
  const i = b.findIndex((x) => x !== 0);
  return `0x${b[i].toString(16)} at byte ${i}`;
}

function firstDiff(a: Uint8Array | null, b: Uint8Array): number {
  for (let i = 0; i < b.length; i++) if ((a === null ? 0 : a[i]) !== b[i]) return i;
  return -1;
}
