import { EIO } from '../abi/errno.js';
import type { ExecFile } from './files.js';

/**
 * The ELF64 structures execve reads (include/uapi/linux/elf.h): the file header and the program
 * headers. Every 64-bit field stays a bigint, because the values come from a file and Linux does
 * its checks on them in unsigned 64-bit arithmetic; the loader turns them into numbers only once
 * they are known to be user addresses.
 */

export const ET_EXEC = 2;
export const ET_DYN = 3;
export const EM_X86_64 = 62;
export const EM_AARCH64 = 183;

export const PT_LOAD = 1;
export const PT_INTERP = 3;
export const PT_GNU_STACK = 0x6474e551;
export const PT_GNU_PROPERTY = 0x6474e553;

export const PF_X = 1;
export const PF_W = 2;
export const PF_R = 4;

/** `sizeof(struct elf64_hdr)` and `sizeof(struct elf64_phdr)`. */
export const ELF_HEADER_SIZE = 64;
export const PHDR_SIZE = 56;

/** `struct elf64_hdr`, the fields the loader looks at. */
export interface ElfHeader {
  /** The first four bytes are `\x7fELF`. */
  readonly magic: boolean;
  readonly type: number;
  readonly machine: number;
  readonly entry: bigint;
  readonly phoff: bigint;
  readonly phentsize: number;
  readonly phnum: number;
}

/** `struct elf64_phdr`. */
export interface ProgramHeader {
  readonly type: number;
  readonly flags: number;
  readonly offset: bigint;
  readonly vaddr: bigint;
  readonly filesz: bigint;
  readonly memsz: bigint;
  readonly align: bigint;
}

/**
 * The header as `load_elf_binary` sees it: cast over the start of `bprm->buf`, which is zero-padded
 * when the file is shorter. Neither EI_CLASS nor EI_DATA is looked at (Linux does not either:
 * `elf_check_arch` compares only e_machine).
 */
export function parseElfHeader(buf: Uint8Array): ElfHeader {
  const b = new Uint8Array(ELF_HEADER_SIZE);
  b.set(buf.subarray(0, ELF_HEADER_SIZE));
  const v = new DataView(b.buffer);
  return {
    magic: b[0] === 0x7f && b[1] === 0x45 && b[2] === 0x4c && b[3] === 0x46,
    type: v.getUint16(16, true),
    machine: v.getUint16(18, true),
    entry: v.getBigUint64(24, true),
    phoff: v.getBigUint64(32, true),
    phentsize: v.getUint16(54, true),
    phnum: v.getUint16(56, true),
  };
}

/**
 * `elf_read`: exactly `len` bytes at `pos`, or -EIO when the file ends first (`kernel_read`
 * returning less).
 */
export function elfRead(file: ExecFile, pos: bigint, len: number): Uint8Array | number {
  if (pos + BigInt(len) > BigInt(file.size)) return -EIO;
  const bytes = file.read(Number(pos), len);
  return bytes.length === len ? bytes : -EIO;
}

/**
 * `load_elf_phdrs`: the program header table, or null when its entry size is not
 * `sizeof(struct elf64_phdr)`, it is empty, larger than 64 KiB or than `ELF_MIN_ALIGN`, or cannot
 * be read in full.
 */
export function loadElfPhdrs(header: ElfHeader, file: ExecFile, elfMinAlign: number): ProgramHeader[] | null {
  if (header.phentsize !== PHDR_SIZE) return null;
  const size = PHDR_SIZE * header.phnum;
  if (size === 0 || size > 65536 || size > elfMinAlign) return null;
  const bytes = elfRead(file, header.phoff, size);
  if (typeof bytes === 'number') return null;
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: ProgramHeader[] = [];
  for (let at = 0; at < size; at += PHDR_SIZE) {
    out.push({
      type: v.getUint32(at, true),
      flags: v.getUint32(at + 4, true),
      offset: v.getBigUint64(at + 8, true),
      vaddr: v.getBigUint64(at + 16, true),
      filesz: v.getBigUint64(at + 32, true),
      memsz: v.getBigUint64(at + 40, true),
      align: v.getBigUint64(at + 48, true),
    });
  }
  return out;
}
