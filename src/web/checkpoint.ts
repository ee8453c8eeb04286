/**
 * Checkpoints of a live object graph (a Replayer, with its kernel, RAM, frame allocator, tasks and
 * VMA trees), so that the view can go back in time: restore the nearest checkpoint before a
 * position and replay forward from it.
 *
 * A checkpoint keeps no copy of the objects themselves, only the state of every object reachable
 * from the root when it was taken: own properties, array elements, Map and Set entries, and the
 * bytes of every ArrayBuffer behind a typed array. Restoring writes that state back into the very
 * same objects. Identity is therefore preserved, and with it every closure and bound method the
 * graph holds (a closure captures objects, which keep their identity, so it stays right after a
 * restore). Objects created after the checkpoint simply become unreachable again.
 *
 * The bytes of a buffer are kept in blocks, and a block equal to the one the previous checkpoint
 * kept for the same buffer is shared, so a gigabyte machine whose frame arrays barely change costs
 * little per checkpoint.
 *
 * Limits, checked when a checkpoint is taken: built-in objects with hidden state other than arrays,
 * Maps, Sets, typed arrays, DataViews and ArrayBuffers (a WeakMap, a TextDecoder, a Promise) are
 * refused with an Error naming them. State held in closure variables or in module variables is not
 * part of the graph and is not restored.
 */

/** Bytes per block of a saved ArrayBuffer. */
const BLOCK = 1 << 16;

type Key = string | symbol;

interface BufferState {
  blocks: Uint8Array[];
}

/** One object's state at checkpoint time. */
type State =
  | { kind: 'object'; keys: Key[]; values: unknown[] }
  | { kind: 'array'; values: unknown[] }
  | { kind: 'map'; entries: unknown[] }
  | { kind: 'set'; values: unknown[] }
  | { kind: 'buffer'; state: BufferState }
  | { kind: 'view' };

/** The state of every object reachable from a root at one moment. */
export interface Checkpoint {
  readonly root: object;
  /** Objects and their states, in traversal order. */
  readonly objects: object[];
  readonly states: State[];
  /** Bytes held by this checkpoint's own (unshared) blocks. */
  readonly ownBytes: number;
}

const PLAIN_NATIVE = new Set<unknown>([
  Object.prototype,
  Array.prototype,
  Map.prototype,
  Set.prototype,
  ArrayBuffer.prototype,
  DataView.prototype,
  RegExp.prototype,
  Error.prototype,
  RangeError.prototype,
  TypeError.prototype,
  null,
]);

function isNativeConstructor(proto: object): boolean {
  const ctor = (proto as { constructor?: unknown }).constructor;
  return (
    typeof ctor === 'function' && /\{\s*\[native code\]\s*\}$/.test(Function.prototype.toString.call(ctor))
  );
}

const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => {
  if (a.length !== b.length) return false;
  if (a.byteOffset % 4 === 0 && b.byteOffset % 4 === 0 && a.length % 4 === 0) {
    const x = new Int32Array(a.buffer, a.byteOffset, a.length / 4);
    const y = new Int32Array(b.buffer, b.byteOffset, b.length / 4);
    for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
    return true;
  }
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
};

/**
 * Takes and restores checkpoints of graphs. One store per root: it remembers the blocks of the last
 * checkpoint to share the unchanged ones with the next.
 */
export class CheckpointStore {
  private last = new WeakMap<ArrayBuffer, BufferState>();
  /** Prototypes already found acceptable (the check reads a constructor's source once). */
  private readonly checkedProtos = new WeakSet<object>();

  /** The state of everything reachable from `root` now. */
  take(root: object): Checkpoint {
    const seen = new Set<object>();
    const objects: object[] = [];
    const states: State[] = [];
    const next = new WeakMap<ArrayBuffer, BufferState>();
    let ownBytes = 0;
    const stack: unknown[] = [root];
    const visit = (v: unknown) => {
      if (v !== null && typeof v === 'object' && !seen.has(v)) stack.push(v);
    };
    while (stack.length > 0) {
      const o = stack.pop() as object;
      if (seen.has(o)) continue;
      seen.add(o);
      let state: State;
      if (Array.isArray(o)) {
        const values = o.slice();
        for (const v of values) visit(v);
        state = { kind: 'array', values };
      } else if (o instanceof Map) {
        const entries: unknown[] = [];
        for (const [k, v] of o) {
          entries.push(k, v);
          visit(k);
          visit(v);
        }
        state = { kind: 'map', entries };
      } else if (o instanceof Set) {
        const values = [...o];
        for (const v of values) visit(v);
        state = { kind: 'set', values };
      } else if (ArrayBuffer.isView(o)) {
        visit(o.buffer);
        state = { kind: 'view' };
      } else if (o instanceof ArrayBuffer) {
        const saved = this.saveBuffer(o);
        next.set(o, saved.state);
        ownBytes += saved.ownBytes;
        state = { kind: 'buffer', state: saved.state };
      } else {
        this.checkPlain(o);
        const keys = Reflect.ownKeys(o);
        const values = new Array<unknown>(keys.length);
        for (let i = 0; i < keys.length; i++) {
          const v = (o as Record<Key, unknown>)[keys[i]];
          values[i] = v;
          visit(v);
        }
        state = { kind: 'object', keys, values };
      }
      objects.push(o);
      states.push(state);
    }
    this.last = next;
    return { root, objects, states, ownBytes };
  }

  /** Puts every object of `cp` back into the state it had when `cp` was taken. */
  restore(cp: Checkpoint): void {
    const { objects, states } = cp;
    for (let i = 0; i < objects.length; i++) {
      const o = objects[i];
      const s = states[i];
      switch (s.kind) {
        case 'object': {
          const target = o as Record<Key, unknown>;
          const keys = s.keys;
          const now = Reflect.ownKeys(o);
          if (now.length !== keys.length) {
            const keep = new Set(keys);
            for (const k of now) if (!keep.has(k)) delete target[k];
          }
          for (let k = 0; k < keys.length; k++) target[keys[k]] = s.values[k];
          break;
        }
        case 'array': {
          const a = o as unknown[];
          a.length = s.values.length;
          for (let k = 0; k < s.values.length; k++) a[k] = s.values[k];
          break;
        }
        case 'map': {
          const m = o as Map<unknown, unknown>;
          m.clear();
          for (let k = 0; k < s.entries.length; k += 2) m.set(s.entries[k], s.entries[k + 1]);
          break;
        }
        case 'set': {
          const set = o as Set<unknown>;
          set.clear();
          for (const v of s.values) set.add(v);
          break;
        }
        case 'buffer': {
          const bytes = new Uint8Array(o as ArrayBuffer);
          let off = 0;
          for (const b of s.state.blocks) {
            bytes.set(b, off);
            off += b.length;
          }
          this.last.set(o as ArrayBuffer, s.state);
          break;
        }
        case 'view':
          break;
      }
    }
  }

  private saveBuffer(buf: ArrayBuffer): { state: BufferState; ownBytes: number } {
    const prev = this.last.get(buf);
    const blocks: Uint8Array[] = [];
    let ownBytes = 0;
    for (let off = 0, i = 0; off < buf.byteLength; off += BLOCK, i++) {
      const live = new Uint8Array(buf, off, Math.min(BLOCK, buf.byteLength - off));
      const old = prev?.blocks[i];
      if (old !== undefined && sameBytes(old, live)) blocks.push(old);
      else {
        blocks.push(live.slice());
        ownBytes += live.length;
      }
    }
    return { state: { blocks }, ownBytes };
  }

  private checkPlain(o: object): void {
    const proto = Object.getPrototypeOf(o) as object | null;
    if (proto === null || PLAIN_NATIVE.has(proto) || this.checkedProtos.has(proto)) return;
    // A class of the model inherits from Object (or another class of the model); a built-in with
    // hidden state (WeakMap, TextDecoder, Promise, Date) cannot be put back from its properties.
    let p: object | null = proto;
    while (p !== null && !PLAIN_NATIVE.has(p)) {
      if (isNativeConstructor(p)) {
        const name = (p as { constructor?: { name?: string } }).constructor?.name ?? 'object';
        throw new Error(`cannot checkpoint a ${name}: its state is not in its properties`);
      }
      p = Object.getPrototypeOf(p) as object | null;
    }
    this.checkedProtos.add(proto);
  }
}
