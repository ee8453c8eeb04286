/**
 * Debian's Chromium (apt-get install chromium) driven by playwright-core, as the browser tests, the
 * view benchmark and the README's screenshot use it: headless, no sandbox (CI runs as root), no
 * GPU, nothing that reaches the network, and a fresh profile each time.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BrowserContext, chromium } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

export const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/**
 * CPU time (user + system, ms) of every Chromium process running with `profile`, from /proc: what
 * the browser spent, however busy the machine's other processes keep its cores.
 */
export function chromiumCpuMs(profile: string): number {
  let ticks = 0;
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      if (!readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(profile)) continue;
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(f[11]) + Number(f[12]);
    } catch (e) {
      // The process ended between the listing and the read: it no longer counts. Anything else
      // (a /proc that cannot be read at all) would make the figure wrong, so it is not swallowed.
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ESRCH') throw e;
    }
  }
  return ticks * 10;
}

/** A browser with a fresh profile; `close` also removes the profile. */
export async function launchChromium(): Promise<{
  context: BrowserContext;
  profile: string;
  close(): Promise<void>;
}> {
  if (!existsSync(CHROMIUM))
    throw new Error(`${CHROMIUM} is missing: apt-get install chromium (.ci/run does)`);
  const profile = mkdtempSync(join(tmpdir(), 'levitate-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    // The profile directory is Chromium's --user-data-dir (playwright passes it).
    args: CHROMIUM_FLAGS,
    viewport: { width: 1500, height: 1000 },
  });
  return {
    context,
    profile,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
