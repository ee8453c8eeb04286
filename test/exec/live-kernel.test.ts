/**
 * The same comparison as the fixtures, live: the exec-layout helper runs execve on this machine's
 * kernel now, and the model must build the same maps, stack pointer and break from the same files,
 * for arguments and environments no fixture has. Skipped only outside CI when gcc, setarch or
 * prlimit is missing.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NodeExecFiles } from '../../src/cli/exec-files-node.js';
import { Kernel, procMaps } from '../../src/index.js';
import { expandArgs } from '../../tools/exec-layout/fixture.js';
import { buildHelper, type Case, runCase } from '../../tools/exec-layout/record.js';
import { EnvironmentError, findTools } from '../../tools/linux-harness/record.js';

let skipReason = '';
try {
  if (!findTools().prlimit) throw new EnvironmentError('prlimit not found (util-linux)');
} catch (e) {
  if (!(e instanceof EnvironmentError)) throw e;
  skipReason = e.message;
  if (process.env.CI) throw e;
}

const CASES: Case[] = [
  {
    name: 'true',
    what: '',
    path: '/bin/true',
    argv: ['true', 'a', 'bb', 'ccc'],
    envp: ['A=1', 'B=22', 'PATH=/x'],
  },
  {
    name: 'sh',
    what: '',
    path: '/bin/sh',
    argv: ['-sh', '-c', 'echo $HOME'],
    envp: ['HOME=/root', 'TERM=dumb'],
  },
  { name: 'ld.so', what: '', path: '/lib64/ld-linux-x86-64.so.2', argv: ['ld.so', '--list', '/bin/true'] },
  {
    name: 'python3',
    what: '',
    path: '/usr/bin/python3',
    argv: ['python3', '-c', 'x'.repeat(5000)],
    rlimitStack: 2 ** 28,
  },
];

describe.skipIf(skipReason !== '')(
  `execve against the running kernel${skipReason ? `: ${skipReason}` : ''}`,
  () => {
    let dir = '';
    let helper = '';
    beforeAll(() => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lmm-exec-layout-'));
      helper = buildHelper(path.join(dir, 'exec-layout'));
    });
    afterAll(() => {
      if (dir) fs.rmSync(dir, { recursive: true, force: true });
    });

    it.each(CASES.map((c) => [c.name, c] as const))('%s', (_name, c) => {
      const real = runCase(helper, c);
      expect(real.errno).toBe(0);
      const kernel = new Kernel({
        arch: 'x86_64',
        paging: 'demand',
        ramBytes: 256 * 2 ** 20,
        execFiles: new NodeExecFiles(),
      });
      const task = kernel.spawn();
      const argv = expandArgs(c.argv ?? [c.path]);
      const envp = expandArgs(c.envp ?? ['PATH=/usr/bin:/bin']);
      expect(kernel.execve(task, c.path, argv, envp, { rlimitStack: c.rlimitStack ?? 8 * 2 ** 20 })).toBe(0);
      expect(procMaps(task.mm)).toBe(real.maps);
      expect(`0x${task.mm.image!.sp.toString(16)}`).toBe(real.sp);
      expect(`0x${task.mm.startBrk.toString(16)}`).toBe(real.stat!.start_brk);
      expect(kernel.check()).toEqual([]);
    });
  },
);
