import type { PhysAddr, VirtAddr } from './addr.js';
import type { Rights } from './rights.js';

/**
 * A software TLB: direct-mapped, tagged with the translation root (the task's ttbr0, acting as the
 * ASID), caching page -> (frame, rights). Like hardware it holds only what a walk found; every
 * change to a present leaf must be followed by `invalidatePage`, and a freed root by `invalidateRoot`.
 */
export class Tlb {
  private readonly mask: number;
  private readonly tagPage: Float64Array;
  private readonly tagRoot: Float64Array;
  private readonly frame: Float64Array;
  private readonly rights: Uint8Array;
  /** Lookups that hit and that missed. */
  hits = 0;
  misses = 0;

  constructor(
    readonly pageSize: number,
    readonly entries = 1024,
  ) {
    if (entries & (entries - 1)) throw new RangeError('TLB entries must be a power of two');
    this.mask = entries - 1;
    this.tagPage = new Float64Array(entries).fill(-1);
    this.tagRoot = new Float64Array(entries).fill(-1);
    this.frame = new Float64Array(entries);
    this.rights = new Uint8Array(entries);
  }

  private slot(root: number, page: number): number {
    return ((page / this.pageSize) ^ (root / this.pageSize)) & this.mask;
  }

  /** The cached frame for the page holding `va` under `root`, or -1; `rightsOut[0]` receives its rights. */
  lookup(root: PhysAddr, va: VirtAddr, rightsOut: Uint8Array): number {
    const page = va - (va % this.pageSize);
    const i = this.slot(root, page);
    if (this.tagPage[i] === page && this.tagRoot[i] === root) {
      this.hits++;
      rightsOut[0] = this.rights[i];
      return this.frame[i];
    }
    this.misses++;
    return -1;
  }

  insert(root: PhysAddr, va: VirtAddr, frame: PhysAddr, rights: Rights): void {
    const page = va - (va % this.pageSize);
    const i = this.slot(root, page);
    this.tagPage[i] = page;
    this.tagRoot[i] = root;
    this.frame[i] = frame;
    this.rights[i] = rights;
  }

  /** Drops the entry for one page of one address space (TLBI VAE1 / INVLPG with that ASID/PCID). */
  invalidatePage(root: PhysAddr, va: VirtAddr): void {
    const page = va - (va % this.pageSize);
    const i = this.slot(root, page);
    if (this.tagPage[i] === page && this.tagRoot[i] === root) {
      this.tagPage[i] = -1;
      this.tagRoot[i] = -1;
    }
  }

  /** Drops every entry of one address space (TLBI ASIDE1). */
  invalidateRoot(root: PhysAddr): void {
    for (let i = 0; i <= this.mask; i++) {
      if (this.tagRoot[i] === root) {
        this.tagPage[i] = -1;
        this.tagRoot[i] = -1;
      }
    }
  }

  /** Drops everything (TLBI VMALLE1 / a CR3 write without PCID). */
  invalidateAll(): void {
    this.tagPage.fill(-1);
    this.tagRoot.fill(-1);
  }

  /** Every valid entry, for the invariant checker. */
  *entriesInUse(): IterableIterator<{ root: PhysAddr; page: VirtAddr; frame: PhysAddr; rights: Rights }> {
    for (let i = 0; i <= this.mask; i++) {
      if (this.tagPage[i] >= 0) {
        yield {
          root: this.tagRoot[i] as PhysAddr,
          page: this.tagPage[i] as VirtAddr,
          frame: this.frame[i] as PhysAddr,
          rights: this.rights[i],
        };
      }
    }
  }
}
