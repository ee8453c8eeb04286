/**
 * The replay's processes on the kernel's lifecycle, on real logs of this machine and small ones made
 * from them: a program the machine lacks, one of another build, a log recorded with randomization,
 * a re-exec without execve lines, strace -ff's files, and teardown at exit. The checker runs after
 * every line.
 */
import { createReadStream, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { NodeExecFiles } from '../../src/cli/exec-files-node.js';
import { linesOf } from '../../src/cli/trace-files.js';
import type { ExecFiles } from '../../src/exec/files.js';
import { drive, type TraceInput } from '../../src/replay/drive.js';
import { Replayer, type ReplaySummary } from '../../src/replay/engine.js';
import { caseFiles, LIFECYCLE_DIR, loadLifecycleFixtures } from '../support/lifecycle-fixtures.js';

const fixtures = loadLifecycleFixtures();
const caseNamed = (name: string) => fixtures.cases.find((c) => c.name === name)!;
const logLines = (name: string) =>
  readFileSync(`${LIFECYCLE_DIR}/${caseNamed(name).log}`, 'utf8')
    .trimEnd()
    .split('\n');

async function replay(
  inputs: TraceInput[],
  execFiles: ExecFiles | undefined,
): Promise<{ summary: ReplaySummary; replayer: Replayer }> {
  const r = new Replayer({
    arch: 'x86_64',
    ramBytes: 64 * 2 ** 20,
    layout: { totalRamPages: 6170905, overcommitMemory: 0 },
    execFiles,
  });
  const violations: string[] = [];
  await drive(r, inputs, {}, { line: () => violations.length === 0 && violations.push(...r.kernel.check()) });
  expect(violations).toEqual([]);
  return { summary: r.finish(), replayer: r };
}

const input = (name: string, lines: string[]): TraceInput => ({
  name,
  lines: async function* () {
    yield* lines;
  },
});

describe('processes of a log, on the kernel', () => {
  it('a program this machine lacks is said once and replayed from an empty address space', async () => {
    // gcc's log, with its cc1 renamed to a path that does not exist here.
    const lines = logLines('gcc').map((l) =>
      l.replaceAll('/usr/lib/gcc/x86_64-linux-gnu/12/cc1"', '/nowhere/cc1"'),
    );
    const { files } = caseFiles(caseNamed('gcc'));
    const { summary } = await replay([input('gcc', lines)], files);
    expect(summary.notices.filter((n) => /cannot be run/.test(n))).toEqual([
      expect.stringMatching(/^\/nowhere\/cc1 \(pid \d+, line \d+\) cannot be run on this machine \(ENOENT\)/),
    ]);
    const cc1 = summary.tasks.find((t) => t.program === '/nowhere/cc1')!;
    expect(cc1.origin).toBe('empty');
    expect(cc1.differed).toBeGreaterThan(0);
    // The other two programs are unaffected.
    expect(summary.tasks.filter((t) => t.origin === 'exec').map((t) => [t.replayed, t.matched])).toEqual([
      [16, 16],
      [37, 37],
    ]);
  });

  it('a program of another build is told by its first calls, said once, and replayed from an empty address space', async () => {
    const { files } = caseFiles(caseNamed('gcc'));
    // What this "machine" calls /usr/bin/as is another program: dash.
    const other: ExecFiles = { openExec: (p) => files.openExec(p === '/usr/bin/as' ? '/usr/bin/dash' : p) };
    const { summary } = await replay([input('gcc', logLines('gcc'))], other);
    expect(summary.notices.filter((n) => /exec layout is not the log's/.test(n))).toEqual([
      expect.stringMatching(
        /^\/usr\/bin\/as \(pid \d+\): its exec layout is not the log's \(line \d+: brk answered/,
      ),
    ]);
    const as = summary.tasks.find((t) => t.program === '/usr/bin/as')!;
    expect(as.origin).toBe('empty');
    // Replayed as a log without its exec would be: from its first brk(NULL), which placed the break.
    expect(as.replayed).toBe(37);
  });

  it('a log recorded with randomization replays as one without execve lines, with one notice per program', async () => {
    const dir = fileURLToPath(new URL('../fixtures/strace/', import.meta.url));
    const log = (): TraceInput[] => [
      { name: 'sh-all-f', lines: () => linesOf(createReadStream(`${dir}sh-all-f.strace`)) },
    ];
    const without = await replay(log(), undefined);
    const withFiles = await replay(log(), new NodeExecFiles());
    expect(withFiles.summary.matched).toBe(without.summary.matched);
    expect(withFiles.summary.reasons).toEqual(without.summary.reasons);
    const layouts = withFiles.summary.notices.filter((n) => /exec layout is not the log's/.test(n));
    expect(layouts.map((n) => n.split(' ')[0]).sort()).toEqual([
      '/usr/bin/head',
      '/usr/bin/ls',
      '/usr/bin/sh',
      '/usr/bin/sort',
    ]);
    expect(
      layouts.every((n) => /recorded with address randomization \(record with setarch -R\)/.test(n)),
    ).toBe(true);
  });

  it('without execve lines, a wrapper that execs in the same pid is seen as a new program', async () => {
    // egrep's log as -e trace=%memory would have it: no process lines.
    const memoryOnly = logLines('egrep').filter((l) =>
      /^\d+ +(mmap|munmap|mprotect|brk|mremap|madvise)\(/.test(l),
    );
    const { summary } = await replay([input('egrep', memoryOnly)], undefined);
    expect(summary.notices).toEqual([
      expect.stringMatching(
        /^pid \d+ runs a new program at line \d+ \(its first mapping, at 0x7ffff7fc0000, lands on memory the process holds\)/,
      ),
    ]);
    expect(summary.tasks.map((t) => t.origin)).toEqual(['empty', 'empty']);
    expect(summary.tasks[0].pids).toEqual(summary.tasks[1].pids);
  });

  it('strace -ff files: each child is made at its parent’s clone line, before its own file is read', async () => {
    const byPid = new Map<number, string[]>();
    for (const l of logLines('sh-pipeline')) {
      const m = /^(\d+) +(.*)$/.exec(l)!;
      const pid = Number(m[1]);
      byPid.set(pid, [...(byPid.get(pid) ?? []), m[2]]);
    }
    const inputs = [...byPid].map(([pid, lines]) => ({ ...input(`trace.${pid}`, lines), pid }));
    const { files } = caseFiles(caseNamed('sh-pipeline'));
    const { summary } = await replay(inputs, files);
    expect([summary.replayed, summary.matched]).toEqual([56, 56]);
    expect(summary.tasks.map((t) => [t.program, t.origin])).toEqual([
      ['/usr/bin/sh', 'exec'],
      ['/usr/bin/ls', 'exec'],
      ['/usr/bin/wc', 'exec'],
    ]);
  });

  it('at the end of a log every task has exited and every frame of theirs is back', async () => {
    const { files } = caseFiles(caseNamed('make'));
    const { summary, replayer } = await replay([input('make', logLines('make'))], files);
    expect(summary.tasks.every((t) => t.exited)).toBe(true);
    expect(replayer.kernel.tasks.size).toBe(0);
    // Only the kernel's zero page: the programs' file pages went with their last mapping.
    expect(summary.framesInUse).toBe(1);
  });
});
