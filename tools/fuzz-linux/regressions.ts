/**
 * The regression fixtures (test/fixtures/linux-regressions): small sequences, each showing one
 * difference the fuzzer found or the issue named, recorded on the real kernel. Each fixture keeps
 * its own ops, so it can be recorded again on another kernel build.
 *
 *   npx tsx tools/fuzz-linux/regressions.ts add --name NAME --note TEXT (--from FOUND.json | --ops FILE)
 *   npx tsx tools/fuzz-linux/regressions.ts record [NAME...]     # x86_64 fixtures, again, in place
 *
 * `--ops FILE` is harness input (one op per line, `# label` after an op names its kind). Files
 * are recreated under /var/tmp/levitate-mm-fixtures (ext4 here) and /dev/shm/levitate-mm-fixtures
 * (tmpfs), so a fixture's paths do not depend on the campaign that found it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Args, UsageError } from '../args.js';
import type { Op, OpName } from '../linux-harness/generate.js';
import { compareWithModel } from '../linux-harness/model.js';
import {
  buildHarness,
  DEFAULT_BUILD_DIR,
  EnvironmentError,
  type Fixture,
  type FixtureFile,
  findTools,
  formatFixture,
  type HarnessFile,
  recordOps,
} from '../linux-harness/record.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const REGRESSIONS = path.resolve(HERE, '../../test/fixtures/linux-regressions');
/** Differences the model keeps on purpose (README, "Where the model deliberately differs"), pinned. */
const DEVIATIONS = path.resolve(HERE, '../../test/fixtures/linux-deviations');
const STABLE = { disk: '/var/tmp/levitate-mm-fixtures', tmpfs: '/dev/shm/levitate-mm-fixtures' };

/** The ops of a fixture, as the harness reads them. */
export function fixtureOps(f: Fixture): Op[] {
  return f.ops.map((o) => ({ op: o.op as OpName, args: o.symbolicArgs ?? o.args, kind: o.kind }));
}

/**
 * The files of a fixture, recreated under the stable directories (or `roots`): a tmpfs file on
 * tmpfs, any other on the disk directory, a device as it is.
 */
export function stableFiles(
  files: readonly FixtureFile[],
  roots: { disk: string; tmpfs: string } = STABLE,
): HarnessFile[] {
  return files.map((f) => {
    if (f.fs === 'chr') return { path: f.path, mode: f.mode };
    const root = f.fs === 'tmpfs' ? roots.tmpfs : roots.disk;
    return { path: path.join(root, path.basename(f.path)), mode: f.mode, size: f.size };
  });
}

/** Harness input text to ops: `name arg ... [# label]`. */
export function parseOpsText(text: string): Op[] {
  const ops: Op[] = [];
  for (const raw of text.split('\n')) {
    const [body, label] = raw.split('#').map((s) => s.trim());
    if (!body) continue;
    const [name, ...args] = body.split(/\s+/);
    ops.push({ op: name as OpName, args, kind: label || `regression:${name}` });
  }
  return ops;
}

/** A regression's files as they are recreated: the stable directories here, the same paths in the guest. */
function filesFor(arch: Fixture['arch'], files: readonly FixtureFile[]): HarnessFile[] {
  if (arch === 'x86_64') return stableFiles(files);
  return files.map((f) =>
    f.fs === 'chr'
      ? { path: f.path, mode: f.mode }
      : { path: f.path, mode: f.mode, size: f.size, ...(f.huge ? { huge: f.huge } : {}) },
  );
}

/**
 * Records regression sequences on the kernel of `arch`: this machine's, or the arm64 guest's (one
 * boot for all of them). Every sequence of one call has the same files.
 */
async function recordAll(
  arch: Fixture['arch'],
  jobs: { ops: Op[]; seed: number; files: HarnessFile[] }[],
  buildDir: string,
): Promise<Fixture[]> {
  if (arch === 'x86_64') {
    const tools = findTools();
    const harness = buildHarness(buildDir, tools);
    return jobs.map((j) => recordOps(j.ops, j.seed, { harness, tools, files: j.files, arch }));
  }
  const out: Fixture[] = [];
  // The guest opens the same files for every sequence of a boot: one boot per file table.
  const byFiles = new Map<string, typeof jobs>();
  for (const j of jobs)
    byFiles.set(JSON.stringify(j.files), [...(byFiles.get(JSON.stringify(j.files)) ?? []), j]);
  const { guestOracle } = await import('./arm64.js');
  const results = new Map<(typeof jobs)[number], Fixture>();
  for (const group of byFiles.values()) {
    const g = guestOracle({ files: group[0].files, log: (s) => process.stderr.write(`regressions: ${s}\n`) });
    try {
      g.oracle.run(group).forEach((r, i) => {
        if (r instanceof Error) throw r;
        results.set(group[i], r);
      });
    } finally {
      g.cleanup();
    }
  }
  for (const j of jobs) out.push(results.get(j)!);
  return out;
}

interface Cli {
  command: 'add' | 'record';
  arch: Fixture['arch'];
  names: string[];
  name?: string;
  note?: string;
  from?: string;
  ops?: string;
  files: string[];
  buildDir: string;
  /** `--deviation`: a difference the model keeps on purpose; its fixture records the difference. */
  deviation: boolean;
}

function parseCli(argv: string[]): Cli {
  const command = argv[0];
  if (command !== 'add' && command !== 'record')
    throw new UsageError('usage: regressions.ts add|record ... (see the comment at the top)');
  const o: Cli = {
    command,
    arch: 'x86_64',
    names: [],
    files: [],
    buildDir: DEFAULT_BUILD_DIR,
    deviation: false,
  };
  const args = new Args(argv.slice(1));
  for (const a of args) {
    if (a === '--name') o.name = args.value();
    else if (a === '--note') o.note = args.value();
    else if (a === '--from') o.from = args.value();
    else if (a === '--ops') o.ops = args.value();
    else if (a === '--file') o.files.push(args.value());
    else if (a === '--build-dir') o.buildDir = args.value();
    else if (a === '--deviation') o.deviation = true;
    else if (a === '--arch') o.arch = args.oneOf(['x86_64', 'aarch64'] as const);
    else if (a.startsWith('--')) args.unknown();
    else o.names.push(a);
  }
  return o;
}

/** `--file PATH:MODE:SIZE[:HUGE]` (a device: `/dev/zero:rw`; HUGE: a guest tmpfs's huge= option). */
function parseFileSpec(spec: string): HarnessFile {
  const [p, mode, size, huge] = spec.split(':');
  if (mode !== 'r' && mode !== 'rw') throw new UsageError(`--file ${spec}: mode is r or rw`);
  if (size === undefined) return { path: p, mode };
  return { path: p, mode, size: Number(size), ...(huge ? { huge } : {}) };
}

async function main(argv: string[]): Promise<void> {
  const o = parseCli(argv);
  const dir = o.deviation ? DEVIATIONS : REGRESSIONS;
  fs.mkdirSync(dir, { recursive: true });
  if (o.command === 'add') {
    if (!o.name || !o.note || (!o.from && !o.ops))
      throw new UsageError('add needs --name, --note and --from FOUND.json or --ops FILE');
    let ops: Op[];
    let files: HarnessFile[];
    let found: Fixture['found'];
    let arch = o.arch;
    if (o.from) {
      const f = JSON.parse(fs.readFileSync(o.from, 'utf8')) as Fixture;
      arch = f.arch;
      ops = fixtureOps(f);
      files = filesFor(arch, f.files ?? []);
      found = { ...f.found!, note: o.note };
    } else {
      ops = parseOpsText(fs.readFileSync(o.ops!, 'utf8'));
      files = o.files.map(parseFileSpec);
      found = { seed: 0, ops: ops.length, difference: 'named in issue 10', note: o.note };
    }
    const [fixture] = await recordAll(arch, [{ ops, seed: found!.seed, files }], o.buildDir);
    fixture.found = found;
    write(dir, o.name, fixture, o.deviation);
    return;
  }
  const prefix = `${o.arch}-`;
  const names = o.names.length
    ? o.names
    : fs
        .readdirSync(dir)
        .filter((f) => f.startsWith(prefix) && f.endsWith('.json'))
        .sort()
        .map((f) => f.slice(prefix.length, -'.json'.length));
  const old = names.map(
    (name) => JSON.parse(fs.readFileSync(path.join(dir, `${prefix}${name}.json`), 'utf8')) as Fixture,
  );
  const fresh = await recordAll(
    o.arch,
    old.map((f) => ({ ops: fixtureOps(f), seed: f.seed, files: filesFor(o.arch, f.files ?? []) })),
    o.buildDir,
  );
  fresh.forEach((fixture, i) => {
    fixture.found = old[i].found;
    write(dir, names[i], fixture, o.deviation);
  });
}

function write(dir: string, name: string, fixture: Fixture, deviation: boolean): void {
  // Named by arch: `--name thp-anon` and `--name x86_64-thp-anon` are the same fixture.
  const bare = name.startsWith(`${fixture.arch}-`) ? name.slice(fixture.arch.length + 1) : name;
  const file = path.join(dir, `${fixture.arch}-${bare}.json`);
  const d = compareWithModel(fixture);
  // A deviation's fixture says how the model differs, so that its test sees any change.
  if (deviation && fixture.found && d !== null) fixture.found.difference = `${d.kind}: ${d.detail}`;
  fs.writeFileSync(file, formatFixture(fixture));
  process.stdout.write(
    `${file}: ${fixture.ops.length} ops; model ${d === null ? 'agrees' : `differs: ${d.kind}: ${d.detail}`}\n`,
  );
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).catch((e) => {
    process.stderr.write(`regressions: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(e instanceof EnvironmentError || e instanceof UsageError ? 2 : 1);
  });
}
