/** Loading the exec-layout fixtures and the files they were recorded with. */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { NodeExecFiles } from '../../src/cli/exec-files-node.js';
import { type ExecFile, type ExecFiles, MemoryExecFiles } from '../../src/exec/files.js';
import type { AddressSpace } from '../../src/mm/address-space.js';
import { BUILD_DIR, type ExecFixture } from '../../tools/exec-layout/fixture.js';

export const EXEC_FIXTURES = path.join(import.meta.dirname, '..', 'fixtures', 'exec-layout');

export function loadExecFixtures(arch: string): ExecFixture[] {
  const dir = path.join(EXEC_FIXTURES, arch);
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')) as ExecFixture);
}

/** Paths under `prefix` come from `memory`, all others from `host`. */
class OverlayExecFiles implements ExecFiles {
  constructor(
    private readonly prefix: string,
    private readonly memory: ExecFiles,
    private readonly host: ExecFiles,
  ) {}

  openExec(p: string): ExecFile | number {
    const mine = this.prefix === '/' || p === this.prefix || p.startsWith(`${this.prefix}/`);
    return mine ? this.memory.openExec(p) : this.host.openExec(p);
  }
}

/**
 * The files a fixture's exec used: the build directory's from the fixture (bytes and identity as
 * recorded), this machine's own from the host, after checking they are the files recorded. Returns
 * the mismatches instead when a host file differs (the fixture must then be re-recorded).
 */
export function fixtureFiles(f: ExecFixture): { files: ExecFiles; stale: string[] } {
  const memory = new MemoryExecFiles();
  const stale: string[] = [];
  for (const [p, e] of Object.entries(f.files)) {
    if (e.kind === 'host') {
      const bytes = fs.existsSync(p) ? fs.readFileSync(p) : null;
      const hash = bytes && createHash('sha256').update(bytes).digest('hex');
      if (hash !== e.sha256) stale.push(`${p}: ${bytes ? 'contents differ' : 'missing'}`);
    } else if (e.kind === 'file') {
      memory.addFile(p, {
        size: e.size,
        chunks: e.chunks.map((c) => ({ offset: c.offset, bytes: Buffer.from(c.base64, 'base64') })),
        executable: e.executable,
        major: e.major,
        minor: e.minor,
        inode: e.inode,
        thpUnmappedArea: e.thp,
      });
    } else if (e.kind === 'dir') memory.addDirectory(p);
    else memory.addSymlink(p, e.target);
  }
  return { files: new OverlayExecFiles(f.filesRoot ?? BUILD_DIR, memory, new NodeExecFiles()), stale };
}

/** The `Anonymous:` kB of each VMA as smaps shows it (the task's own pages), and 0 for the gate page. */
export function anonymousKb(space: AddressSpace): number[] {
  const out: number[] = [];
  const leaves = space.pageTable.leaves();
  for (const vma of space) {
    const cache = new Set(vma.file?.pages.values() ?? []);
    const own = leaves.filter(
      (l) => l.va >= vma.start && l.va < vma.end && l.frame !== space.zeroFrame && !cache.has(l.frame),
    ).length;
    out.push((own * space.pageSize) / 1024);
  }
  if (space.gateArea) out.push(0);
  return out;
}
