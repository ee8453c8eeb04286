/// <reference lib="esnext.disposable" preserve="true" />
import type { PhysAddr, VirtAddr } from '../hal/addr.js';
import type { AddressSpace } from './address-space.js';
import { UndoLog } from './undo-log.js';

/**
 * The seed's `MmapGuard`, as a `Disposable`: it tracks every page a syscall maps and, unless
 * `commit()` is reached, unmaps them and frees their frames when the scope ends, then rolls back
 * the syscall's VMA changes. A page that replaced an existing one (MAP_FIXED) gets its old entry
 * back, data and all; the old frame is freed only on commit.
 *
 * Created with `using guard = new MmapGuard(space)` once per syscall. Pages mapped one after the
 * other (the common case) are kept as runs of addresses, so tracking a page costs a comparison;
 * their frames are found again in the page table when a rollback needs them.
 */
export class MmapGuard implements Disposable {
  /** VMA changes and deferred effects of the same syscall. */
  readonly undo = new UndoLog();
  /** Runs of freshly mapped pages, as [start, end) pairs. */
  private readonly runs: number[] = [];
  private runStart = 0;
  private runEnd = 0;
  /** Replaced pages: address and the old leaf's halves. */
  private readonly replacedVa: number[] = [];
  private readonly replacedLo: number[] = [];
  private readonly replacedHi: number[] = [];
  private count = 0;

  constructor(private readonly space: AddressSpace) {}

  /** Records a page mapped where nothing was mapped. */
  track(va: VirtAddr, _frame: PhysAddr): void {
    this.count++;
    if (va === this.runEnd && this.runEnd !== this.runStart) {
      this.runEnd += this.space.pageSize;
      return;
    }
    if (this.runEnd !== this.runStart) this.runs.push(this.runStart, this.runEnd);
    this.runStart = va;
    this.runEnd = va + this.space.pageSize;
  }

  /** Records a page that replaced the leaf `lo`/`hi` (whose frame is freed on commit). */
  trackReplaced(va: VirtAddr, _frame: PhysAddr, lo: number, hi: number): void {
    this.count++;
    this.replacedVa.push(va);
    this.replacedLo.push(lo);
    this.replacedHi.push(hi);
  }

  /** Pages tracked so far. */
  get tracked(): number {
    return this.count;
  }

  /** Keeps every page: frees the frames that replaced pages held, then commits the VMA changes. */
  commit(): void {
    const { format } = this.space.ctx;
    for (let i = 0; i < this.replacedVa.length; i++) {
      this.space.releaseFrame(format.address(this.replacedLo[i], this.replacedHi[i]));
    }
    this.forget();
    this.undo.commit();
  }

  /** Unmaps or restores every tracked page, frees their frames, then undoes the VMA changes. */
  [Symbol.dispose](): void {
    if (this.undo.committed) return;
    const { pageTable } = this.space;
    if (this.runEnd !== this.runStart) this.runs.push(this.runStart, this.runEnd);
    for (let i = 0; i < this.runs.length; i += 2) {
      for (let va = this.runs[i]; va < this.runs[i + 1]; va += this.space.pageSize) {
        const frame = pageTable.unmap(va as VirtAddr);
        if (frame >= 0) this.space.releaseFrame(frame as PhysAddr);
      }
    }
    for (let i = this.replacedVa.length - 1; i >= 0; i--) {
      const frame = pageTable.restore(this.replacedVa[i] as VirtAddr, this.replacedLo[i], this.replacedHi[i]);
      this.space.releaseFrame(frame);
    }
    this.forget();
    this.undo[Symbol.dispose]();
  }

  private forget(): void {
    this.runs.length = 0;
    this.runStart = this.runEnd = 0;
    this.replacedVa.length = this.replacedLo.length = this.replacedHi.length = 0;
  }
}
