import { EnvironmentError, findTools, type Tools } from '../../tools/linux-harness/record.js';

/**
 * The toolchain the real-kernel harness tests need (gcc, setarch, Linux on x86-64), or the reason
 * they are skipped. CI installs the toolchain (.ci/run): there a missing tool is a failure, not a
 * reason to skip.
 */
export function harnessTools(): { tools: Tools | undefined; skipReason: string } {
  try {
    return { tools: findTools(), skipReason: '' };
  } catch (e) {
    if (!(e instanceof EnvironmentError) || process.env.CI) throw e;
    return { tools: undefined, skipReason: e.message };
  }
}
