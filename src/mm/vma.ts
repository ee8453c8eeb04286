import { EINVAL } from '../abi/errno.js';
import type { AnonVma } from './anon-vma.js';
import type { MemoryObject, OpenFile } from './memory-object.js';
import { VM_EXEC, VM_MAYSHARE, VM_READ, VM_WRITE } from './vm-flags.js';

/** What a file-backed VMA maps: a file's page cache or a shmem object. */
export type MappedFile = MemoryObject;

/** The file side of a mapping: the object it maps and the open file it came through. */
export interface FileRef {
  file: MappedFile | null;
  /** The open file (`vm_file`); null for anonymous memory and for shmem objects of their own. */
  description?: OpenFile | null;
}

/**
 * Whether two mappings map the same file through the same open file (`vm_file ==`), or both map
 * none: two open()s of one file are two files to the merge rules, even with one page cache.
 */
export function sameFile(a: FileRef, b: FileRef): boolean {
  return a.file === b.file && (a.description ?? null) === (b.description ?? null);
}

/**
 * One virtual memory area: a page-aligned range [start, end) of an address space with one set of
 * rights and flags (Linux's `vm_area_struct`).
 *
 * `start` and `end` belong to the address space's VMA tree and change only through it.
 */
export class Vma {
  /** First byte of the range (page-aligned). */
  start: number;
  /** One past the last byte (page-aligned, > start). */
  end: number;
  /** `vm_flags`: VM_READ/WRITE/EXEC, the VM_MAY* bits and the hidden flags that decide merging. */
  flags: number;
  /** `vm_pgoff`: for anonymous private memory the page number it was created at, for files the file page. */
  pgoff: number;
  /**
   * The anon_vma new anonymous pages go to (Linux's `vm_area_struct.anon_vma`), or null while no
   * page of the VMA has ever been its own. Assigned on the first fault (or the eager population).
   */
  anon: AnonVma | null;
  /**
   * The `anon_vma_chain`, newest first: `anon` and, in a fork child, the ancestors' anon_vmas it is
   * still linked to. Empty when `anon` is null; see `anonChain` for a VMA whose chain was never set.
   */
  chain: readonly AnonVma[];
  /** The backing file, or null for anonymous memory. */
  file: MappedFile | null;
  /** The open file the mapping came through (see `FileRef`). */
  description: OpenFile | null;
  /** A fixed name for special mappings (`[vdso]`, `[vvar]`) and named anonymous memory; '' otherwise. */
  name: string;
  /** MAP_DROPPABLE (a high vm_flags bit in Linux). */
  droppable: boolean;
  /**
   * The VMA just below that Linux left this one next to, unmerged though the two could merge,
   * because the operation that made them neighbours tried no merge there (see `keepApart`).
   * Forgotten when this VMA's start moves.
   */
  unmergedWith: Vma | null = null;
  /** The VMA tree's handle on this VMA while it is in one (see vma-tree.ts); never copied. */
  treeNode: unknown = undefined;

  constructor(init: {
    start: number;
    end: number;
    flags: number;
    pgoff: number;
    anon?: AnonVma | null;
    chain?: readonly AnonVma[];
    file?: MappedFile | null;
    description?: OpenFile | null;
    name?: string;
    droppable?: boolean;
  }) {
    this.start = init.start;
    this.end = init.end;
    this.flags = init.flags;
    this.pgoff = init.pgoff;
    this.anon = init.anon ?? null;
    this.chain = init.chain ?? (this.anon === null ? [] : [this.anon]);
    this.file = init.file ?? null;
    this.description = init.description ?? null;
    this.name = init.name ?? '';
    this.droppable = init.droppable ?? false;
  }

  /** The PROT_* bits the VMA grants (its VM_READ/WRITE/EXEC). */
  get prot(): number {
    return this.flags & (VM_READ | VM_WRITE | VM_EXEC);
  }

  get shared(): boolean {
    return (this.flags & VM_MAYSHARE) !== 0;
  }

  /**
   * `vma_is_anonymous`: memory without a file's pages behind it: no file, or a private mapping of
   * /dev/zero (which names the file but faults like anonymous memory).
   */
  get anonymous(): boolean {
    return this.file === null || this.file.kind === 'dev-zero';
  }

  /**
   * A copy of every field for the piece [start, end) of this VMA, its pgoff advanced to match
   * (splits and moves: `vm_area_dup` then `anon_vma_clone`, so the chain is the same).
   */
  cloneAt(start: number, end: number, pageSize: number): Vma {
    return new Vma({
      start,
      end,
      flags: this.flags,
      pgoff: this.pgoff + (start - this.start) / pageSize,
      anon: this.anon,
      chain: this.chain,
      file: this.file,
      description: this.description,
      name: this.name,
      droppable: this.droppable,
    });
  }
}

/**
 * The names `_install_special_mapping` gives the vDSO's VMAs. Only exec and a snapshot's
 * special lines create VMAs with them (named anonymous memory is `[anon:…]`), and every copy of a
 * VMA (a move, a fork) keeps its name, so the name tells a special mapping as its `vm_ops`
 * (`special_mapping_vmops`) does in Linux.
 */
const SPECIAL_MAPPING_NAMES: ReadonlySet<string> = new Set(['[vvar]', '[vvar_vclock]', '[vdso]']);

/** Whether `vma` is a special mapping (`vma->vm_ops == &special_mapping_vmops`). */
export function isSpecialMapping(vma: Vma): boolean {
  return vma.name !== '' && SPECIAL_MAPPING_NAMES.has(vma.name);
}

/**
 * `vma->vm_ops->may_split`, as `__split_vma` and `prep_move_vma` ask it: 0 when `vma` may be split
 * at `addr`, else the negative errno. Of the model's mappings only the special ones have the hook,
 * `special_mapping_split`, which refuses every split with EINVAL (the kernel expects their page
 * count to stay as installed; VM_DONTEXPAND keeps them from growing). Checked on Linux 6.18
 * (x86-64 and arm64) by tools/fuzz/linux/special-mappings.c.
 */
export function maySplit(vma: Vma, _addr: number): number {
  return isSpecialMapping(vma) ? -EINVAL : 0;
}
