/** The parent's handle on a forked model worker (bench/lib/model-worker.ts). */
import { type ChildProcess, fork } from 'node:child_process';
import { nextMessage } from './cli.js';
import { compileWorker, MODEL_RAM_BYTES } from './load-model.js';
import type { MemoryReport, ModelArch, ModelReply, ModelRequest } from './protocol.js';

export class ModelWorker {
  private constructor(
    readonly arch: ModelArch,
    readonly source: string,
    private readonly child: ChildProcess,
  ) {}

  /**
   * Forks a plain-node worker (no tsx loader: see load-model.ts) for `arch`, running the model
   * whose entry point is `modelUrl`, and waits until it is ready.
   */
  static async start(arch: ModelArch, modelUrl: string): Promise<ModelWorker> {
    const child = fork(compileWorker('model-worker'), [arch, modelUrl, String(MODEL_RAM_BYTES)], {
      execArgv: [],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const ready = await nextMessage<ModelReply>(child);
    if (!ready.ok || ready.kind !== 'ready')
      throw new Error(`model worker ${arch}: ${JSON.stringify(ready)}`);
    return new ModelWorker(arch, ready.source, child);
  }

  async request<K extends Extract<ModelReply, { ok: true }>['kind']>(
    msg: ModelRequest,
    kind: K,
  ): Promise<Extract<ModelReply, { kind: K }>> {
    this.child.send(msg);
    const reply = await nextMessage<ModelReply>(this.child);
    if (!reply.ok) throw new Error(`model worker ${this.arch}: ${reply.error}`);
    if (reply.kind !== kind)
      throw new Error(`model worker ${this.arch}: expected ${kind}, got ${reply.kind}`);
    return reply as Extract<ModelReply, { kind: K }>;
  }

  stop(): void {
    this.child.send({ cmd: 'exit' } satisfies ModelRequest);
  }
}

/** Runs bench/lib/memory-worker.ts in a fresh plain-node process with --expose-gc; returns its report. */
export async function measureMemory(arch: ModelArch, pages: number, modelUrl: string): Promise<MemoryReport> {
  const child = fork(compileWorker('memory-worker'), [arch, modelUrl, String(pages)], {
    execArgv: ['--expose-gc'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return nextMessage<MemoryReport>(child);
}
