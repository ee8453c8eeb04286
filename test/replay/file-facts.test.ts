/**
 * The replay knows the files a log maps: their size and their file system's placement rule, from
 * the file of that path on this machine when there is one, from --file / --file-system when not.
 * A 4 MiB mapping of a file on ext4 is placed 2 MiB-aligned (thp_get_unmapped_area), one on tmpfs
 * or of an unknown file is not.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileSystemRules } from 'levitate-mm';
import { describe, expect, it } from 'vitest';
import {
  fileFactsFrom,
  fileSystemName,
  mountOptions,
  parseFileOption,
  tmpfsHuge,
} from '../../src/cli/host-files.js';
import { Replayer } from '../../src/replay/engine.js';
import type { FileFactsOf } from '../../src/replay/fd-table.js';
import { createParserState, parseLine } from '../../src/trace/strace-parse.js';

const MiB = 2 ** 20;

/** The model's answer to one 4 MiB read-only private mapping of `lib` in a fresh process. */
function place(fileFacts?: FileFactsOf): string {
  const r = new Replayer({ arch: 'x86_64', fileFacts });
  const state = createParserState({ arch: 'x86_64' });
  const line =
    'mmap(NULL, 4194304, PROT_READ, MAP_PRIVATE|MAP_DENYWRITE, 3</usr/lib/libbig.so>, 0) = 0x7ffff7a00000';
  const outcome = r.step(parseLine(line, state));
  return outcome!.line;
}

describe('file facts in the replay', () => {
  it('places a large mapping of an ext4 file as thp_get_unmapped_area does, and of other files plainly', () => {
    const ext4 = () => ({ size: 4 * MiB, ...fileSystemRules('ext4') });
    expect(place(ext4)).toMatch(/= 0x7ffff7a00000$/);
    // mmap_base 0x7ffff7fff000 minus 4 MiB: what a file system without an alignment rule gets.
    expect(place(() => ({ size: 4 * MiB, ...fileSystemRules('tmpfs') }))).toMatch(/= 0x7ffff7bff000/);
    expect(place()).toMatch(/= 0x7ffff7bff000/);
    expect(place(fileFactsFrom(parseFileOption('/usr/lib/libbig.so=4M:xfs')))).toMatch(/= 0x7ffff7a00000$/);
    expect(place(fileFactsFrom([], 'btrfs'))).toMatch(/= 0x7ffff7a00000$/);
  });

  it('takes size and file system from the file of that path on this machine, before --file-system', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lmm-facts-'));
    try {
      const file = path.join(dir, 'lib.so');
      fs.writeFileSync(file, Buffer.alloc(5000));
      const name = fileSystemName(fs.statfsSync(file).type);
      const huge = name === 'tmpfs' ? tmpfsHuge(fs.realpathSync(file)) : undefined;
      expect(fileFactsFrom([], 'xfs')(file)).toEqual({ size: 5000, ...fileSystemRules(name, huge) });
      // --no-host-files: the log was recorded elsewhere, this machine's file says nothing.
      expect(fileFactsFrom([], 'xfs', false)(file)).toEqual(fileSystemRules('xfs'));
      expect(fileFactsFrom(parseFileOption(`${file}=64K:ext4`))(file)).toEqual({
        size: 65536,
        ...fileSystemRules('ext4'),
      });
      expect(fileFactsFrom([])(path.join(dir, 'absent'))).toBeUndefined();
      expect(fileFactsFrom([], 'ext4')(path.join(dir, 'absent'))).toEqual(fileSystemRules('ext4'));
      expect(fileFactsFrom([])('/dev/zero')).toEqual({ device: true });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reads a tmpfs mount option and refuses a malformed --file', () => {
    const mountinfo = [
      '22 1 254:0 / / rw,relatime - ext4 /dev/vda rw',
      '30 22 0:27 / /dev/shm rw - tmpfs tmpfs rw,size=100k',
      '31 22 0:28 / /huge rw - tmpfs tmpfs rw,huge=always',
    ].join('\n');
    expect(mountOptions('/huge/x', mountinfo)).toBe('rw,huge=always');
    expect(tmpfsHuge('/huge/x', mountinfo)).toBe('always');
    expect(tmpfsHuge('/dev/shm/x', mountinfo)).toBe('never');
    expect(fileSystemRules('tmpfs', 'always').placement).toBe('shmem-huge');
    expect(() => parseFileOption('/lib/x.so')).toThrow(/PATH=SIZE/);
  });
});
