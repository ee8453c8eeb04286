import { hex, type PhysAddr } from './addr.js';
import { KernelPanic } from './panic.js';

/** RAM sizes are multiples of this (64 frames of 4 KiB, 4 of 64 KiB). */
export const RAM_CHUNK_BYTES = 256 * 1024;

/** The host's page: the unit in which simulated RAM becomes resident on the host. */
export const RAM_PAGE_BYTES = 4096;

/**
 * Bytes per slab: one ArrayBuffer backs this much simulated RAM. Large enough that the allocator's
 * header page of each slab is 8 bytes per 4 KiB page; small enough that a kernel touching a few
 * pages does not show V8 tens of MiB of external memory, which would make it collect garbage all
 * the time (with 64 MiB slabs, creating a kernel costs 9 ms instead of 0.4 ms, and fault injection
 * creates thousands).
 */
const SLAB_BYTES = 2 ** 21;
/**
 * Host pages per array of write stamps (16 MiB of RAM, a 32 KiB array): a few per kernel, made as
 * their part of RAM is first written, so a kernel with gigabytes of RAM that touches little of it
 * does not allocate (and show V8) stamps for all of it.
 */
const STAMP_CHUNK_PAGES = 2 ** 12;

/**
 * Simulated physical RAM: `size` bytes starting at physical address `base`, in slabs of 2 MiB,
 * each one ArrayBuffer created on the first write into it. The host commits an ArrayBuffer's
 * memory lazily, a page at a time as it is first written, so a resident simulated 4 KiB page costs
 * the host its 4 KiB, 8 bytes (the slab's header page) and 8 bytes (its write stamp).
 * What was never written reads as zero and is never written to, zeroing included, so it costs the
 * host nothing.
 *
 * Every write stamps the host pages it changes with a number no earlier write had (`writeStamp`),
 * so that a reader that keeps what it read (the invariant checker, between two checks) knows, page
 * by page, whether RAM still holds it; a page whose stamp is 0 was never written. The stamps are
 * kept in arrays of 16 MiB of RAM each, not one per slab: each slab is then one ArrayBuffer and its
 * two views, the fewest objects V8 must copy when a young-generation collection catches a slab just
 * made (the survivors of those collections are what makes V8 double its young generation, 4 MiB of
 * host memory at a time, which was 64 bytes per page of a 256 MiB mapping). Stamps cost 8 bytes per
 * host page of RAM in each 16 MiB written into.
 *
 * Descriptors are 64-bit words read and written as two 32-bit halves (`readLo`/`readHi`), which
 * keeps every table walk in plain numbers.
 */
export class PhysicalMemory {
  readonly base: number;
  readonly size: number;
  private readonly bytes: (Uint8Array | undefined)[];
  private readonly words: (Uint32Array | undefined)[];
  /**
   * Per STAMP_CHUNK_PAGES host pages of RAM, per page: the stamp of the last write into it (0: none,
   * never written); undefined while none of them was written.
   */
  private readonly stamps: (Float64Array | undefined)[];
  /** The stamp of the last write anywhere; each write takes the next. */
  private clock = 0;
  private committed = 0;

  constructor(base: number, size: number) {
    if (size <= 0 || size % RAM_CHUNK_BYTES !== 0) {
      throw new RangeError(`RAM size must be a positive multiple of ${RAM_CHUNK_BYTES} bytes`);
    }
    this.base = base;
    this.size = size;
    const slabs = Math.ceil(size / SLAB_BYTES);
    this.bytes = new Array(slabs).fill(undefined);
    this.words = new Array(slabs).fill(undefined);
    this.stamps = new Array(Math.ceil(size / RAM_PAGE_BYTES / STAMP_CHUNK_PAGES)).fill(undefined);
  }

  /** Bytes of host memory committed so far: the host pages written at least once. */
  get committedBytes(): number {
    return this.committed * RAM_PAGE_BYTES;
  }

  contains(pa: number, len = 1): boolean {
    return pa >= this.base && pa + len <= this.base + this.size;
  }

  /** The offset of `pa` in RAM; panics outside it. */
  private offset(pa: number): number {
    const off = pa - this.base;
    if (off < 0 || off >= this.size) throw new KernelPanic(`physical address ${hex(pa)} outside RAM`);
    return off;
  }

  /** The slab holding RAM offset `off`, created if needed. */
  private slab(off: number): Uint8Array {
    const s = (off / SLAB_BYTES) | 0;
    const have = this.bytes[s];
    if (have !== undefined) return have;
    const buf = new ArrayBuffer(Math.min(SLAB_BYTES, this.size - s * SLAB_BYTES));
    const u8 = new Uint8Array(buf);
    this.bytes[s] = u8;
    this.words[s] = new Uint32Array(buf);
    return u8;
  }

  /** Whether the host page holding RAM offset `off` was ever written. */
  private isWritten(off: number): boolean {
    const p = (off / RAM_PAGE_BYTES) | 0;
    const stamps = this.stamps[(p / STAMP_CHUNK_PAGES) | 0];
    return stamps !== undefined && stamps[p % STAMP_CHUNK_PAGES] !== 0;
  }

  /** Marks the host pages of [off, off + len) (within one slab, which exists) as written, and stamps them. */
  private markWritten(off: number, len: number): void {
    const page = (off / RAM_PAGE_BYTES) | 0;
    const c = (page / STAMP_CHUNK_PAGES) | 0;
    let stamps = this.stamps[c];
    if (stamps === undefined) {
      stamps = new Float64Array(
        Math.min(STAMP_CHUNK_PAGES, this.size / RAM_PAGE_BYTES - c * STAMP_CHUNK_PAGES),
      );
      this.stamps[c] = stamps;
    }
    // A slab lies within one array of stamps: 16 MiB is a multiple of 2 MiB.
    const first = page % STAMP_CHUNK_PAGES;
    const last = first + ((((off % RAM_PAGE_BYTES) + len - 1) / RAM_PAGE_BYTES) | 0);
    const stamp = ++this.clock;
    for (let p = first; p <= last; p++) {
      if (stamps[p] === 0) this.committed++;
      stamps[p] = stamp;
    }
  }

  /**
   * The stamp of the last write into the host page (RAM_PAGE_BYTES) holding `pa`: a number no
   * other write had, 0 when none did. Equal stamps at two times mean the page was not written in
   * between.
   */
  writeStamp(pa: PhysAddr): number {
    const p = (this.offset(pa) / RAM_PAGE_BYTES) | 0;
    const stamps = this.stamps[(p / STAMP_CHUNK_PAGES) | 0];
    return stamps === undefined ? 0 : stamps[p % STAMP_CHUNK_PAGES];
  }

  /** Low 32 bits of the 64-bit little-endian word at `pa` (8-byte aligned). */
  readLo(pa: PhysAddr): number {
    const off = this.offset(pa);
    const w = this.words[(off / SLAB_BYTES) | 0];
    return w === undefined ? 0 : w[(off % SLAB_BYTES) >>> 2];
  }

  /** High 32 bits of the 64-bit word at `pa`. */
  readHi(pa: PhysAddr): number {
    const off = this.offset(pa);
    const w = this.words[(off / SLAB_BYTES) | 0];
    return w === undefined ? 0 : w[((off % SLAB_BYTES) >>> 2) + 1];
  }

  /**
   * The 32-bit words of [pa, pa + len) (8-byte aligned, within one slab) as a view and the index of
   * the first in it, or null when that part of RAM was never written (it reads as zero): a walk over
   * a whole table reads it without a lookup per entry. For reading only: a write through the view
   * would change RAM behind the write stamps.
   */
  wordsAt(pa: PhysAddr, len: number): { words: Uint32Array; index: number } | null {
    const off = this.offset(pa);
    if ((off % SLAB_BYTES) + len > SLAB_BYTES) throw new KernelPanic(`words at ${hex(pa)} cross a slab`);
    const words = this.words[(off / SLAB_BYTES) | 0];
    return words === undefined ? null : { words, index: (off % SLAB_BYTES) >>> 2 };
  }

  /** Writes the 64-bit word at `pa` as its two halves. */
  write64(pa: PhysAddr, lo: number, hi: number): void {
    const off = this.offset(pa);
    if (!this.isWritten(off)) {
      // Zero into a page never written: it reads as zero already.
      if (lo === 0 && hi === 0) return;
      this.slab(off);
      this.markWritten(off, 8);
    } else {
      const p = (off / RAM_PAGE_BYTES) | 0;
      this.stamps[(p / STAMP_CHUNK_PAGES) | 0]![p % STAMP_CHUNK_PAGES] = ++this.clock;
    }
    const w = this.words[(off / SLAB_BYTES) | 0]!;
    const k = (off % SLAB_BYTES) >>> 2;
    w[k] = lo;
    w[k + 1] = hi;
  }

  /** Fills `len` bytes at `pa` with zero; host pages never written are zero already and stay untouched. */
  zero(pa: PhysAddr, len: number): void {
    const off = this.offset(pa);
    const u8 = this.bytes[(off / SLAB_BYTES) | 0];
    if (u8 === undefined) return;
    const end = off + len;
    for (let a = off; a < end; ) {
      const next = Math.min((Math.floor(a / RAM_PAGE_BYTES) + 1) * RAM_PAGE_BYTES, end);
      if (this.isWritten(a)) {
        u8.fill(0, a % SLAB_BYTES, (a % SLAB_BYTES) + (next - a));
        this.markWritten(a, next - a);
      }
      a = next;
    }
  }

  /** Copies `len` bytes at `pa` into `dst` at `dstOffset`. The range must not cross a slab (2 MiB). */
  read(pa: PhysAddr, dst: Uint8Array, dstOffset: number, len: number): void {
    const off = this.offset(pa);
    const u8 = this.bytes[(off / SLAB_BYTES) | 0];
    if (u8 === undefined) {
      dst.fill(0, dstOffset, dstOffset + len);
      return;
    }
    const at = off % SLAB_BYTES;
    if (len <= 16) {
      for (let k = 0; k < len; k++) dst[dstOffset + k] = u8[at + k];
      return;
    }
    dst.set(u8.subarray(at, at + len), dstOffset);
  }

  /** Copies `len` bytes of `src` from `srcOffset` to `pa`. The range must not cross a slab (2 MiB). */
  write(pa: PhysAddr, src: Uint8Array, srcOffset: number, len: number): void {
    if (len <= 0) return;
    const off = this.offset(pa);
    const u8 = this.slab(off);
    this.markWritten(off, len);
    const at = off % SLAB_BYTES;
    if (len <= 16) {
      for (let k = 0; k < len; k++) u8[at + k] = src[srcOffset + k];
      return;
    }
    u8.set(src.subarray(srcOffset, srcOffset + len), at);
  }

  /** Copies one page-sized block from `src` to `dst` (both page-aligned, neither crossing a slab). */
  copy(dst: PhysAddr, src: PhysAddr, len: number): void {
    const from = this.offset(src);
    const fromSlab = this.bytes[(from / SLAB_BYTES) | 0];
    let any = false;
    for (let a = from; a < from + len && !any; a += RAM_PAGE_BYTES) any = this.isWritten(a);
    if (fromSlab === undefined || !any) {
      this.zero(dst, len);
      return;
    }
    const to = this.offset(dst);
    const toSlab = this.slab(to);
    this.markWritten(to, len);
    toSlab.set(fromSlab.subarray(from % SLAB_BYTES, (from % SLAB_BYTES) + len), to % SLAB_BYTES);
  }
}
