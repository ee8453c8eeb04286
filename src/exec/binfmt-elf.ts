import { EFAULT, EINVAL, ELIBBAD, ENOEXEC, ENOMEM } from '../abi/errno.js';
import {
  MAP_FIXED,
  MAP_FIXED_NOREPLACE,
  MAP_PRIVATE,
  PROT_EXEC,
  PROT_READ,
  PROT_WRITE,
} from '../abi/mman.js';
import { VM_EXEC } from '../mm/vm-flags.js';
import { toWord } from '../syscall/args.js';
import { vmBrkFlags } from '../syscall/brk.js';
import type { OpenFile } from '../syscall/context.js';
import { doMmap } from '../syscall/mmap.js';
import { unmapRange } from '../syscall/munmap.js';
import type { Binprm } from './binprm.js';
import {
  ELF_HEADER_SIZE,
  type ElfHeader,
  ET_DYN,
  ET_EXEC,
  elfRead,
  loadElfPhdrs,
  PF_R,
  PF_W,
  PF_X,
  type ProgramHeader,
  PT_GNU_PROPERTY,
  PT_GNU_STACK,
  PT_INTERP,
  PT_LOAD,
  parseElfHeader,
} from './elf.js';
import { type ExecFile, PATH_MAX } from './files.js';
import { parseElfProperties } from './gnu-property.js';
import { archSetupAdditionalPages } from './special-mappings.js';
import {
  createElfTables,
  EXSTACK_DEFAULT,
  EXSTACK_DISABLE_X,
  EXSTACK_ENABLE_X,
  setupArgPages,
} from './stack.js';
import { clearUser } from './user-copy.js';

/**
 * binfmt_elf (fs/binfmt_elf.c, 6.18) without randomization: `load_elf_binary` and the helpers it
 * calls, in the kernel's order and with its unsigned 64-bit arithmetic on the file's values (so a
 * hostile header fails where Linux's fails, with Linux's errno). The segments are mapped with the
 * model's own mmap (`do_mmap`, `vm_munmap`, `vm_brk_flags`) in the new address space.
 */

const U64 = (x: bigint) => BigInt.asUintN(64, x);
/** A negative errno as the kernel's unsigned long carries it. */
const errValue = (errno: number) => U64(BigInt(errno));
/** `IS_ERR_VALUE`: the last 4095 values of the address space are errnos. */
const isErrValue = (x: bigint) => U64(x) >= U64(-4095n);
/** The errno an error value carries. */
const errnoOf = (x: bigint) => Number(BigInt.asIntN(64, x));

/** The page arithmetic of ELF_MIN_ALIGN (the page size on both architectures) and TASK_SIZE. */
class ElfMath {
  readonly align: bigint;
  readonly taskSize: bigint;
  constructor(bprm: Binprm) {
    this.align = BigInt(bprm.pageSize);
    this.taskSize = BigInt(bprm.space.layout.taskSize);
  }
  pageStart(v: bigint): bigint {
    return U64(v) & U64(~(this.align - 1n));
  }
  pageOffset(v: bigint): bigint {
    return U64(v) & (this.align - 1n);
  }
  pageAlign(v: bigint): bigint {
    return U64(v + this.align - 1n) & U64(~(this.align - 1n));
  }
  /** `BAD_ADDR`: not a user address (errnos included). */
  bad(x: bigint): boolean {
    return U64(x) >= this.taskSize;
  }
}

/** `make_prot`: PF_R/W/X as PROT_* (`arch_elf_adjust_prot` changes nothing without BTI). */
function makeProt(flags: number): number {
  return (flags & PF_R ? PROT_READ : 0) | (flags & PF_W ? PROT_WRITE : 0) | (flags & PF_X ? PROT_EXEC : 0);
}

/** `vm_mmap`: the offset checks, then `do_mmap` in the new address space. */
function vmMmap(
  bprm: Binprm,
  file: OpenFile,
  addr: bigint,
  len: bigint,
  prot: number,
  flags: number,
  off: bigint,
): bigint {
  const m = new ElfMath(bprm);
  if (U64(off + m.pageAlign(len)) < off || m.pageOffset(off) !== 0n) return errValue(-EINVAL);
  const ret = doMmap(bprm.ctx, file, toWord(addr)!, toWord(len)!, prot, flags, toWord(off / m.align)!);
  return U64(BigInt(ret));
}

/** `vm_munmap`, whose result the loader ignores. */
function vmMunmap(bprm: Binprm, start: bigint, len: bigint): void {
  const m = new ElfMath(bprm);
  if (m.pageOffset(start) !== 0n || start > m.taskSize || len > m.taskSize - start) return;
  const aligned = m.pageAlign(len);
  if (aligned === 0n) return;
  unmapRange(bprm.ctx, Number(start), Number(start + aligned));
}

/** `vm_brk_flags` with the loader's 64-bit values: the range checks of `check_brk_limits`, then the mapping. */
function vmBrk(bprm: Binprm, addr: bigint, request: bigint, flags: number): bigint {
  const m = new ElfMath(bprm);
  const len = m.pageAlign(request);
  if (len < request) return errValue(-ENOMEM);
  if (len === 0n) return 0n;
  if (len > m.taskSize || addr > m.taskSize - len) return errValue(-ENOMEM);
  return U64(BigInt(vmBrkFlags(bprm.ctx, Number(addr), Number(len), flags)));
}

/** `padzero`: zeroes the rest of the page after `address` (the bss start); false (EFAULT) if it cannot. */
function padzero(bprm: Binprm, address: bigint): boolean {
  const m = new ElfMath(bprm);
  const offset = m.pageOffset(address);
  if (offset === 0n) return true;
  if (m.bad(address)) return false;
  return clearUser(bprm.space, Number(address), Number(m.align - offset));
}

/**
 * `elf_map`: the file part of one PT_LOAD at its page. With `totalSize` (the first segment of an
 * image placed by the allocator), the whole image's span is reserved first and the part beyond
 * this segment unmapped again, so the later MAP_FIXED segments land in a gap that fits them all.
 */
function elfMap(
  bprm: Binprm,
  file: OpenFile,
  addrIn: bigint,
  ph: ProgramHeader,
  prot: number,
  type: number,
  totalSizeIn: bigint,
): bigint {
  const m = new ElfMath(bprm);
  const size = m.pageAlign(ph.filesz + m.pageOffset(ph.vaddr));
  const off = U64(ph.offset - m.pageOffset(ph.vaddr));
  const addr = m.pageStart(addrIn);
  if (size === 0n) return addr;
  if (totalSizeIn !== 0n) {
    const totalSize = m.pageAlign(totalSizeIn);
    const mapAddr = vmMmap(bprm, file, addr, totalSize, prot, type, off);
    if (!m.bad(mapAddr)) vmMunmap(bprm, U64(mapAddr + size), U64(totalSize - size));
    return mapAddr;
  }
  return vmMmap(bprm, file, addr, size, prot, type, off);
}

/**
 * `elf_load`: one PT_LOAD: the file part (`elf_map`), the zeroed rest of its last file page
 * (`padzero`, which copies that page: it is the task's own from then on) and, when p_memsz reaches
 * further, anonymous read-write pages for the rest (`vm_brk_flags`, executable only if the segment
 * is).
 */
function elfLoad(
  bprm: Binprm,
  file: OpenFile,
  addr: bigint,
  ph: ProgramHeader,
  prot: number,
  type: number,
  totalSize: bigint,
): bigint {
  const m = new ElfMath(bprm);
  let mapAddr: bigint;
  let zeroStart = 0n;
  let zeroEnd = 0n;
  if (ph.filesz !== 0n) {
    mapAddr = elfMap(bprm, file, addr, ph, prot, type, totalSize);
    if (m.bad(mapAddr)) return mapAddr;
    if (ph.memsz > ph.filesz) {
      zeroStart = U64(mapAddr + m.pageOffset(ph.vaddr) + ph.filesz);
      zeroEnd = U64(mapAddr + m.pageOffset(ph.vaddr) + ph.memsz);
      // A read-only segment's tail cannot be zeroed; that is ignored.
      if (!padzero(bprm, zeroStart) && prot & PROT_WRITE) return errValue(-EFAULT);
    }
  } else {
    mapAddr = zeroStart = m.pageStart(addr);
    zeroEnd = U64(zeroStart + m.pageOffset(ph.vaddr) + ph.memsz);
  }
  if (ph.memsz > ph.filesz) {
    zeroStart = m.pageAlign(zeroStart);
    zeroEnd = m.pageAlign(zeroEnd);
    const error = vmBrk(bprm, zeroStart, U64(zeroEnd - zeroStart), prot & PROT_EXEC ? VM_EXEC : 0);
    if (error !== 0n) mapAddr = error;
  }
  return mapAddr;
}

/** `total_mapping_size`: from the first PT_LOAD's page to the end of the highest one (0: none). */
function totalMappingSize(bprm: Binprm, phdrs: readonly ProgramHeader[]): bigint {
  const m = new ElfMath(bprm);
  let min = U64(-1n);
  let max = 0n;
  let any = false;
  for (const ph of phdrs) {
    if (ph.type !== PT_LOAD) continue;
    const start = m.pageStart(ph.vaddr);
    if (start < min) min = start;
    const end = U64(ph.vaddr + ph.memsz);
    if (end > max) max = end;
    any = true;
  }
  return any ? U64(max - min) : 0n;
}

/** `maximum_alignment`: the largest power-of-two p_align of the PT_LOADs, at least a page (0: none). */
function maximumAlignment(bprm: Binprm, phdrs: readonly ProgramHeader[]): bigint {
  let alignment = 0n;
  for (const ph of phdrs) {
    if (ph.type !== PT_LOAD) continue;
    const a = ph.align;
    if (a === 0n || (a & (a - 1n)) !== 0n) continue;
    if (a > alignment) alignment = a;
  }
  return new ElfMath(bprm).pageAlign(alignment);
}

/** The checks on a segment's span that both loaders make (`BAD_ADDR(k) || ...`). */
function segmentFits(m: ElfMath, k: bigint, ph: ProgramHeader): boolean {
  return !(m.bad(k) || ph.filesz > ph.memsz || ph.memsz > m.taskSize || m.taskSize - ph.memsz < k);
}

/**
 * `load_elf_interp`: the interpreter's segments; an ET_DYN interpreter's first segment is placed by
 * the top-down allocator with its whole span reserved (`total_size`), the others at fixed offsets
 * from it. Returns the load address or an error value.
 */
function loadElfInterp(
  bprm: Binprm,
  ex: ElfHeader,
  interpreter: ExecFile,
  noBase: bigint,
  phdrs: readonly ProgramHeader[],
): bigint {
  const m = new ElfMath(bprm);
  if (ex.type !== ET_EXEC && ex.type !== ET_DYN) return U64(-1n);
  if (ex.machine !== bprm.arch.machine) return U64(-1n);
  let totalSize = totalMappingSize(bprm, phdrs);
  if (totalSize === 0n) return errValue(-EINVAL);
  const file = bprm.openForMapping(interpreter);
  let loadAddr = 0n;
  let loadAddrSet = false;
  for (const ph of phdrs) {
    if (ph.type !== PT_LOAD) continue;
    let type = MAP_PRIVATE;
    const prot = makeProt(ph.flags);
    const vaddr = ph.vaddr;
    if (ex.type === ET_EXEC || loadAddrSet) type |= MAP_FIXED;
    else if (noBase !== 0n && ex.type === ET_DYN) loadAddr = U64(-vaddr);
    const mapAddr = elfLoad(bprm, file, U64(loadAddr + vaddr), ph, prot, type, totalSize);
    totalSize = 0n;
    if (m.bad(mapAddr)) return mapAddr;
    if (!loadAddrSet && ex.type === ET_DYN) {
      loadAddr = U64(mapAddr - m.pageStart(vaddr));
      loadAddrSet = true;
    }
    if (!segmentFits(m, U64(loadAddr + ph.vaddr), ph)) return errValue(-ENOMEM);
  }
  return loadAddr;
}

/** The interpreter PT_INTERP names, opened, with its header; or -errno. */
interface Interpreter {
  file: ExecFile;
  header: ElfHeader;
}

/**
 * `load_elf_binary`. Returns 0 or -errno. Until `begin_new_exec` (`bprm.pointOfNoReturn`) a failure
 * is the errno execve returns; after it Linux kills the task with SIGSEGV, and the model reports it
 * the same way but leaves the caller as it was.
 */
export function loadElfBinary(bprm: Binprm): number {
  const { arch } = bprm;
  const m = new ElfMath(bprm);
  const minAlign = bprm.pageSize;
  const ex = parseElfHeader(bprm.buf);
  if (!ex.magic) return -ENOEXEC;
  if (ex.type !== ET_EXEC && ex.type !== ET_DYN) return -ENOEXEC;
  if (ex.machine !== arch.machine) return -ENOEXEC;
  const phdrs = loadElfPhdrs(ex, bprm.file, minAlign);
  if (phdrs === null) return -ENOEXEC;

  let interp: Interpreter | null = null;
  let property: ProgramHeader | null = null;
  for (const ph of phdrs) {
    if (ph.type === PT_GNU_PROPERTY) {
      property = ph;
      continue;
    }
    if (ph.type !== PT_INTERP) continue;
    if (ph.filesz > BigInt(PATH_MAX) || ph.filesz < 2n) return -ENOEXEC;
    const path = elfRead(bprm.file, ph.offset, Number(ph.filesz));
    if (typeof path === 'number') return path;
    if (path[path.length - 1] !== 0) return -ENOEXEC;
    const name = new TextDecoder().decode(path.subarray(0, path.indexOf(0)));
    const file = bprm.env.files.openExec(name);
    if (typeof file === 'number') return file;
    const header = elfRead(file, 0n, ELF_HEADER_SIZE);
    if (typeof header === 'number') return header;
    interp = { file, header: parseElfHeader(header) };
    break;
  }

  let executableStack = EXSTACK_DEFAULT;
  for (const ph of phdrs)
    if (ph.type === PT_GNU_STACK) executableStack = ph.flags & PF_X ? EXSTACK_ENABLE_X : EXSTACK_DISABLE_X;

  let interpPhdrs: ProgramHeader[] = [];
  if (interp !== null) {
    if (!interp.header.magic) return -ELIBBAD;
    if (interp.header.machine !== arch.machine) return -ELIBBAD;
    const loaded = loadElfPhdrs(interp.header, interp.file, minAlign);
    if (loaded === null) return -ELIBBAD;
    interpPhdrs = loaded;
    property = null;
    for (const ph of interpPhdrs) if (ph.type === PT_GNU_PROPERTY) property = ph;
  }
  if (arch.gnuProperty) {
    const r = parseElfProperties(interp?.file ?? bprm.file, property);
    if (r < 0) return r;
  }

  // begin_new_exec: from here on a failure kills the task.
  bprm.pointOfNoReturn = true;
  const argStart = setupArgPages(bprm, executableStack);
  if (argStart < 0) return argStart;

  const file = bprm.openForMapping(bprm.file);
  let elfBrk = 0n;
  let startCode = U64(-1n);
  let endCode = 0n;
  let startData = 0n;
  let endData = 0n;
  let loadBias = 0n;
  let phdrAddr = 0n;
  let first = true;
  for (const ph of phdrs) {
    if (ph.type !== PT_LOAD) continue;
    const prot = makeProt(ph.flags);
    let flags = MAP_PRIVATE;
    const vaddr = ph.vaddr;
    let totalSize = 0n;
    if (!first) {
      flags |= MAP_FIXED;
    } else if (ex.type === ET_EXEC) {
      flags |= MAP_FIXED_NOREPLACE;
    } else {
      totalSize = totalMappingSize(bprm, phdrs);
      if (totalSize === 0n) return -EINVAL;
      const alignment = maximumAlignment(bprm, phdrs);
      if (interp !== null) {
        // A program with an interpreter goes at ELF_ET_DYN_BASE, aligned down to its p_align.
        loadBias = arch.etDynBase;
        if (alignment !== 0n) loadBias &= U64(~(alignment - 1n));
        flags |= MAP_FIXED_NOREPLACE;
      } else if (alignment > BigInt(minAlign)) {
        // A loader with a large p_align: see where the allocator puts it, then align that.
        loadBias = elfLoad(bprm, file, 0n, ph, prot, flags, totalSize);
        if (m.bad(loadBias)) return isErrValue(loadBias) ? errnoOf(loadBias) : -EINVAL;
        vmMunmap(bprm, loadBias, totalSize);
        loadBias &= U64(~(alignment - 1n));
        flags |= MAP_FIXED_NOREPLACE;
      } else {
        loadBias = 0n;
      }
      loadBias = m.pageStart(U64(loadBias - vaddr));
    }
    const error = elfLoad(bprm, file, U64(loadBias + vaddr), ph, prot, flags, totalSize);
    if (m.bad(error)) return isErrValue(error) ? errnoOf(error) : -EINVAL;
    if (first) {
      first = false;
      if (ex.type === ET_DYN) loadBias = U64(loadBias + error - m.pageStart(U64(loadBias + vaddr)));
    }
    if (ph.offset <= ex.phoff && ex.phoff < U64(ph.offset + ph.filesz))
      phdrAddr = U64(ex.phoff - ph.offset + ph.vaddr);
    let k = ph.vaddr;
    if (ph.flags & PF_X && k < startCode) startCode = k;
    if (startData < k) startData = k;
    if (!segmentFits(m, k, ph)) return -EINVAL;
    k = U64(ph.vaddr + ph.filesz);
    if (ph.flags & PF_X && endCode < k) endCode = k;
    if (endData < k) endData = k;
    k = U64(ph.vaddr + ph.memsz);
    if (k > elfBrk) elfBrk = k;
  }
  const eEntry = U64(ex.entry + loadBias);
  phdrAddr = U64(phdrAddr + loadBias);
  elfBrk = U64(elfBrk + loadBias);
  startCode = U64(startCode + loadBias);
  endCode = U64(endCode + loadBias);
  startData = U64(startData + loadBias);
  endData = U64(endData + loadBias);

  let elfEntry: bigint;
  let interpLoadAddr = 0n;
  if (interp !== null) {
    elfEntry = loadElfInterp(bprm, interp.header, interp.file, loadBias, interpPhdrs);
    if (!isErrValue(elfEntry)) {
      interpLoadAddr = elfEntry;
      elfEntry = U64(elfEntry + interp.header.entry);
    }
    if (m.bad(elfEntry)) return isErrValue(elfEntry) ? errnoOf(elfEntry) : -EINVAL;
  } else {
    elfEntry = eEntry;
    if (m.bad(elfEntry)) return -EINVAL;
  }

  const vdso = archSetupAdditionalPages(bprm);
  if (vdso < 0) return vdso;
  const tables = createElfTables(bprm, argStart, {
    phdrAddr: Number(phdrAddr),
    phnum: ex.phnum,
    interpLoadAddr: Number(interpLoadAddr),
    entry: Number(eEntry),
    vdsoBase: vdso,
  });
  if (typeof tables === 'number') return tables;

  const { space } = bprm;
  space.startData = Number(startData);
  space.endData = Number(endData);
  space.startStack = bprm.p;
  // A loader run directly (ET_DYN, no interpreter) gets its break at ELF_ET_DYN_BASE, out of the
  // way of the mmap area, randomization or not (CONFIG_ARCH_HAS_ELF_RANDOMIZE, no COMPAT_BRK).
  if (ex.type === ET_DYN && interp === null) elfBrk = arch.etDynBase;
  space.startBrk = space.brk = Number(m.pageAlign(elfBrk));
  bprm.result = {
    entry: Number(elfEntry),
    startCode: Number(startCode),
    endCode: Number(endCode),
    interpreter: interp?.file.path ?? null,
    bounds: tables.bounds,
    auxv: tables.auxv,
  };
  return 0;
}
