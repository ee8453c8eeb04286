/**
 * The page: header, timeline, and the panels of the current step. The session to show comes from
 * the page itself (a `<script id="session">` the command line wrote: the demo, a log inside the
 * page, or log URLs on the local server); a log dropped on the page replaces it.
 */
import { computed } from '@preact/signals';
import { render } from 'preact';
import { useEffect, useLayoutEffect, useState } from 'preact/hooks';
import { pidFromFileName } from '../../trace/strace-parse.js';
import type { LogInput, SessionSource } from '../protocol.js';
import { AddressSpaceView } from './address-space.js';
import { CallPanel } from './call.js';
import { FramesPanel } from './frames.js';
import {
  afterNextPaint,
  connect,
  dropOptions,
  error,
  lastStepMs,
  position,
  status,
  timeline,
  timing,
  view,
  walk,
  worker,
} from './store.js';
import { TimelineView, useTimelineKeys } from './timeline.js';
import { WalkPanel } from './walk.js';

/** Reads a dropped File as chunks of bytes (the parser takes chunks, so no whole-file string is needed). */
async function chunksOf(file: File): Promise<Uint8Array[]> {
  const reader = file.stream().getReader();
  const out: Uint8Array[] = [];
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return out;
    out.push(value);
  }
}

async function openFiles(files: File[]): Promise<void> {
  const logs: LogInput[] = [];
  for (const f of [...files].sort((a, b) => a.name.localeCompare(b.name))) {
    const pid = files.length > 1 ? pidFromFileName(f.name) : undefined;
    logs.push({ name: f.name, pid, chunks: await chunksOf(f) });
  }
  const title = logs.map((l) => l.name).join(', ');
  const transfer = logs.flatMap((l) => l.chunks.map((c) => (c as Uint8Array).buffer as ArrayBuffer));
  worker().open({ kind: 'logs', title, options: dropOptions.value, logs }, transfer);
}

/** The last step's time, bound to its text node: it changes after every step without drawing the header again. */
const stepText = computed(() => (view.value ? `step ${lastStepMs.value.toFixed(1)} ms` : ''));

function Header() {
  const t = timeline.value;
  const opts = dropOptions.value;
  return (
    <header>
      <h1>levitate-mm view</h1>
      <span class="title" title={t?.title}>
        {t?.title ?? ''}
      </span>
      <span class="summary" id="summary">
        {t ? `${t.summary} · ${status.value}` : status.value}
      </span>
      <span class="summary" id="step-ms" title="time from asking for the step to its frame painted">
        {stepText}
      </span>
      <label title="for logs dropped on the page: translate addresses of a log recorded with ASLR">
        <input
          type="checkbox"
          checked={opts.relocate ?? false}
          onChange={(e) => {
            dropOptions.value = { ...opts, relocate: (e.target as HTMLInputElement).checked };
          }}
        />{' '}
        relocate
      </label>
      <label>
        <input
          type="file"
          multiple
          style={{ display: 'none' }}
          id="file-input"
          onChange={(e) => {
            const files = (e.target as HTMLInputElement).files;
            if (files && files.length > 0) void openFiles([...files]);
          }}
        />
        <button type="button" onClick={() => document.getElementById('file-input')?.click()}>
          open log…
        </button>
      </label>
      <button type="button" onClick={() => worker().open({ kind: 'demo' })}>
        demo
      </button>
    </header>
  );
}

function App() {
  const [dragging, setDragging] = useState(false);
  const t = timeline.value;
  const v = view.value;
  useTimelineKeys(t);
  useEffect(() => {
    const over = (e: DragEvent) => {
      e.preventDefault();
      setDragging(true);
    };
    const leave = (e: DragEvent) => {
      if (e.relatedTarget === null) setDragging(false);
    };
    const drop = (e: DragEvent) => {
      e.preventDefault();
      setDragging(false);
      const files = e.dataTransfer?.files;
      if (files && files.length > 0) void openFiles([...files]);
    };
    window.addEventListener('dragover', over);
    window.addEventListener('dragleave', leave);
    window.addEventListener('drop', drop);
    return () => {
      window.removeEventListener('dragover', over);
      window.removeEventListener('dragleave', leave);
      window.removeEventListener('drop', drop);
    };
  }, []);
  // Tell the store once the step is on screen. Everything a step draws (the DOM, and the canvases
  // in layout effects) is done by now; the next frame lays it out and paints it, and a message
  // posted from that frame's requestAnimationFrame callback runs only after its style, layout and
  // paint, so the step's time includes them.
  useLayoutEffect(() => {
    if (v !== null) afterNextPaint(() => worker().rendered());
  }, [v]);
  return (
    <>
      <Header />
      {error.value ? (
        <div class="banner" id="error">
          {error.value}
        </div>
      ) : null}
      {t === null ? (
        <div class="empty">{status.value === 'failed' ? '' : 'drop a strace log here, or open the demo'}</div>
      ) : (
        <>
          <TimelineView t={t} />
          {v === null ? (
            <div class="empty">{status.value}</div>
          ) : (
            <main data-position={v.position}>
              <AddressSpaceView space={v.space} pageSize={t.pageSize} />
              <div>
                <CallPanel call={v.call} t={t} />
                <div style={{ height: '10px' }} />
                <WalkPanel arch={t.arch} />
              </div>
              <FramesPanel frames={v.frames} tlb={v.tlb} pageSize={t.pageSize} />
            </main>
          )}
        </>
      )}
      {dragging ? <div class="drop">drop a strace log (or the PREFIX.PID files of strace -ff)</div> : null}
    </>
  );
}

function sessionOfPage(): SessionSource {
  const el = document.getElementById('session');
  if (el === null || el.textContent === null || el.textContent.trim() === '') return { kind: 'none' };
  const s = JSON.parse(el.textContent) as SessionSource;
  if (s.kind === 'urls') {
    // The worker runs from a blob: URL, so it needs absolute addresses.
    return { ...s, urls: s.urls.map((u) => ({ ...u, url: new URL(u.url, location.href).href })) };
  }
  return s;
}

function start(): void {
  const source = document.getElementById('worker-source')?.textContent ?? '';
  connect(source);
  const s = sessionOfPage();
  if (s.kind === 'logs' || s.kind === 'urls') dropOptions.value = { ...s.options };
  if (s.kind !== 'none') worker().open(s);
  else status.value = 'ready';
  render(<App />, document.getElementById('app')!);
  // For tests and the benchmark: the page's state, read-only by convention.
  (window as unknown as { levitate: unknown }).levitate = {
    timeline,
    view,
    walk,
    position,
    status,
    error,
    lastStepMs,
    timing,
    seek: (p: number) => worker().seek(p),
    walkAt: (a: number) => worker().requestWalk(a),
    whenRendered: () => worker().whenRendered(),
  };
}

start();
