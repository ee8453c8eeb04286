/**
 * File mappings on ext4 (and xfs, btrfs, ...) go through `thp_get_unmapped_area`: a mapping that
 * covers a whole PMD of the file, counted from a PMD-aligned offset, gets a PMD-aligned address.
 * Measured on this machine's kernel (ext4, setarch -R): mmap(NULL, 4 MiB, fd, 0) and
 * mmap(NULL, 3000000, fd, 0) returned 2 MiB-aligned addresses (0x7ffff7800000, 0x7ffff7400000),
 * mmap(NULL, 3000000, fd, 4096) did not (0x7ffff7123000, right below the previous one).
 */
import { describe, expect, it } from 'vitest';
import { MAP_PRIVATE, PROT_READ } from '../../src/abi/mman.js';
import { Kernel } from '../../src/index.js';
import { MemoryObject } from '../../src/mm/memory-object.js';

const MiB = 2 ** 20;

function kernelWithFile(thp: boolean): Kernel {
  const kernel = new Kernel({ arch: 'x86_64', paging: 'demand' });
  const task = kernel.spawn();
  task.files.set(3, {
    file: new MemoryObject('/big', 254, 0, 12, 'file', { placement: thp ? 'thp' : 'none' }),
    readable: true,
    writable: false,
  });
  return kernel;
}

describe('file mappings and thp_get_unmapped_area', () => {
  it('places a mapping covering a whole PMD of the file at a PMD-aligned address', () => {
    const kernel = kernelWithFile(true);
    const a = kernel.sys.mmap(0, 4 * MiB, PROT_READ, MAP_PRIVATE, 3, 0);
    const b = kernel.sys.mmap(0, 3000000, PROT_READ, MAP_PRIVATE, 3, 0);
    const c = kernel.sys.mmap(0, 3000000, PROT_READ, MAP_PRIVATE, 3, 4096);
    expect(a % (2 * MiB)).toBe(0);
    expect(b % (2 * MiB)).toBe(0);
    expect(b).toBeLessThan(a);
    expect(c % (2 * MiB)).not.toBe(0);
    expect(c).toBe(b - Math.ceil(3000000 / 4096) * 4096);
    expect(kernel.check()).toEqual([]);
  });

  it('leaves files of other file systems where the plain allocator puts them', () => {
    const kernel = kernelWithFile(false);
    const a = kernel.sys.mmap(0, 4 * MiB, PROT_READ, MAP_PRIVATE, 3, 0);
    expect(a).toBe(kernel.layout.mmapBase - 4 * MiB);
  });
});
