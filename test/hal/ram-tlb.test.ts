import { describe, expect, it } from 'vitest';
import type { PhysAddr, VirtAddr } from '../../src/hal/addr.js';
import { KernelPanic } from '../../src/hal/panic.js';
import { PhysicalMemory, RAM_CHUNK_BYTES, RAM_PAGE_BYTES } from '../../src/hal/ram.js';
import { Tlb } from '../../src/hal/tlb.js';

describe('PhysicalMemory', () => {
  it('commits nothing until written, and reads zero before', () => {
    const ram = new PhysicalMemory(0x4000_0000, 4 * 2 ** 30);
    expect(ram.committedBytes).toBe(0);
    const out = new Uint8Array(8).fill(7);
    ram.read((0x4000_0000 + 2 ** 31) as PhysAddr, out, 0, 8);
    expect([...out]).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
    ram.write((0x4000_0000 + 3 * 2 ** 30) as PhysAddr, Uint8Array.of(1, 2, 3), 0, 3);
    expect(ram.committedBytes).toBe(RAM_PAGE_BYTES);
    const back = new Uint8Array(3);
    ram.read((0x4000_0000 + 3 * 2 ** 30) as PhysAddr, back, 0, 3);
    expect([...back]).toEqual([1, 2, 3]);
  });

  it('commits host pages one at a time, as they are first written', () => {
    const ram = new PhysicalMemory(0, 2 * RAM_CHUNK_BYTES);
    // Zeroing, copying and writing zero words into pages never written leave them uncommitted.
    ram.zero(0 as PhysAddr, 4096);
    ram.write64(8192 as PhysAddr, 0, 0);
    ram.copy(12288 as PhysAddr, 16384 as PhysAddr, 4096);
    expect(ram.committedBytes).toBe(0);
    // A write straddling two host pages commits both.
    ram.write(4094 as PhysAddr, Uint8Array.of(1, 2, 3, 4), 0, 4);
    expect(ram.committedBytes).toBe(2 * RAM_PAGE_BYTES);
    ram.write64(8192 as PhysAddr, 5, 0);
    expect(ram.committedBytes).toBe(3 * RAM_PAGE_BYTES);
    // A copy of a written page commits its target; a copy of an unwritten one zeroes it.
    ram.copy(20480 as PhysAddr, 8192 as PhysAddr, 4096);
    expect(ram.readLo(20480 as PhysAddr)).toBe(5);
    expect(ram.committedBytes).toBe(4 * RAM_PAGE_BYTES);
    ram.copy(20480 as PhysAddr, 16384 as PhysAddr, 4096);
    expect(ram.readLo(20480 as PhysAddr)).toBe(0);
    // Zeroing a written page clears it (it stays resident on the host).
    ram.zero(0 as PhysAddr, 8192);
    const out = new Uint8Array(4);
    ram.read(4094 as PhysAddr, out, 0, 4);
    expect([...out]).toEqual([0, 0, 0, 0]);
    expect(ram.committedBytes).toBe(4 * RAM_PAGE_BYTES);
  });

  it('keeps RAM beyond 1 GiB in further slabs', () => {
    const base = 0x4000_0000;
    const ram = new PhysicalMemory(base, 3 * 2 ** 30 + RAM_CHUNK_BYTES);
    const last = (base + 3 * 2 ** 30 + RAM_CHUNK_BYTES - 8) as PhysAddr;
    ram.write64(last, 0x11, 0x22);
    ram.write64((base + 2 ** 30 - 8) as PhysAddr, 0x33, 0x44);
    ram.write64((base + 2 ** 30) as PhysAddr, 0x55, 0x66);
    expect([ram.readLo(last), ram.readHi(last)]).toEqual([0x11, 0x22]);
    expect(ram.readLo((base + 2 ** 30 - 8) as PhysAddr)).toBe(0x33);
    expect(ram.readHi((base + 2 ** 30) as PhysAddr)).toBe(0x66);
    expect(ram.readLo((base + 2 * 2 ** 30) as PhysAddr)).toBe(0);
    expect(ram.committedBytes).toBe(3 * RAM_PAGE_BYTES);
    expect(() => ram.readLo((last + 8) as PhysAddr)).toThrow(KernelPanic);
  });

  it('stores 64-bit words as two halves', () => {
    const ram = new PhysicalMemory(0, RAM_CHUNK_BYTES);
    ram.write64(8 as PhysAddr, 0xdeadbeef, 0x80000001);
    expect(ram.readLo(8 as PhysAddr)).toBe(0xdeadbeef);
    expect(ram.readHi(8 as PhysAddr)).toBe(0x80000001);
    const bytes = new Uint8Array(8);
    ram.read(8 as PhysAddr, bytes, 0, 8);
    expect([...bytes]).toEqual([0xef, 0xbe, 0xad, 0xde, 0x01, 0x00, 0x00, 0x80]);
  });

  it('stamps every host page a write changes, and no other', () => {
    const ram = new PhysicalMemory(0, RAM_CHUNK_BYTES);
    const at = (pa: number) => ram.writeStamp(pa as PhysAddr);
    expect(at(0)).toBe(0);
    // What changes nothing stamps nothing: a zero word into a page never written, zeroing one.
    ram.write64(0 as PhysAddr, 0, 0);
    ram.zero(0 as PhysAddr, 4096);
    expect(at(0)).toBe(0);
    const seen = new Set<number>();
    const stamps = (pages: number[], what: () => void) => {
      const others = [0, 1, 2, 3, 4, 5].filter((p) => !pages.includes(p)).map((p) => at(p * 4096));
      what();
      for (const p of pages) {
        expect(seen.has(at(p * 4096)), `page ${p} restamped`).toBe(false);
        expect(at(p * 4096 + 4088)).toBe(at(p * 4096));
      }
      for (const p of pages) seen.add(at(p * 4096));
      expect([0, 1, 2, 3, 4, 5].filter((p) => !pages.includes(p)).map((p) => at(p * 4096))).toEqual(others);
    };
    stamps([0], () => ram.write64(8 as PhysAddr, 1, 0));
    stamps([0], () => ram.write64(8 as PhysAddr, 0, 0));
    stamps([1, 2], () => ram.write(8190 as PhysAddr, Uint8Array.of(1, 2, 3, 4), 0, 4));
    stamps([3], () => ram.copy(12288 as PhysAddr, 4096 as PhysAddr, 4096));
    stamps([1], () => ram.zero(4096 as PhysAddr, 4096));
    // Reads stamp nothing; neither does zeroing a page never written.
    stamps([], () => {
      ram.readLo(8 as PhysAddr);
      ram.read(12288 as PhysAddr, new Uint8Array(16), 0, 16);
      ram.zero(16384 as PhysAddr, 4096);
    });
  });

  it('keeps stamps on both sides of each 16 MiB of RAM, and to its last page', () => {
    // 16 MiB and one chunk: the stamps of the last 256 KiB are a short array of their own.
    const base = 0x4000_0000;
    const ram = new PhysicalMemory(base, 16 * 2 ** 20 + RAM_CHUNK_BYTES);
    const at = (off: number) => ram.writeStamp((base + off) as PhysAddr);
    const edge = 16 * 2 ** 20;
    const last = edge + RAM_CHUNK_BYTES - RAM_PAGE_BYTES;
    ram.write64((base + edge - 8) as PhysAddr, 1, 0);
    expect([at(edge - RAM_PAGE_BYTES) > 0, at(edge), at(last)]).toEqual([true, 0, 0]);
    ram.write64((base + last + 8) as PhysAddr, 2, 0);
    ram.write((base + edge) as PhysAddr, Uint8Array.of(3), 0, 1);
    const stamps = [at(edge - RAM_PAGE_BYTES), at(edge), at(last)];
    expect(new Set(stamps).size).toBe(3);
    expect(stamps.every((s) => s > 0)).toBe(true);
    expect(at(edge + RAM_PAGE_BYTES)).toBe(0);
    expect(ram.committedBytes).toBe(3 * RAM_PAGE_BYTES);
    // A zero word into a written page past the edge stamps it again; one into a page never written does not.
    ram.write64((base + last) as PhysAddr, 0, 0);
    ram.write64((base + edge + RAM_PAGE_BYTES) as PhysAddr, 0, 0);
    expect(at(last)).toBeGreaterThan(stamps[2]);
    expect(at(edge + RAM_PAGE_BYTES)).toBe(0);
    expect([ram.readLo((base + last + 8) as PhysAddr), ram.committedBytes]).toEqual([2, 3 * RAM_PAGE_BYTES]);
  });

  it('panics on an address outside RAM', () => {
    const ram = new PhysicalMemory(0x1000_0000, RAM_CHUNK_BYTES);
    expect(() => ram.readLo(0 as PhysAddr)).toThrow(KernelPanic);
  });
});

describe('Tlb', () => {
  const rights = new Uint8Array(1);

  it('caches per root and per page', () => {
    const tlb = new Tlb(4096, 16);
    tlb.insert(0x1000 as PhysAddr, 0x7000 as VirtAddr, 0x9000 as PhysAddr, 3);
    expect(tlb.lookup(0x1000 as PhysAddr, 0x7abc as VirtAddr, rights)).toBe(0x9000);
    expect(rights[0]).toBe(3);
    expect(tlb.lookup(0x2000 as PhysAddr, 0x7000 as VirtAddr, rights)).toBe(-1);
  });

  it('invalidates one page, one root, or everything', () => {
    const tlb = new Tlb(4096, 64);
    tlb.insert(0x1000 as PhysAddr, 0x7000 as VirtAddr, 0x9000 as PhysAddr, 1);
    tlb.insert(0x1000 as PhysAddr, 0x8000 as VirtAddr, 0xa000 as PhysAddr, 1);
    tlb.insert(0x2000 as PhysAddr, 0x7000 as VirtAddr, 0xb000 as PhysAddr, 1);
    tlb.invalidatePage(0x1000 as PhysAddr, 0x7000 as VirtAddr);
    expect(tlb.lookup(0x1000 as PhysAddr, 0x7000 as VirtAddr, rights)).toBe(-1);
    expect(tlb.lookup(0x1000 as PhysAddr, 0x8000 as VirtAddr, rights)).toBe(0xa000);
    tlb.invalidateRoot(0x1000 as PhysAddr);
    expect(tlb.lookup(0x1000 as PhysAddr, 0x8000 as VirtAddr, rights)).toBe(-1);
    expect(tlb.lookup(0x2000 as PhysAddr, 0x7000 as VirtAddr, rights)).toBe(0xb000);
    tlb.invalidateAll();
    expect([...tlb.entriesInUse()]).toEqual([]);
  });
});
