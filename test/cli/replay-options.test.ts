/** The machine defaults `levitate-mm replay` reads from /proc (or the directory `--proc` names). */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { layoutFrom, machineDefaults } from '../../src/cli/replay-options.js';

const made: string[] = [];
afterAll(() => {
  for (const dir of made) fs.rmSync(dir, { recursive: true, force: true });
});

function procDir(files: Record<string, string>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'levitate-proc-'));
  made.push(dir);
  for (const [name, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    fs.writeFileSync(path.join(dir, name), text);
  }
  return dir;
}

describe('machine defaults', () => {
  it('take protection keys from the CPU flags the kernel enabled (ospke), not the CPU alone (pku)', () => {
    const flags = (f: string) => `processor\t: 0\nflags\t\t: fpu sse2 ${f} avx2\n\nprocessor\t: 1\n`;
    const keyed = machineDefaults(procDir({ cpuinfo: flags('pku ospke') }));
    expect(keyed.protectionKeys).toBe(true);
    expect(layoutFrom({}, 4096, keyed).protectionKeys).toBe(true);
    expect(machineDefaults(procDir({ cpuinfo: flags('pku') })).protectionKeys).toBe(false);
    const none = machineDefaults(procDir({ meminfo: 'MemTotal:       1024 kB\n' }));
    expect(none.protectionKeys).toBeUndefined();
    expect(none.totalRamBytes).toBe(1024 * 1024);
    expect('protectionKeys' in layoutFrom({}, 4096, none)).toBe(false);
  });
});
