/** Loading the real-program strace fixtures (tools/strace-lifecycle) and the files their execs read. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseMaps } from '../../src/abi/proc-maps.js';
import { NodeExecFiles } from '../../src/cli/exec-files-node.js';
import { type ExecFile, type ExecFiles, MemoryExecFiles } from '../../src/exec/files.js';
import {
  BUILD_DIR,
  type LifecycleCase,
  type LifecycleFixtures,
} from '../../tools/strace-lifecycle/fixture.js';
import { type FileIdentity, hostFileMismatch, withRecordedIdentities } from './exec-fixtures.js';

export const LIFECYCLE_DIR = path.join(import.meta.dirname, '..', 'fixtures', 'strace', 'lifecycle');

export function loadLifecycleFixtures(): LifecycleFixtures {
  return JSON.parse(fs.readFileSync(path.join(LIFECYCLE_DIR, 'cases.json'), 'utf8')) as LifecycleFixtures;
}

/**
 * The files of a case as the traced command saw them: relative paths from BUILD_DIR (where it ran),
 * BUILD_DIR's files from the fixture (bytes and identity as recorded), every other file from this
 * machine with the identity its exec maps recorded, after checking that each one an exec read is the file recorded. `stale` lists those that
 * are not (the fixture must then be re-recorded).
 */
export function caseFiles(c: LifecycleCase): { files: ExecFiles; stale: string[] } {
  const memory = new MemoryExecFiles();
  const stale: string[] = [];
  // A host file's identity where the log was recorded is what the maps of its execs printed.
  const identities = new Map<string, FileIdentity>();
  for (const exec of c.execs) {
    for (const e of parseMaps(exec.maps)) {
      if (c.files[e.name]?.kind === 'host') {
        identities.set(e.name, { major: e.major, minor: e.minor, inode: Number(e.inode) });
      }
    }
  }
  for (const [p, f] of Object.entries(c.files)) {
    if (f.kind === 'build') {
      memory.addFile(p, {
        bytes: Buffer.from(f.base64, 'base64'),
        major: f.major,
        minor: f.minor,
        inode: f.inode,
        thpUnmappedArea: f.thp,
      });
      continue;
    }
    const mismatch = hostFileMismatch(p, f.sha256);
    if (mismatch !== null) stale.push(mismatch);
  }
  const host = withRecordedIdentities(new NodeExecFiles(BUILD_DIR), identities);
  const files: ExecFiles = {
    openExec(name: string): ExecFile | number {
      const p = name.startsWith('/') ? name : `${BUILD_DIR}/${name}`;
      return p.startsWith(`${BUILD_DIR}/`) ? memory.openExec(p) : host.openExec(p);
    },
  };
  return { files, stale };
}
