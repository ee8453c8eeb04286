import { EIO, ENOEXEC } from '../abi/errno.js';
import type { ProgramHeader } from './elf.js';
import type { ExecFile } from './files.js';

/** `NOTE_DATA_SZ`: the largest PT_GNU_PROPERTY note the kernel reads. */
const NOTE_DATA_SZ = 1024;
/** `sizeof(struct elf_note)`, the name "GNU" with its NUL, and the 64-bit property alignment. */
const NHDR_SIZE = 12;
const NOTE_NAME_SZ = 4;
const PROPERTY_ALIGN = 8;
const NT_GNU_PROPERTY_TYPE_0 = 5;
const GNU_PROPERTY_AARCH64_FEATURE_1_AND = 0xc0000000;

const roundUp = (n: number, a: number) => Math.ceil(n / a) * a;

/**
 * `parse_elf_properties` (arm64, which selects CONFIG_ARCH_USE_GNU_PROPERTY): a malformed
 * PT_GNU_PROPERTY note of the program, or of its interpreter when it has one, refuses the exec
 * (ENOEXEC, or EIO when the note cannot be read). The one arm64 property, FEATURE_1_AND (BTI),
 * must be one word; BTI itself is off on the modelled CPU, so nothing else follows from it.
 */
export function parseElfProperties(file: ExecFile, phdr: ProgramHeader | null): number {
  if (phdr === null) return 0;
  if (phdr.filesz > BigInt(NOTE_DATA_SZ)) return -ENOEXEC;
  const note =
    phdr.offset < BigInt(file.size) ? file.read(Number(phdr.offset), Number(phdr.filesz)) : new Uint8Array(0);
  const n = note.length;
  if (n < NHDR_SIZE + NOTE_NAME_SZ) return -EIO;
  const v = new DataView(note.buffer, note.byteOffset, note.byteLength);
  const namesz = v.getUint32(0, true);
  const descsz = v.getUint32(4, true);
  const type = v.getUint32(8, true);
  if (type !== NT_GNU_PROPERTY_TYPE_0 || namesz !== NOTE_NAME_SZ || !nameIsGnu(note.subarray(NHDR_SIZE)))
    return -ENOEXEC;
  let off = roundUp(NHDR_SIZE + NOTE_NAME_SZ, PROPERTY_ALIGN);
  if (off > n) return -ENOEXEC;
  if (descsz > n - off) return -ENOEXEC;
  const datasz = off + descsz;
  let prevType = -1;
  for (;;) {
    // parse_elf_property
    if (off === datasz) return 0;
    if (off > datasz || off % PROPERTY_ALIGN) return -EIO;
    let o = off;
    let left = datasz - off;
    if (left < 8) return -ENOEXEC;
    const prType = v.getUint32(o, true);
    const prDatasz = v.getUint32(o + 4, true);
    o += 8;
    left -= 8;
    if (prDatasz > left) return -ENOEXEC;
    const step = roundUp(prDatasz, PROPERTY_ALIGN);
    if (step > left) return -ENOEXEC;
    if (prevType >= 0 && prType <= prevType) return -ENOEXEC;
    prevType = prType;
    if (prType === GNU_PROPERTY_AARCH64_FEATURE_1_AND && prDatasz !== 4) return -ENOEXEC;
    off = o + step;
  }
}

/** `strncmp(data, "GNU", n)` over the bytes that were read. */
function nameIsGnu(data: Uint8Array): boolean {
  const gnu = [0x47, 0x4e, 0x55, 0];
  for (let i = 0; i < data.length && i < gnu.length; i++) {
    if (data[i] !== gnu[i]) return false;
    if (gnu[i] === 0) return true;
  }
  return true;
}
