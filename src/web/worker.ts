/**
 * The Web Worker that runs the model for the page: it opens a session (a log, or the demo), then
 * answers each request with the view of one step, a page-table walk or a frame's owners.
 */
import type { FromWorker, LogInput, SessionSource, ToWorker } from './protocol.js';
import { DemoSession, ReplaySession, type ViewSession } from './session.js';
import { defaultAddress } from './view-state.js';

interface WorkerScope {
  postMessage(message: FromWorker, transfer?: Transferable[]): void;
  onmessage: ((e: MessageEvent<ToWorker>) => void) | null;
}

const scope = self as unknown as WorkerScope;

async function logsOf(source: SessionSource): Promise<LogInput[]> {
  if (source.kind === 'logs') return source.logs;
  if (source.kind !== 'urls') return [];
  return Promise.all(
    source.urls.map(async (u) => {
      const r = await fetch(u.url);
      if (!r.ok) throw new Error(`${u.name}: ${r.status} ${r.statusText}`);
      return { name: u.name, pid: u.pid, chunks: [await r.text()] };
    }),
  );
}

async function open(source: SessionSource, id: number): Promise<ViewSession> {
  if (source.kind === 'demo') return new DemoSession(source);
  if (source.kind === 'none') throw new Error('nothing to show: drop a strace log on the page');
  const logs = await logsOf(source);
  return ReplaySession.open(source.title, logs, source.options, (text) =>
    scope.postMessage({ type: 'progress', id, text }),
  );
}

/** One session at a time; requests are answered in order. */
function serve(): void {
  let session: ViewSession | undefined;
  let queue: Promise<void> = Promise.resolve();
  const answer = async (m: ToWorker): Promise<void> => {
    try {
      if (m.type === 'open') {
        session = undefined;
        session = await open(m.source, m.id);
        const t = session.timeline;
        scope.postMessage({ type: 'opened', id: m.id, timeline: t });
        return;
      }
      if (session === undefined) throw new Error('no session is open');
      if (m.type === 'seek') {
        const view = session.step(m.position);
        // The walk comes in the same message, so that the page draws the step once.
        const a = m.address ?? defaultAddress(view);
        const walk = a !== null && view.space !== null ? session.walk(a) : null;
        scope.postMessage({ type: 'step', id: m.id, view, walk }, [view.frames.codes.buffer as ArrayBuffer]);
      } else if (m.type === 'walk') {
        scope.postMessage({ type: 'walk', id: m.id, walk: session.walk(m.address) });
      } else if (m.type === 'frame') {
        scope.postMessage({ type: 'frame', id: m.id, info: session.frame(m.frame) });
      }
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      scope.postMessage({ type: 'error', id: m.id, message });
    }
  };
  scope.onmessage = (e) => {
    queue = queue.then(() => answer(e.data));
  };
}

serve();
