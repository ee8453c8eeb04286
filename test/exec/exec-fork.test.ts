/**
 * execve with fork: a vfork child that execs leaves its parent's address space (mm_users) for a
 * new one, a fork child that execs drops its copy-on-write share of the parent's pages, and a
 * failed exec in either leaves both processes as they were.
 */
import { describe, expect, it } from 'vitest';
import { ENOENT, Kernel, procMaps } from '../../src/index.js';
import { fixtureFiles, loadExecFixtures } from '../support/exec-fixtures.js';

const fixtures = new Map(loadExecFixtures('x86_64').map((f) => [f.name, f]));
const stat = fixtures.get('static')!;
const trueFx = fixtures.get('true')!;

function boot(): { kernel: Kernel; parent: ReturnType<Kernel['spawn']> } {
  const kernel = new Kernel({
    arch: 'x86_64',
    paging: 'demand',
    ramBytes: 64 * 2 ** 20,
    execFiles: fixtureFiles(stat).files,
  });
  const parent = kernel.spawn();
  expect(kernel.execve(parent, '/bin/true', ['/bin/true'], ['PATH=/usr/bin:/bin'])).toBe(0);
  return { kernel, parent };
}

describe('execve and fork', () => {
  it('a vfork child that execs gets its own address space; the parent keeps its own', () => {
    const { kernel, parent } = boot();
    const before = procMaps(parent.mm);
    const child = kernel.vfork(parent);
    if (typeof child === 'number') throw new Error(`vfork: ${child}`);
    expect(child.mm).toBe(parent.mm);
    expect(parent.mm.users).toBe(2);
    expect(kernel.execve(child, stat.path, [stat.path], ['PATH=/usr/bin:/bin'])).toBe(0);
    expect(child.mm).not.toBe(parent.mm);
    expect(parent.mm.users).toBe(1);
    expect(procMaps(parent.mm)).toBe(before);
    expect(procMaps(child.mm)).toBe(stat.maps);
    expect(kernel.check()).toEqual([]);
    kernel.exit(child);
    expect(procMaps(parent.mm)).toBe(trueFx.maps);
    expect(kernel.check()).toEqual([]);
  });

  it("a fork child that execs gives up its copy of the parent's pages", () => {
    const { kernel, parent } = boot();
    const data = kernel.sys.mmap(0, 4096, 3, 0x22, -1, 0);
    parent.write(data, [7]);
    const child = kernel.fork(parent);
    if (typeof child === 'number') throw new Error(`fork: ${child}`);
    expect(kernel.execve(child, stat.path, [stat.path], ['PATH=/usr/bin:/bin'])).toBe(0);
    expect(procMaps(child.mm)).toBe(stat.maps);
    expect(kernel.check()).toEqual([]);
    // The parent's page is its own again: a write needs no copy.
    const frames = kernel.frames.freePages;
    parent.write(data, [8]);
    expect(kernel.frames.freePages).toBe(frames);
    expect(kernel.check()).toEqual([]);
  });

  it('a failed exec in a vfork child changes neither process', () => {
    const { kernel, parent } = boot();
    const child = kernel.vfork(parent);
    if (typeof child === 'number') throw new Error(`vfork: ${child}`);
    const maps = procMaps(parent.mm);
    for (let n = 0; ; n++) {
      kernel.frames.failAfter(n);
      const r = kernel.execve(child, stat.path, [stat.path], []);
      if (r === 0) break;
      expect(child.mm).toBe(parent.mm);
      expect(parent.mm.users).toBe(2);
      expect(procMaps(parent.mm)).toBe(maps);
      expect(kernel.check()).toEqual([]);
    }
    kernel.frames.failAfter(-1);
    expect(kernel.execve(parent, '/nonexistent', [], [])).toBe(-ENOENT);
    expect(kernel.check()).toEqual([]);
  });
});
