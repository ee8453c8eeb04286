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
  /** Runs of freshly mapped pages before the current one, as [start, end) pairs (created on need). */
  private runs: number[] | null = null;
  private runStart = 0;
  private runEnd = 0;
  /** Replaced pages: address and the old leaf's halves, one triple each (created on need). */
  private replaced: number[] | null = null;
  private count = 0;

  constructor(private readonly space: AddressSpace) {}

  /** Records a page mapped where nothing was mapped. */
  track(va: VirtAddr, _frame: PhysAddr): void {
    this.count++;
    if (va === this.runEnd && this.runEnd !== this.runStart) {
      this.runEnd += this.space.pageSize;
      return;
    }
    if (this.runEnd !== this.runStart) {
      if (this.runs === null) this.runs = [this.runStart, this.runEnd];
      else this.runs.push(this.runStart, this.runEnd);
    }
    this.runStart = va;
    this.runEnd = va + this.space.pageSize;
  }

  /** Records a page that replaced the leaf `lo`/`hi` (whose frame is freed on commit). */
  trackReplaced(va: VirtAddr, _frame: PhysAddr, lo: number, hi: number): void {
    this.count++;
    if (this.replaced === null) this.replaced = [va, lo, hi];
    else this.replaced.push(va, lo, hi);
  }

  /** Pages tracked so far. */
  get tracked(): number {
    return this.count;
  }

  /** Keeps every page: frees the frames that replaced pages held, then commits the VMA changes. */
  commit(): void {
    const { format } = this.space.ctx;
    const r = this.replaced;
    if (r !== null)
      for (let i = 0; i < r.length; i += 3) this.space.releaseFrame(format.address(r[i + 1], r[i + 2]));
    this.forget();
    this.undo.commit();
  }

  /** Unmaps or restores every tracked page, frees their frames, then undoes the VMA changes. */
  [Symbol.dispose](): void {
    if (this.undo.closed) return;
    const { pageTable } = this.space;
    const runs = this.runs ?? [];
    if (this.runEnd !== this.runStart) runs.push(this.runStart, this.runEnd);
    for (let i = 0; i < runs.length; i += 2) {
      for (let va = runs[i]; va < runs[i + 1]; va += this.space.pageSize) {
        const frame = pageTable.unmap(va as VirtAddr);
        if (frame >= 0) this.space.releaseFrame(frame as PhysAddr);
      }
    }
    const r = this.replaced;
    if (r !== null) {
      for (let i = r.length - 3; i >= 0; i -= 3) {
        this.space.releaseFrame(pageTable.restore(r[i] as VirtAddr, r[i + 1], r[i + 2]));
      }
    }
    this.forget();
    this.undo[Symbol.dispose]();
  }

  private forget(): void {
    this.runs = null;
    this.runStart = this.runEnd = 0;
    this.replaced = null;
  }
}
