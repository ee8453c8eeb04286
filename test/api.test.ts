/**
 * The public contract, used exactly as the project's issue writes it.
 */

import {
  Kernel,
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_PRIVATE,
  PROT_EXEC,
  PROT_NONE,
  PROT_READ,
  PROT_WRITE,
} from 'levitate-mm';
import { describe, expect, it } from 'vitest';

describe('levitate-mm public API', () => {
  it('runs the contract example end to end', () => {
    const kernel = new Kernel({ arch: 'aarch64', ramBytes: 8 * 2 ** 20, pageSize: 4096, paging: 'eager' });
    const task = kernel.spawn();
    const free = kernel.frames.freePages;
    const addr = kernel.sys.mmap(0, 3 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    expect(addr).toBeGreaterThan(0);
    expect(kernel.frames.freePages).toBeLessThan(free);
    task.write(addr, new Uint8Array([1, 2, 3]));
    expect(task.read(addr, 3)).toEqual(new Uint8Array([1, 2, 3]));
    kernel.frames.failAfter(0);
    expect(kernel.sys.mmap(addr, 4096, PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0)).toBe(-12);
    expect(task.read(addr, 3)).toEqual(new Uint8Array([1, 2, 3]));
    expect(kernel.sys.munmap(addr, 3 * 4096)).toBe(0);
    expect(kernel.frames.freePages).toBe(free);
    expect(() => task.read(addr, 1)).toThrow();
    expect(kernel.check()).toEqual([]);
    expect(PROT_NONE).toBe(0);
  });

  it('has a default for every option', () => {
    const kernel = new Kernel();
    expect([kernel.arch, kernel.pageSize, kernel.paging]).toEqual(['aarch64', 4096, 'eager']);
    kernel.spawn();
    expect(kernel.sys.mmap(0, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)).toBe(
      0xfffff8000000 - 4096,
    );
  });

  it('is importable by its package name from a checkout (exports -> dist)', async () => {
    const { execFileSync } = await import('node:child_process');
    const { fileURLToPath } = await import('node:url');
    const root = fileURLToPath(new URL('..', import.meta.url));
    const script =
      "const m = await import('levitate-mm'); const k = new m.Kernel(); k.spawn();" +
      'console.log(k.sys.mmap(0, 4096, m.PROT_READ, m.MAP_PRIVATE | m.MAP_ANONYMOUS, -1, 0));';
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
      cwd: root,
      encoding: 'utf8',
    });
    expect(Number(out.trim())).toBe(0xfffff8000000 - 4096);
  });
});
