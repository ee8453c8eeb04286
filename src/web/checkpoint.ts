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
/**
 * Buffers up to this size are copied whole at each checkpoint, all into a few shared slabs: sharing
 * them would cost more, and an ArrayBuffer of its own for each would make work for the collector.
 */
const SMALL = 4096;
/** Bytes per slab of small buffers' copies. */
const SLAB = 1 << 16;

type Key = string | symbol;

interface BufferState {
  blocks: Uint8Array[];
}

const Kind = { Object: 0, Array: 1, Map: 2, Set: 3, SmallBuffer: 4, Buffer: 5, View: 6 } as const;

/**
 * The state of every object reachable from a root at one moment, kept flat (a few arrays per
 * checkpoint rather than a few per object: a checkpoint is cheap to take and to keep, and the
 * garbage collector has little to walk through).
 */
export interface Checkpoint {
  readonly root: object;
  /** Objects, in traversal order. */
  readonly objects: object[];
  /** Per object: its Kind. */
  readonly kinds: Uint8Array;
  /** Per object: where its values start in `values` (and, at the end, where the last one ends). */
  readonly starts: Uint32Array;
  /**
   * Per object: its own keys (plain objects; shared with the previous checkpoint's when equal), else
   * null.
   */
  readonly keys: Array<Key[] | null>;
  /**
   * Property values in key order, array elements, Map keys and values in turn, Set values, the slab
   * and offset of a small buffer's copy, the BufferState of a large one.
   */
  readonly values: unknown[];
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

const sameKeys = (a: readonly Key[], b: readonly Key[]): boolean => {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
};

/**
 * Takes and restores checkpoints of graphs. One store per root: it remembers the blocks of the last
 * checkpoint to share the unchanged ones with the next, and its keys.
 */
export class CheckpointStore {
  private last = new WeakMap<ArrayBuffer, BufferState>();
  /** The last checkpoint taken, whose key arrays the next one shares where they are equal. */
  private previous: Checkpoint | undefined;
  /** Prototypes already found acceptable (the check reads a constructor's source once). */
  private readonly checkedProtos = new WeakSet<object>();

  /** The state of everything reachable from `root` now. */
  take(root: object): Checkpoint {
    const seen = new Set<object>();
    const objects: object[] = [];
    const kinds: number[] = [];
    const starts: number[] = [];
    const keysOf: Array<Key[] | null> = [];
    const values: unknown[] = [];
    const next = new WeakMap<ArrayBuffer, BufferState>();
    const prev = this.previous;
    let ownBytes = 0;
    let slab = new Uint8Array(SLAB);
    let used = 0;
    const stack: unknown[] = [root];
    const visit = (v: unknown) => {
      if (v !== null && typeof v === 'object' && !seen.has(v)) stack.push(v);
    };
    while (stack.length > 0) {
      const o = stack.pop() as object;
      if (seen.has(o)) continue;
      seen.add(o);
      const i = objects.length;
      objects.push(o);
      starts.push(values.length);
      let keys: Key[] | null = null;
      if (Array.isArray(o)) {
        kinds.push(Kind.Array);
        for (let k = 0; k < o.length; k++) {
          const v: unknown = o[k];
          values.push(v);
          visit(v);
        }
      } else if (o instanceof Map) {
        kinds.push(Kind.Map);
        for (const [k, v] of o) {
          values.push(k, v);
          visit(k);
          visit(v);
        }
      } else if (o instanceof Set) {
        kinds.push(Kind.Set);
        for (const v of o) {
          values.push(v);
          visit(v);
        }
      } else if (ArrayBuffer.isView(o)) {
        kinds.push(Kind.View);
        visit(o.buffer);
      } else if (o instanceof ArrayBuffer) {
        if (o.byteLength <= SMALL) {
          kinds.push(Kind.SmallBuffer);
          if (used + o.byteLength > SLAB) {
            slab = new Uint8Array(SLAB);
            used = 0;
          }
          slab.set(new Uint8Array(o), used);
          values.push(slab, used);
          used += o.byteLength;
          ownBytes += o.byteLength;
        } else {
          kinds.push(Kind.Buffer);
          const saved = this.saveBuffer(o);
          next.set(o, saved.state);
          ownBytes += saved.ownBytes;
          values.push(saved.state);
        }
      } else {
        this.checkPlain(o);
        kinds.push(Kind.Object);
        keys = Reflect.ownKeys(o);
        // The same object at the same place with the same keys as last time (the usual case)
        // shares the last checkpoint's array.
        const had = prev !== undefined && prev.objects[i] === o ? prev.keys[i] : null;
        if (had !== null && sameKeys(had, keys)) keys = had;
        for (let k = 0; k < keys.length; k++) {
          const v = (o as Record<Key, unknown>)[keys[k]];
          values.push(v);
          visit(v);
        }
      }
      keysOf.push(keys);
    }
    starts.push(values.length);
    this.last = next;
    const cp: Checkpoint = {
      root,
      objects,
      kinds: Uint8Array.from(kinds),
      starts: Uint32Array.from(starts),
      keys: keysOf,
      values,
      ownBytes,
    };
    this.previous = cp;
    return cp;
  }

  /** Puts every object of `cp` back into the state it had when `cp` was taken. */
  restore(cp: Checkpoint): void {
    const { objects, kinds, starts, keys: keysOf, values } = cp;
    for (let i = 0; i < objects.length; i++) {
      const o = objects[i];
      const from = starts[i];
      const to = starts[i + 1];
      switch (kinds[i]) {
        case Kind.Object: {
          const target = o as Record<Key, unknown>;
          const keys = keysOf[i]!;
          const now = Reflect.ownKeys(o);
          if (now.length !== keys.length) {
            const keep = new Set(keys);
            for (const k of now) if (!keep.has(k)) delete target[k];
          }
          for (let k = 0; k < keys.length; k++) target[keys[k]] = values[from + k];
          break;
        }
        case Kind.Array: {
          // Grown by push, never by setting its length: a longer length would leave holes, which
          // turn the array holey for good and throw out the optimized code that used it.
          const a = o as unknown[];
          const n = to - from;
          if (a.length > n) a.length = n;
          let k = 0;
          for (; k < a.length; k++) a[k] = values[from + k];
          for (; k < n; k++) a.push(values[from + k]);
          break;
        }
        case Kind.Map: {
          const m = o as Map<unknown, unknown>;
          m.clear();
          for (let k = from; k < to; k += 2) m.set(values[k], values[k + 1]);
          break;
        }
        case Kind.Set: {
          const set = o as Set<unknown>;
          set.clear();
          for (let k = from; k < to; k++) set.add(values[k]);
          break;
        }
        case Kind.SmallBuffer: {
          const bytes = new Uint8Array(o as ArrayBuffer);
          const at = values[from + 1] as number;
          bytes.set((values[from] as Uint8Array).subarray(at, at + bytes.length));
          break;
        }
        case Kind.Buffer: {
          const state = values[from] as BufferState;
          const bytes = new Uint8Array(o as ArrayBuffer);
          let off = 0;
          for (const b of state.blocks) {
            bytes.set(b, off);
            off += b.length;
          }
          this.last.set(o as ArrayBuffer, state);
          break;
        }
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
