/**
 * What the page and its worker say to each other, and the plain data the page draws. Everything
 * here crosses postMessage (structured clone), so it is numbers, strings, arrays and typed arrays.
 */
import type { Arch } from '../hal/addr.js';
import type { DescriptorField } from '../hal/descriptor.js';

/** The outcome of one call, as the timeline colours it. */
export const Verdict = {
  /** Same result as Linux, a success. */
  Match: 0,
  /** Same result as Linux, an error (the call failed in both). */
  Error: 1,
  /** The model's result differs from Linux's. */
  Differs: 2,
  /** Not compared: the model has no such call, or the log has no result. */
  Unchecked: 3,
} as const;
export type Verdict = (typeof Verdict)[keyof typeof Verdict];

/** Replay options the page can pass to the worker (the command line's, resolved). */
export interface ViewReplayOptions {
  arch?: Arch;
  pageSize?: number;
  ramBytes?: number;
  paging?: 'eager' | 'demand';
  relocate?: boolean;
  lenient?: boolean;
  /** Layout numbers; an unlimited rlimit is sent as -1 (JSON has no Infinity). */
  layout?: Record<string, number>;
  /** /proc/PID/maps text the first process starts from, and its name. */
  maps?: string;
  mapsName?: string;
}

/** One input log: its name (a `-ff` name gives the pid) and its text or chunks. */
export interface LogInput {
  name: string;
  pid?: number;
  chunks: Array<string | Uint8Array>;
}

/** What the page embeds or the server hands out at /session.json. */
export type SessionSource =
  | { kind: 'demo'; arch?: Arch; pageSize?: number; ramBytes?: number }
  | { kind: 'logs'; title: string; options: ViewReplayOptions; logs: LogInput[] }
  | {
      kind: 'urls';
      title: string;
      options: ViewReplayOptions;
      urls: Array<{ name: string; url: string; pid?: number }>;
    }
  | { kind: 'none' };

export type ToWorker =
  | { type: 'open'; source: SessionSource; id: number }
  /** Go to a call; the walk of `address` (or, when null, of the address the step suggests) comes with it. */
  | { type: 'seek'; position: number; address: number | null; id: number }
  | { type: 'walk'; address: number; id: number }
  | { type: 'frame'; frame: number; id: number };

/** The whole timeline, sent once when a session opens. */
export interface Timeline {
  title: string;
  kind: 'demo' | 'replay';
  arch: Arch;
  pageSize: number;
  count: number;
  /** Per call: Verdict, lane (index into `lanes`), syscall (index into `names`), log line. */
  verdict: Uint8Array;
  lane: Uint16Array;
  syscall: Uint8Array;
  line: Uint32Array;
  names: string[];
  /** Lanes: one per process (log pid), in order of appearance. */
  lanes: Array<{ label: string; pid: number }>;
  /** A one-line summary (calls, matches, differences). */
  summary: string;
  /** Milliseconds the worker took to parse, replay and checkpoint (and warm up: warmUpMs). */
  openMs: number;
  /** Of it, the session warming its step paths up after the replay (ReplaySession.warmUp). */
  warmUpMs?: number;
  checkpoints: number;
}

export type FromWorker =
  | { type: 'progress'; id: number; text: string }
  | { type: 'opened'; id: number; timeline: Timeline }
  | {
      type: 'step';
      id: number;
      view: StepView;
      walk: WalkView | null;
      /**
       * The frame codes are those of the last step sent (then `view.frames.codes` is empty): most
       * calls change no frame, and a quarter of a megabyte per step need not cross over.
       */
      sameCodes?: boolean;
    }
  | { type: 'walk'; id: number; walk: WalkView }
  | { type: 'frame'; id: number; info: FrameInfo }
  | { type: 'error'; id: number; message: string };

export type RegionKind =
  | 'program'
  | 'library'
  | 'heap'
  | 'stack'
  | 'anonymous'
  | 'shared'
  | 'guard'
  | 'vdso'
  | 'file';

export interface RegionView {
  start: number;
  end: number;
  kind: RegionKind;
  /** The /proc/PID/maps line. */
  maps: string;
  /** The smaps `VmFlags:` value. */
  vmFlags: string;
  /** Pages with a present leaf. */
  resident: number;
  /** Whether the current call created or changed it. */
  changed: boolean;
}

export interface CallView {
  position: number;
  /** Title for the demo, the strace line for a log. */
  title: string;
  syscall: string;
  pid: number;
  line: number;
  /** Arguments, decoded: name and value as strace prints them. */
  args: Array<{ name: string; value: string }>;
  /** Linux's result (the log's), or for the demo what was expected. */
  linux: string;
  /** The model's result (strace format), or '' when not run. */
  model: string;
  verdict: Verdict;
  /** Why they differ, in words. */
  reason?: string;
  causeLine?: number;
  notes: string[];
}

export interface FramesView {
  total: number;
  /** Physical address of frame 0. */
  base: number;
  /** Per frame: a FrameCode. */
  codes: Uint8Array;
  free: number;
  /** Free blocks per order (/proc/buddyinfo). */
  buddy: number[];
  counts: { table: number; user: number; shared: number; kernel: number };
  /** Frames the current call allocated or freed (by frame number). */
  changed: number[];
}

/** How the frame grid colours a frame. */
export const FrameCode = {
  Kernel: 1,
  Table: 2,
  User: 3,
  /** A user frame mapped more than once (copy-on-write sharing, the zero page). */
  Shared: 4,
  /** The shared zero page. */
  Zero: 5,
  /** Free, in a block of order n: FreeBase + n. */
  FreeBase: 16,
} as const;

export interface TlbView {
  entries: Array<{ root: number; page: number; frame: number; rights: string }>;
  hits: number;
  misses: number;
}

export interface SpaceView {
  pid: number;
  regions: RegionView[];
  /** Ranges the current call unmapped (gone since before it). */
  removed: Array<[number, number]>;
  taskSize: number;
  root: number;
  mapCount: number;
  residentPages: number;
  tablePages: number;
}

export interface StepView {
  position: number;
  call: CallView;
  /** The address space of the call's process (null before it exists or after it exited). */
  space: SpaceView | null;
  tasks: Array<{ pid: number; mappings: number }>;
  frames: FramesView;
  tlb: TlbView;
  ms: number;
}

export interface WalkLevel {
  level: number;
  /** The level's name in the manual (L0..L3, PML4/PDPT/PD/PT). */
  name: string;
  table: number;
  index: number;
  entryAddress: number;
  lo: number;
  hi: number;
  last: boolean;
  summary: string;
  fields: DescriptorField[];
}

export interface WalkView {
  address: number;
  pid: number;
  levels: WalkLevel[];
  /** The frame the walk ends at, or -1 when it stops early. */
  frame: number;
  /** Physical address of the byte. */
  physical: number;
  rights: string;
  /** The VMA holding the address (its maps line), or ''. */
  vma: string;
  outcome: string;
}

export interface FrameInfo {
  frame: number;
  address: number;
  use: string;
  count: number;
  /** Who maps or owns it: `pid 1 0x7ff..000` for user pages, `pid 1 L2 table` for tables. */
  owners: string[];
  freeOrder?: number;
}
