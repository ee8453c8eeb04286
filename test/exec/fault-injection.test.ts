/**
 * Exhaustive fault injection over execve: the n-th frame allocation of the exec fails, for every n
 * until the exec succeeds. Each failure must return an errno and leave the caller exactly as it
 * was: the same address space object, maps, page-table leaves, memory contents and mm fields, the
 * same free frames, commit charge and page cache, and a clean invariant checker. The exec that
 * finally succeeds must still build the layout the real kernel built.
 */
import { describe, expect, it } from 'vitest';
import {
  type Kernel,
  MAP_ANONYMOUS,
  MAP_PRIVATE,
  PROT_READ,
  PROT_WRITE,
  procMaps,
  type Task,
} from '../../src/index.js';
import { Kernel as KernelClass } from '../../src/kernel/kernel.js';
import { expandArgs } from '../../tools/exec-layout/fixture.js';
import { fixtureFiles, loadExecFixtures } from '../support/exec-fixtures.js';

const fixtures = new Map(
  [
    ...loadExecFixtures('x86_64'),
    ...loadExecFixtures('aarch64').map((f) => ({ ...f, name: `arm64-${f.name}` })),
  ].map((f) => [f.name, f]),
);

/** Everything of the caller and the kernel an exec may not change when it fails. */
function observe(kernel: Kernel, task: Task) {
  const space = task.mm;
  return {
    space,
    maps: procMaps(space),
    leaves: space.pageTable.leaves(),
    fields: [
      space.startBrk,
      space.brk,
      space.startStack,
      space.startData,
      space.endData,
      space.totalVm,
      space.image,
    ],
    free: kernel.frames.freePages,
    committed: kernel.accounting.committed,
    cache: kernel.pageCache.size,
    pages: [...task.mm].map((v) => (v.file ? [...v.file.pages.keys()].sort() : [])),
  };
}

const RW = PROT_READ | PROT_WRITE;

/**
 * The caller: one that runs the same program already (the page cache holds the pages the exec
 * touches), or a fresh task that maps the program's files without touching them (so a failed exec
 * must take back the page-cache pages it added to files someone else maps).
 */
function prepareCaller(
  kernel: Kernel,
  task: Task,
  caller: string,
  run: () => number,
  mapped: string[],
): void {
  if (caller === 'same-program') {
    expect(run()).toBe(0);
    return;
  }
  for (const [i, path] of mapped.entries()) {
    const file = kernel.execFiles.openExec(path);
    if (typeof file === 'number') throw new Error(`${path}: ${file}`);
    task.files.set(10 + i, { file: kernel.pageCache.lookup(file).object, readable: true, writable: false });
    expect(kernel.sys.mmap(0, 4 * 4096, PROT_READ, MAP_PRIVATE, 10 + i, 0)).toBeGreaterThan(0);
  }
}

describe.each(['demand', 'eager'] as const)('execve fault injection, %s paging', (paging) => {
  const names =
    paging === 'demand'
      ? [
          'true',
          'static',
          'static-pie-2m',
          'script-nested',
          'many-args',
          'ld-so-direct',
          'bigbss',
          'python3',
          'arm64-pie',
          'arm64-static-pie',
        ]
      : ['true', 'static', 'script'];
  // Eager paging populates every page of every mapping at each attempt, so one program there
  // covers the page-cache case.
  const cases = names.flatMap((n) =>
    paging === 'demand' || n === 'true'
      ? [[n, 'same-program'] as const, [n, 'maps-the-files'] as const]
      : [[n, 'same-program'] as const],
  );
  it.each(cases)('%s, caller %s: every failing allocation leaves the caller as it was', (name, caller) => {
    const f = fixtures.get(name)!;
    const { files } = fixtureFiles(f);
    const kernel = new KernelClass({ arch: f.arch, paging, ramBytes: 256 * 2 ** 20, execFiles: files });
    const task = kernel.spawn();
    const argv = f.argv === null ? [] : expandArgs(f.argv);
    const envp = expandArgs(f.envp);
    const mapped = [...new Set([...f.maps!.matchAll(/ (\/\S+)\n/g)].map((m) => m[1]))];
    prepareCaller(kernel, task, caller, () => kernel.execve(task, f.path, argv, envp), mapped);
    const data = kernel.sys.mmap(0, 3 * 4096, RW, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    task.write(data + 4100, [1, 2, 3, 4]);
    const before = observe(kernel, task);
    let failures = 0;
    for (let n = 0; ; n++) {
      kernel.frames.failAfter(n);
      const r = kernel.execve(task, f.path, argv, envp);
      if (r === 0) {
        expect(kernel.frames.failureArmed).toBe(true);
        kernel.frames.failAfter(-1);
        break;
      }
      failures++;
      expect(kernel.frames.failureArmed).toBe(false);
      expect(observe(kernel, task)).toEqual(before);
      expect(task.mm).toBe(before.space);
      expect([...task.read(data + 4100, 4)]).toEqual([1, 2, 3, 4]);
      expect(kernel.check()).toEqual([]);
    }
    expect(failures).toBeGreaterThan(5);
    if (paging === 'demand' && caller === 'same-program') expect(procMaps(task.mm)).toBe(f.maps);
    expect(kernel.check()).toEqual([]);
  });
});
