/**
 * `levitate-mm view`: the browser view of a replay (or of the seed's demo). The model runs in the
 * page, in a Web Worker; the command line only checks the log, then either serves the page and
 * the log on 127.0.0.1 or writes one self-contained HTML file with the log inside.
 */
import { spawn } from 'node:child_process';
import { createReadStream, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Command, InvalidArgumentError } from 'commander';
import { drive } from '../replay/drive.js';
import { ReplayContradiction } from '../replay/engine.js';
import { TraceSyntaxError } from '../trace/errors.js';
import type { LogInput, SessionSource, ViewReplayOptions } from '../web/protocol.js';
import { addReplayOptions, newReplayer, type ReplayFlags, replayOptionsOf, traceFiles } from './replay.js';
import { linesOf } from './trace-files.js';
import { UsageError } from './values.js';

/** The built page: template, page script, worker script (dist/page, built by tools/web-bundle.ts). */
export interface PageAssets {
  html: string;
  app: string;
  worker: string;
}

/** Text safe inside a `<script>` element (no `</script` can end it early). */
function scriptText(s: string): string {
  return s.replace(/<\/(script)/gi, '<\\/$1').replace(/<!--/g, '<\\!--');
}

/** The page with its session, worker and script inside: it loads nothing from anywhere. */
export function pageHtml(assets: PageAssets, session: SessionSource): string {
  return assets.html
    .replace(
      '<!--SESSION-->',
      () => `<script type="application/json" id="session">${scriptText(JSON.stringify(session))}</script>`,
    )
    .replace(
      '<!--WORKER-->',
      () => `<script type="text/plain" id="worker-source">${scriptText(assets.worker)}</script>`,
    )
    .replace('<!--APP-->', () => `<script>${scriptText(assets.app)}</script>`);
}

/** The built page next to this module (dist/page), or a usage error saying how to build it. */
function builtAssets(): PageAssets {
  const dir = fileURLToPath(new URL('../page/', import.meta.url));
  const files = ['index.html', 'app.js', 'worker.js'].map((f) => `${dir}${f}`);
  if (!files.every((f) => existsSync(f))) {
    throw new UsageError(`the page is not built (${dir}app.js is missing): run npm run build`);
  }
  const [html, app, worker] = files.map((f) => readFileSync(f, 'utf8'));
  return { html, app, worker };
}

/** The replay options as the page takes them (JSON: an unlimited rlimit becomes -1). */
function viewOptionsOf(flags: ReplayFlags): ViewReplayOptions {
  const o = replayOptionsOf(flags);
  const layout: Record<string, number> = {};
  for (const [k, v] of Object.entries(o.layout ?? {})) {
    if (typeof v === 'number') layout[k] = v === Number.POSITIVE_INFINITY ? -1 : v;
  }
  const out: ViewReplayOptions = {
    arch: o.arch,
    pageSize: o.pageSize,
    ramBytes: o.ramBytes,
    paging: o.paging,
    relocate: o.relocate,
    lenient: flags.lenient ?? false,
    layout,
  };
  if (o.mapsText !== undefined) {
    out.maps = o.mapsText;
    out.mapsName = flags.maps;
  }
  return out;
}

/**
 * Replays the log once here, so that a bad line or a contradiction is one line on the terminal
 * rather than a broken page. Returns the summary line.
 */
async function checkLog(files: Array<{ path: string; pid?: number }>, flags: ReplayFlags): Promise<string> {
  const options = replayOptionsOf(flags);
  const replayer = newReplayer(options);
  const inputs = files.map((f) => ({
    name: f.path,
    pid: f.pid,
    lines: () => linesOf(createReadStream(f.path)),
  }));
  try {
    await drive(replayer, inputs, { arch: options.arch, lenient: flags.lenient ?? false }, { line() {} });
  } catch (e) {
    if (e instanceof TraceSyntaxError) throw new UsageError(e.message);
    if (e instanceof ReplayContradiction) {
      const name = files.length === 1 ? files[0].path : 'the log';
      throw new UsageError(`${name}:${e.message.replace(/^line /, '')}`);
    }
    throw e;
  }
  const s = replayer.finish();
  return `${s.replayed} memory calls replayed: ${s.matched} same result, ${s.differed} different`;
}

interface ViewFlags extends ReplayFlags {
  demo?: boolean;
  html?: string;
  open: boolean;
  port: number;
}

/** Opens `url` in the desktop's browser, quietly doing nothing where there is none. */
function openBrowser(url: string): void {
  const cmd = process.platform === 'darwin' ? 'open' : process.platform === 'win32' ? 'explorer' : 'xdg-open';
  try {
    const child = spawn(cmd, [url], { stdio: 'ignore', detached: true });
    child.on('error', () => process.stderr.write(`levitate-mm view: no browser to open; visit ${url}\n`));
    child.unref();
  } catch {
    process.stderr.write(`levitate-mm view: no browser to open; visit ${url}\n`);
  }
}

/** Serves the page at / and the logs at /log/N on host:port until the process ends. */
export function serveView(
  assets: PageAssets,
  session: SessionSource,
  logs: Array<{ path: string }>,
  host: string,
  port: number,
): Promise<{ server: Server; url: string }> {
  const page = pageHtml(assets, session);
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    const log = /^\/log\/(\d+)$/.exec(path);
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405).end();
    } else if (path === '/' || path === '/index.html') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
      res.end(page);
    } else if (log && Number(log[1]) < logs.length) {
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
      res.end(readFileSync(logs[Number(log[1])].path));
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    }
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      const a = server.address();
      const p = typeof a === 'object' && a !== null ? a.port : port;
      resolve({ server, url: `http://${host}:${p}/` });
    });
  });
}

async function runView(trace: string | undefined, flags: ViewFlags): Promise<void> {
  if (flags.demo && trace !== undefined) throw new UsageError('give either a log or --demo, not both');
  if (!flags.demo && trace === undefined) throw new UsageError('give a strace log to view, or --demo');
  if (trace === '-') throw new UsageError('view reads a log file, not standard input');
  const assets = builtAssets();
  let session: SessionSource;
  let files: Array<{ path: string; pid?: number }> = [];
  if (flags.demo) {
    const o = replayOptionsOf(flags);
    session = { kind: 'demo', arch: flags.arch ?? 'aarch64', pageSize: o.pageSize, ramBytes: 8 * 2 ** 20 };
  } else {
    files = await traceFiles(trace!);
    const summary = await checkLog(files, flags);
    process.stderr.write(`levitate-mm view: ${summary}\n`);
    const options = viewOptionsOf(flags);
    const title =
      files.length === 1 ? basename(files[0].path) : `${basename(trace!)}.* (${files.length} files)`;
    if (flags.html !== undefined) {
      const logs: LogInput[] = files.map((f) => ({
        name: basename(f.path),
        pid: f.pid,
        chunks: [readFileSync(f.path, 'utf8')],
      }));
      session = { kind: 'logs', title, options, logs };
    } else {
      const urls = files.map((f, i) => ({ name: basename(f.path), pid: f.pid, url: `log/${i}` }));
      session = { kind: 'urls', title, options, urls };
    }
  }
  if (flags.html !== undefined) {
    const html = pageHtml(assets, session);
    try {
      writeFileSync(flags.html, html);
    } catch (e) {
      throw new UsageError(`cannot write ${flags.html}: ${(e as Error).message.replace(/^[A-Z]+: /, '')}`);
    }
    process.stderr.write(
      `levitate-mm view: wrote ${flags.html} (${html.length} bytes): open it in a browser\n`,
    );
    return;
  }
  let served: { server: Server; url: string };
  try {
    served = await serveView(assets, session, files, '127.0.0.1', flags.port);
  } catch (e) {
    throw new UsageError(`cannot listen on 127.0.0.1:${flags.port}: ${(e as Error).message}`);
  }
  process.stdout.write(`${served.url}\n`);
  process.stderr.write('levitate-mm view: serving the view; Ctrl-C to stop\n');
  if (flags.open) openBrowser(served.url);
}

function parsePort(v: string): number {
  const n = Number(v);
  if (!/^\d+$/.test(v) || n > 65535) throw new InvalidArgumentError(`not a port: ${v}`);
  return n;
}

/** Simulated RAM of the view unless --ram says otherwise: 1 GiB, 262,144 frames of 4 KiB. */
const VIEW_RAM = 2 ** 30;

/** Adds `view` to the program. */
export function registerView(program: Command): void {
  const command = program
    .command('view')
    .description(
      'open the browser view of a replay (or of the demo): timeline, address space, page tables, frames',
    )
    .argument('[trace]', 'strace output file, or the PREFIX of strace -ff files');
  addReplayOptions(command)
    .option('--demo', "show the seed's scenario step by step instead of a log")
    .option('--html <file>', 'write one self-contained page (log and model inside) instead of serving it')
    .option('--no-open', 'only print the URL; do not start a browser')
    .option('--port <n>', 'port on 127.0.0.1 (default: any free one)', parsePort, 0)
    .addHelpText(
      'after',
      `
Examples:
  levitate-mm view app.strace --relocate          # serve on 127.0.0.1 and open a browser
  levitate-mm view app.strace --no-open           # only print the URL
  levitate-mm view app.strace --html app.html     # one file that opens from disk
  levitate-mm view --demo                         # the seed's scenario, step by step

Simulated RAM defaults to 1G here (the page draws every frame); --ram sets it as for replay.

In the page: click or drag the timeline, ←/→ step (Shift: by 10), n/p next/previous difference,
Home/End; click a region to walk its page tables; drop another log (or strace -ff files) on it.`,
    )
    .action(async (trace: string | undefined, flags: ViewFlags, cmd: Command) => {
      // The page draws every frame: a smaller machine than replay's by default.
      if (cmd.getOptionValueSource('ram') === 'default') flags.ram = VIEW_RAM;
      await runView(trace, flags);
    });
}
