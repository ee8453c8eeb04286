import { hex, type PhysAddr } from './addr.js';
import { KernelPanic } from './panic.js';

/** Bytes per lazily committed chunk of simulated RAM: 64 frames of 4 KiB, 4 of 64 KiB. */
export const RAM_CHUNK_BYTES = 256 * 1024;

/**
 * Simulated physical RAM: `size` bytes starting at physical address `base`, committed lazily in
 * chunks of RAM_CHUNK_BYTES on first use, so a machine of many GiB costs the host only what the
 * simulation touches. Untouched RAM reads as zero.
 *
 * Descriptors are 64-bit words read and written as two 32-bit halves (`readLo`/`readHi`), which
 * keeps every table walk in plain numbers.
 */
export class PhysicalMemory {
  readonly base: number;
  readonly size: number;
  private readonly bytes: (Uint8Array | undefined)[];
  private readonly words: (Uint32Array | undefined)[];
  private committed = 0;

  constructor(base: number, size: number) {
    if (size <= 0 || size % RAM_CHUNK_BYTES !== 0) {
      throw new RangeError(`RAM size must be a positive multiple of ${RAM_CHUNK_BYTES} bytes`);
    }
    this.base = base;
    this.size = size;
    const chunks = size / RAM_CHUNK_BYTES;
    this.bytes = new Array(chunks).fill(undefined);
    this.words = new Array(chunks).fill(undefined);
  }

  /** Bytes of host memory committed so far. */
  get committedBytes(): number {
    return this.committed * RAM_CHUNK_BYTES;
  }

  contains(pa: number, len = 1): boolean {
    return pa >= this.base && pa + len <= this.base + this.size;
  }

  private chunkIndex(pa: number): number {
    const off = pa - this.base;
    if (off < 0 || off >= this.size) throw new KernelPanic(`physical address ${hex(pa)} outside RAM`);
    return (off / RAM_CHUNK_BYTES) | 0;
  }

  private commit(i: number): Uint8Array {
    const buf = new ArrayBuffer(RAM_CHUNK_BYTES);
    const u8 = new Uint8Array(buf);
    this.bytes[i] = u8;
    this.words[i] = new Uint32Array(buf);
    this.committed++;
    return u8;
  }

  /** The chunk holding `pa` and the byte offset of `pa` in it (the chunk is committed if needed). */
  chunkAt(pa: PhysAddr): { bytes: Uint8Array; offset: number } {
    const i = this.chunkIndex(pa);
    const bytes = this.bytes[i] ?? this.commit(i);
    return { bytes, offset: (pa - this.base) % RAM_CHUNK_BYTES };
  }

  /** Low 32 bits of the 64-bit little-endian word at `pa` (8-byte aligned). */
  readLo(pa: PhysAddr): number {
    const i = this.chunkIndex(pa);
    const w = this.words[i];
    return w === undefined ? 0 : w[((pa - this.base) % RAM_CHUNK_BYTES) >>> 2];
  }

  /** High 32 bits of the 64-bit word at `pa`. */
  readHi(pa: PhysAddr): number {
    const i = this.chunkIndex(pa);
    const w = this.words[i];
    return w === undefined ? 0 : w[(((pa - this.base) % RAM_CHUNK_BYTES) >>> 2) + 1];
  }

  /** Writes the 64-bit word at `pa` as its two halves. */
  write64(pa: PhysAddr, lo: number, hi: number): void {
    const i = this.chunkIndex(pa);
    if (this.words[i] === undefined) {
      if (lo === 0 && hi === 0) return;
      this.commit(i);
    }
    const w = this.words[i]!;
    const k = ((pa - this.base) % RAM_CHUNK_BYTES) >>> 2;
    w[k] = lo;
    w[k + 1] = hi;
  }

  /** Fills `len` bytes at `pa` with zero; an uncommitted chunk is already zero and stays uncommitted. */
  zero(pa: PhysAddr, len: number): void {
    const i = this.chunkIndex(pa);
    const u8 = this.bytes[i];
    if (u8 === undefined) return;
    const off = (pa - this.base) % RAM_CHUNK_BYTES;
    u8.fill(0, off, off + len);
  }

  /** Copies `len` bytes at `pa` into `dst` at `dstOffset`. The range must not cross a chunk. */
  read(pa: PhysAddr, dst: Uint8Array, dstOffset: number, len: number): void {
    const i = this.chunkIndex(pa);
    const u8 = this.bytes[i];
    if (u8 === undefined) {
      dst.fill(0, dstOffset, dstOffset + len);
      return;
    }
    const off = (pa - this.base) % RAM_CHUNK_BYTES;
    if (len <= 16) {
      for (let k = 0; k < len; k++) dst[dstOffset + k] = u8[off + k];
      return;
    }
    dst.set(u8.subarray(off, off + len), dstOffset);
  }

  /** Copies `len` bytes of `src` from `srcOffset` to `pa`. The range must not cross a chunk. */
  write(pa: PhysAddr, src: Uint8Array, srcOffset: number, len: number): void {
    const i = this.chunkIndex(pa);
    const u8 = this.bytes[i] ?? this.commit(i);
    const off = (pa - this.base) % RAM_CHUNK_BYTES;
    if (len <= 16) {
      for (let k = 0; k < len; k++) u8[off + k] = src[srcOffset + k];
      return;
    }
    u8.set(src.subarray(srcOffset, srcOffset + len), off);
  }

  /** Copies one page-sized block from `src` to `dst` (both page-aligned, neither crossing a chunk). */
  copy(dst: PhysAddr, src: PhysAddr, len: number): void {
    const from = this.chunkAt(src);
    const to = this.chunkAt(dst);
    to.bytes.set(from.bytes.subarray(from.offset, from.offset + len), to.offset);
  }
}
