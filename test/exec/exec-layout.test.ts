/**
 * Every exec-layout fixture (tools/exec-layout: execve on this machine's kernel under setarch -R,
 * stopped at the first instruction) against `kernel.execve` on the same files: the same errno, or
 * the same /proc/PID/maps byte for byte, VmFlags, Anonymous pages, /proc/PID/stat fields, stack
 * pointer and auxv.
 */
import { describe, expect, it } from 'vitest';
import { Kernel, procMaps, smapsFlags } from '../../src/index.js';
import { expandArgs } from '../../tools/exec-layout/fixture.js';
import { anonymousKb, fixtureCpuWords, fixtureFiles, loadExecFixtures } from '../support/exec-fixtures.js';

const hex = (n: number) => `0x${n.toString(16)}`;

describe.each([
  ['x86_64', 30],
  ['aarch64', 8],
] as const)('exec layouts recorded on %s', (arch, layouts) => {
  const fixtures = loadExecFixtures(arch);

  it('has the recorded cases', () => {
    expect(fixtures.filter((f) => f.errno === 0).length).toBeGreaterThanOrEqual(layouts);
  });

  it.each(fixtures.map((f) => [f.name, f] as const))('%s', (_name, f) => {
    const { files, stale } = fixtureFiles(f);
    expect(stale, 'host files changed since recording: run npm run record:exec-layout').toEqual([]);
    const rlimitStack = f.rlimitStack === 'unlimited' ? Number.POSITIVE_INFINITY : f.rlimitStack;
    const kernel = new Kernel({
      arch,
      paging: 'demand',
      ramBytes: 256 * 2 ** 20,
      execFiles: files,
      layout: { cpuWords: fixtureCpuWords(f) },
    });
    const task = kernel.spawn();
    const before = { mm: task.mm, free: kernel.frames.freePages, committed: kernel.accounting.committed };
    const argv = f.argv === null ? [] : expandArgs(f.argv);
    const r = kernel.execve(task, f.path, argv, expandArgs(f.envp), { rlimitStack });
    expect(kernel.check()).toEqual([]);
    if (f.errno !== 0) {
      expect(r).toBeLessThan(0);
      expect(kernel.lastExecFailure).toEqual(
        f.signal !== undefined ? { errno: -r, fatal: true } : { errno: f.errno, fatal: false },
      );
      expect(task.mm).toBe(before.mm);
      expect(kernel.frames.freePages).toBe(before.free);
      expect(kernel.accounting.committed).toBe(before.committed);
      expect(kernel.pageCache.size).toBe(0);
      return;
    }
    expect(r).toBe(0);
    const space = task.mm;
    const image = space.image!;
    expect(procMaps(space)).toBe(f.maps);
    expect(smapsFlags(space)).toEqual(f.vmflags);
    expect(anonymousKb(space)).toEqual(f.anonKb);
    expect(hex(image.sp)).toBe(f.sp);
    expect({
      start_code: hex(image.startCode),
      end_code: hex(image.endCode),
      start_stack: hex(space.startStack),
      start_data: hex(space.startData),
      end_data: hex(space.endData),
      start_brk: hex(space.startBrk),
      arg_start: hex(image.argStart),
      arg_end: hex(image.argEnd),
      env_start: hex(image.envStart),
      env_end: hex(image.envEnd),
    }).toEqual(f.stat);
    expect(image.auxv.map(([t, v]) => [t, hex(v)])).toEqual(f.auxv);
    expect(image.argv).toEqual(f.programArgv);
    expect(image.envp.length).toBe(f.programEnvc);
    // The program finds its arguments on its stack: argc, then argv[0..].
    const words = new DataView(task.read(image.sp, 16).buffer);
    expect(Number(words.getBigUint64(0, true))).toBe(Math.max(1, image.argv.length));
    expect(Number(words.getBigUint64(8, true))).toBe(image.argStart);
  });
});
