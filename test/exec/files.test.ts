/** The loader interface: path resolution of MemoryExecFiles, with the errnos Linux gives. */
import { describe, expect, it } from 'vitest';
import { EACCES, ELOOP, ENAMETOOLONG, ENOENT, ENOTDIR } from '../../src/abi/errno.js';
import { MemoryExecFiles } from '../../src/exec/files.js';

const fs = () =>
  new MemoryExecFiles()
    .addFile('/usr/bin/prog', { bytes: new Uint8Array([1, 2, 3]), inode: 7, major: 254 })
    .addFile('/usr/bin/data', { bytes: new Uint8Array(10), executable: false })
    .addFile('/opt/sparse', { size: 10000, chunks: [{ offset: 4096, bytes: new Uint8Array([9, 9]) }] })
    .addSymlink('/bin', 'usr/bin')
    .addSymlink('/usr/bin/alias', '/usr/bin/prog')
    .addSymlink('/loop/a', 'b')
    .addSymlink('/loop/b', 'a')
    .addDirectory('/empty');

describe('MemoryExecFiles', () => {
  it('opens a file by its path or through symlinks, named by its real path', () => {
    const files = fs();
    for (const p of ['/usr/bin/prog', '/bin/prog', '/bin/alias', 'usr/bin/prog', '/usr/./bin/../bin/prog']) {
      const f = files.openExec(p);
      if (typeof f === 'number') throw new Error(`${p}: ${f}`);
      expect(f.inode).toBe(7);
      expect(f.major).toBe(254);
      expect([...f.read(0, 10)]).toEqual([1, 2, 3]);
    }
  });

  it('answers what Linux answers for each kind of bad path', () => {
    const files = fs();
    expect(files.openExec('/usr/bin/missing')).toBe(-ENOENT);
    expect(files.openExec('')).toBe(-ENOENT);
    expect(files.openExec('/empty')).toBe(-EACCES);
    expect(files.openExec('/usr/bin/data')).toBe(-EACCES);
    expect(files.openExec('/usr/bin/prog/x')).toBe(-ENOTDIR);
    expect(files.openExec('/usr/bin/prog/')).toBe(-ENOTDIR);
    expect(files.openExec('/loop/a')).toBe(-ELOOP);
    expect(files.openExec(`/${'a'.repeat(256)}`)).toBe(-ENAMETOOLONG);
    expect(files.openExec(`/${'a/'.repeat(2048)}`)).toBe(-ENAMETOOLONG);
  });

  it('reads a sparse file only where it holds bytes, and nothing past its end', () => {
    const f = fs().openExec('/opt/sparse');
    if (typeof f === 'number') throw new Error(String(f));
    expect(f.size).toBe(10000);
    expect([...f.read(4096, 2)]).toEqual([9, 9]);
    expect(f.read(10000, 5).length).toBe(0);
    expect(() => f.read(0, 16)).toThrow(RangeError);
  });
});
