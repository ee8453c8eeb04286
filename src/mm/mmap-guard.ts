import type { PhysAddr, VirtAddr } from '../hal/addr.js';
import type { AddressSpace } from './address-space.js';
import { UndoLog } from './undo-log.js';

/**
 * The seed's `MmapGuard`, as a `Disposable`: it tracks every page a syscall maps and, unless
 * `commit()` is reached, unmaps them and frees their frames when the scope ends, then rolls back
 * the syscall's VMA changes. A page that replaced an existing one (MAP_FIXED) gets its old entry
 * back, data and all; the old frame is freed only on commit.
 *
 * Created with `using guard = new MmapGuard(space)` once per syscall; tracking a page is an array
 * push, never a scope of its own.
 */
export class MmapGuard implements Disposable {
  /** VMA changes and deferred effects of the same syscall. */
  readonly undo = new UndoLog();
  private readonly vas: number[] = [];
  private readonly frames: number[] = [];
  /** For each tracked page, the replaced leaf's halves, or -1 when the page was not mapped before. */
  private readonly oldLo: number[] = [];
  private readonly oldHi: number[] = [];

  constructor(private readonly space: AddressSpace) {}

  /** Records a page mapped where nothing was mapped. */
  track(va: VirtAddr, frame: PhysAddr): void {
    this.vas.push(va);
    this.frames.push(frame);
    this.oldLo.push(-1);
    this.oldHi.push(-1);
  }

  /** Records a page that replaced the leaf `lo`/`hi` (whose frame is freed on commit). */
  trackReplaced(va: VirtAddr, frame: PhysAddr, lo: number, hi: number): void {
    this.vas.push(va);
    this.frames.push(frame);
    this.oldLo.push(lo);
    this.oldHi.push(hi);
  }

  get tracked(): number {
    return this.vas.length;
  }

  /** Keeps every page: frees the frames that replaced pages held, then commits the VMA changes. */
  commit(): void {
    const { format } = this.space.ctx;
    for (let i = 0; i < this.vas.length; i++) {
      if (this.oldLo[i] !== -1) this.space.releaseFrame(format.address(this.oldLo[i], this.oldHi[i]));
    }
    this.vas.length = 0;
    this.undo.commit();
  }

  /** Unmaps (or restores) every tracked page newest first, frees their frames, then undoes the VMA changes. */
  [Symbol.dispose](): void {
    if (this.undo.committed) return;
    const { pageTable } = this.space;
    for (let i = this.vas.length - 1; i >= 0; i--) {
      const va = this.vas[i] as VirtAddr;
      if (this.oldLo[i] === -1) pageTable.unmap(va);
      else pageTable.restore(va, this.oldLo[i], this.oldHi[i]);
      this.space.releaseFrame(this.frames[i] as PhysAddr);
    }
    this.vas.length = 0;
    this.undo[Symbol.dispose]();
  }
}
