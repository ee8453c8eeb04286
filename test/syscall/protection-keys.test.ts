/**
 * x86-64 protection keys (`layout.protectionKeys`): Linux gives PROT_EXEC alone the execute-only
 * key, so every data access there faults with SEGV_PKUERR and MAP_POPULATE faults in nothing. As
 * on Linux 6.18.44-fc-v1045 on an Intel Xeon with `ospke` (each case first run as a C program
 * there: reads and writes of a PROT_EXEC-only mapping, populated or not, gave si_code 4; smaps
 * showed `Rss: 0 kB` and `ProtectionKey: 1` for a MAP_POPULATE one; after mprotect to
 * PROT_READ|PROT_EXEC the same page read again). Without keys (6.18.44-fc-v857, an AMD EPYC
 * without them) a read there succeeds and a write is SEGV_ACCERR.
 */
import { Kernel, MAP_FIXED, MAP_POPULATE, type PagingMode, PROT_EXEC, PROT_READ } from 'levitate-mm';
import { describe, expect, it } from 'vitest';
import { ANON, P, accessProbe as probe, RW } from './errno-support.js';

const A = 0x1000_0000;

/** Pages of [start, end) the page table maps. */
function mapped(k: Kernel, start: number, end: number): number {
  return k.current!.mm.pageTable.leaves().filter((l) => l.va >= start && l.va < end).length;
}

describe.each(['eager', 'demand'] as PagingMode[])('protection keys on x86-64 (%s paging)', (paging) => {
  const boot = (protectionKeys: boolean) => {
    const k = new Kernel({ arch: 'x86_64', paging, ramBytes: 16 * 2 ** 20, layout: { protectionKeys } });
    return { k, t: k.spawn() };
  };

  it('fault every read and write of PROT_EXEC alone with SEGV_PKUERR', () => {
    const { k, t } = boot(true);
    expect(k.sys.mmap(A, 4 * P, PROT_EXEC, ANON | MAP_FIXED, -1, 0)).toBe(A);
    for (const access of ['read', 'write'] as const) expect(probe(t, A, access)).toBe('SEGV_PKUERR');
    expect(k.check()).toEqual([]);
    const plain = boot(false);
    expect(plain.k.sys.mmap(A, 4 * P, PROT_EXEC, ANON | MAP_FIXED, -1, 0)).toBe(A);
    expect(probe(plain.t, A, 'read')).toBe('ok');
    expect(probe(plain.t, A, 'write')).toBe('SEGV_ACCERR');
  });

  it('deny a page that was present before mprotect made it execute-only, and give it back after', () => {
    const { k, t } = boot(true);
    expect(k.sys.mmap(A, 2 * P, RW, ANON | MAP_FIXED, -1, 0)).toBe(A);
    t.write(A, [42]);
    expect(probe(t, A, 'read')).toBe('ok');
    expect(k.sys.mprotect(A, P, PROT_EXEC)).toBe(0);
    expect(probe(t, A, 'read')).toBe('SEGV_PKUERR');
    expect(probe(t, A + P, 'read')).toBe('ok');
    expect(k.check()).toEqual([]);
    expect(k.sys.mprotect(A, P, PROT_READ | PROT_EXEC)).toBe(0);
    expect([...t.read(A, 1)]).toEqual([42]);
    expect(probe(t, A, 'write')).toBe('SEGV_ACCERR');
    expect(k.check()).toEqual([]);
  });

  it('leave MAP_POPULATE of PROT_EXEC alone unpopulated in demand paging', () => {
    const keyed = boot(true);
    expect(keyed.k.sys.mmap(A, 4 * P, PROT_EXEC, ANON | MAP_FIXED | MAP_POPULATE, -1, 0)).toBe(A);
    const plain = boot(false);
    expect(plain.k.sys.mmap(A, 4 * P, PROT_EXEC, ANON | MAP_FIXED | MAP_POPULATE, -1, 0)).toBe(A);
    // Eager paging backs every page of every mapping, keys or not (the seed's sys_mmap).
    expect(mapped(keyed.k, A, A + 4 * P)).toBe(paging === 'eager' ? 4 : 0);
    expect(mapped(plain.k, A, A + 4 * P)).toBe(4);
    expect(keyed.k.check()).toEqual([]);
  });
});

describe('protection keys elsewhere', () => {
  it('are an x86-64 feature: aarch64 ignores the setting', () => {
    const k = new Kernel({ arch: 'aarch64', paging: 'demand', layout: { protectionKeys: true } });
    expect(k.layout.protectionKeys).toBe(false);
  });
});
