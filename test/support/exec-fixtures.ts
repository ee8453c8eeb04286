/** Loading the exec-layout fixtures and the files they were recorded with. */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { NodeExecFiles } from '../../src/cli/exec-files-node.js';
import { AT_HWCAP, AT_HWCAP2, AT_MINSIGSTKSZ } from '../../src/exec/arch.js';
import { type ExecFile, type ExecFiles, MemoryExecFiles } from '../../src/exec/files.js';
import type { AddressSpace } from '../../src/mm/address-space.js';
import type { CpuWords } from '../../src/mm/layout.js';
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

/** A file's device and inode, as `stat` gave them where a fixture was recorded. */
export interface FileIdentity {
  readonly major: number;
  readonly minor: number;
  readonly inode: number;
}

/**
 * The host's files with the device and inode they had where the fixture was recorded: a machine
 * built from the same packages holds the same bytes under other inode numbers, and what the
 * fixtures pin is the bytes (checked by hash), not where the file system put them.
 */
export function withRecordedIdentities(
  host: ExecFiles,
  identities: ReadonlyMap<string, FileIdentity>,
): ExecFiles {
  return {
    openExec(p: string): ExecFile | number {
      const file = host.openExec(p);
      const id = typeof file === 'number' ? undefined : identities.get(file.path);
      if (typeof file === 'number' || id === undefined) return file;
      return {
        path: file.path,
        size: file.size,
        major: id.major,
        minor: id.minor,
        inode: id.inode,
        thpUnmappedArea: file.thpUnmappedArea,
        read: (offset, length) => file.read(offset, length),
      };
    },
  };
}

/** Whether the host's file at `p` holds the recorded bytes: null if so, else why not. */
export function hostFileMismatch(p: string, sha256: string): string | null {
  const bytes = fs.existsSync(p) ? fs.readFileSync(p) : null;
  const hash = bytes && createHash('sha256').update(bytes).digest('hex');
  return hash === sha256 ? null : `${p}: ${bytes ? 'contents differ' : 'missing'}`;
}

/**
 * The files a fixture's exec used: the build directory's from the fixture (bytes and identity as
 * recorded), this machine's own from the host with the identity recorded, after checking they are
 * the files recorded. Returns the mismatches instead when a host file differs (the fixture must
 * then be re-recorded).
 */
export function fixtureFiles(f: ExecFixture): { files: ExecFiles; stale: string[] } {
  const memory = new MemoryExecFiles();
  const stale: string[] = [];
  const identities = new Map<string, FileIdentity>();
  for (const [p, e] of Object.entries(f.files)) {
    if (e.kind === 'host') {
      const mismatch = hostFileMismatch(p, e.sha256);
      if (mismatch !== null) stale.push(mismatch);
      identities.set(p, { major: e.major, minor: e.minor, inode: e.inode });
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
  const host = withRecordedIdentities(new NodeExecFiles(), identities);
  return { files: new OverlayExecFiles(f.filesRoot ?? BUILD_DIR, memory, host), stale };
}

/**
 * The CPU's auxv words of the machine a layout was recorded on (undefined for a refusal, which has
 * no auxv): a fixture recorded on another CPU (AT_HWCAP and AT_MINSIGSTKSZ differ between the
 * reference AMD EPYC and an Intel Xeon) replays with its own.
 */
export function fixtureCpuWords(f: ExecFixture): CpuWords | undefined {
  const word = (type: number): number | undefined => {
    const e = f.auxv?.find(([t]) => t === type);
    return e === undefined ? undefined : Number(e[1]);
  };
  const hwcap = word(AT_HWCAP);
  const hwcap2 = word(AT_HWCAP2);
  const minSigStackSize = word(AT_MINSIGSTKSZ);
  if (hwcap === undefined || hwcap2 === undefined || minSigStackSize === undefined) return undefined;
  return { hwcap, hwcap2, minSigStackSize };
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
