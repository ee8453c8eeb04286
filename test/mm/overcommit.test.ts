/**
 * Strict overcommit (mode 2): `__vm_enough_memory` keeps min(total_vm / 32, user_reserve) pages
 * back from CommitLimit, where user_reserve is min(RAM / 32, 128 MiB) counted in pages of the
 * kernel's own size.
 */
import { ENOMEM, Kernel, MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE } from 'levitate-mm';
import { describe, expect, it } from 'vitest';

const ANON = MAP_PRIVATE | MAP_ANONYMOUS;

describe('the user reserve of strict overcommit', () => {
  it('is min(RAM / 32, 128 MiB) in pages of the kernel, whatever their size', () => {
    const small = new Kernel({ arch: 'aarch64', pageSize: 65536, ramBytes: 64 * 2 ** 20 });
    expect(small.layout.userReservePages).toBe(1024 / 32);
    const big = new Kernel({ arch: 'aarch64', pageSize: 65536, ramBytes: 8 * 2 ** 30 });
    expect(big.layout.userReservePages).toBe((128 * 2 ** 20) / 65536);
    const x86 = new Kernel({ arch: 'x86_64', ramBytes: 8 * 2 ** 30 });
    expect(x86.layout.userReservePages).toBe((128 * 2 ** 20) / 4096);
  });

  it('holds back only that many 64 KiB pages from a task with a large address space', () => {
    const P = 65536;
    const kernel = new Kernel({
      arch: 'aarch64',
      pageSize: P,
      paging: 'demand',
      ramBytes: 64 * 2 ** 20,
      layout: { overcommitMemory: 2, overcommitRatio: 50 },
    });
    kernel.spawn();
    // CommitLimit: 512 pages. 32768 read-only pages (not charged) make total_vm / 32 = 1024, so
    // the reserve is the user reserve, 32 pages: the total must stay below 512 - 32.
    expect(kernel.accounting.commitLimit).toBe(512);
    expect(kernel.sys.mmap(0, 32768 * P, PROT_READ, ANON, -1, 0)).toBeGreaterThan(0);
    expect(kernel.sys.mmap(0, 478 * P, PROT_READ | PROT_WRITE, ANON, -1, 0)).toBeGreaterThan(0);
    expect(kernel.sys.mmap(0, 2 * P, PROT_READ | PROT_WRITE, ANON, -1, 0)).toBe(-ENOMEM);
    expect(kernel.sys.mmap(0, P, PROT_READ | PROT_WRITE, ANON, -1, 0)).toBeGreaterThan(0);
    expect(kernel.accounting.committed).toBe(479);
    expect(kernel.check()).toEqual([]);
  });
});
