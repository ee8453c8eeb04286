import type { ChildProcess } from 'node:child_process';
import { modelEntry } from './load-model.js';

/** The options every benchmark script shares: --quick, --rounds, --batch-ms, --model-dir. */
export function benchOptions(defaults: {
  rounds: number;
  batchMs: number;
  quickRounds: number;
  quickBatchMs: number;
}) {
  const argv = process.argv.slice(2);
  const option = (name: string, fallback: number): number => {
    const i = argv.indexOf(name);
    if (i < 0) return fallback;
    const v = Number(argv[i + 1]);
    if (!Number.isFinite(v) || v <= 0) throw new Error(`${name} wants a positive number`);
    return v;
  };
  const quick = argv.includes('--quick');
  const modelDirArg = argv.indexOf('--model-dir');
  const model = modelEntry(modelDirArg >= 0 ? argv[modelDirArg + 1] : undefined);
  if ('missing' in model) {
    process.stderr.write(`bench: ${model.missing}\n`);
    process.exit(2);
  }
  return {
    argv,
    option,
    quick,
    rounds: option('--rounds', quick ? defaults.quickRounds : defaults.rounds),
    batchMs: option('--batch-ms', quick ? defaults.quickBatchMs : defaults.batchMs),
    model,
  };
}

/** The next message a worker process sends, or a rejection if it exits first. */
export function nextMessage<T>(child: ChildProcess): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMessage = (m: unknown) => {
      cleanup();
      resolve(m as T);
    };
    const onExit = (code: number | null) => {
      cleanup();
      reject(new Error(`worker exited (${code}) before replying`));
    };
    const cleanup = () => {
      child.off('message', onMessage);
      child.off('exit', onExit);
    };
    child.on('message', onMessage);
    child.on('exit', onExit);
  });
}
