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

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  if (a.length % 4 !== 0 || a.byteOffset % 4 !== 0 || b.byteOffset % 4 !== 0) {
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
    return true;
  }
  const x = new Int32Array(a.buffer, a.byteOffset, a.length / 4);
  const y = new Int32Array(b.buffer, b.byteOffset, b.length / 4);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

/** One session at a time; requests are answered in order. */
function serve(): void {
  let session: ViewSession | undefined;
  let queue: Promise<void> = Promise.resolve();
  /** The frame codes of the last step sent (the page has them). */
  let sent: Uint8Array | undefined;
  const answer = async (m: ToWorker): Promise<void> => {
    try {
      if (m.type === 'open') {
        session = undefined;
        sent = undefined;
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
        const codes = view.frames.codes;
        if (sent !== undefined && sameBytes(sent, codes)) {
          view.frames.codes = new Uint8Array(0);
          scope.postMessage({ type: 'step', id: m.id, view, walk, sameCodes: true });
        } else {
          sent = codes.slice();
          scope.postMessage({ type: 'step', id: m.id, view, walk }, [codes.buffer as ArrayBuffer]);
        }
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
