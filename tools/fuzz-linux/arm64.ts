/** The arm64 oracle: sequences run in the qemu guest of tools/linux-harness-arm64 (a boot per batch). */
import type { Oracle } from './fuzz.js';

export function guestOracle(_o: { files: boolean; log: (s: string) => void }): {
  oracle: Oracle;
  cleanup: () => void;
} {
  throw new Error('not yet');
}
