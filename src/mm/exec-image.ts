/**
 * What execve leaves in an `mm_struct` besides the VMAs and the break: the bounds of the program
 * image and its arguments (`start_code` … `env_end`), the auxiliary vector (`saved_auxv`) and the
 * registers the first instruction runs with. /proc/PID/stat, /proc/PID/auxv and a debugger read
 * these; the model keeps them as execve computed them.
 */
export interface ExecImage {
  /** The program file as /proc/PID/maps names it (for a script: its interpreter). */
  readonly path: string;
  /** The ELF interpreter (PT_INTERP) mapped for it, or null for a static program. */
  readonly interpreter: string | null;
  /** The first instruction: the interpreter's entry point when there is one, else the program's. */
  readonly entry: number;
  /** The stack pointer at the first instruction (`start_stack`): argc, then argv, envp and auxv. */
  readonly sp: number;
  /** `start_code`/`end_code`: the executable segments of the program, as loaded. */
  readonly startCode: number;
  readonly endCode: number;
  /** Where the argument and environment strings lie on the stack. */
  readonly argStart: number;
  readonly argEnd: number;
  readonly envStart: number;
  readonly envEnd: number;
  /** The auxiliary vector, AT_NULL excluded, in the order the kernel wrote it. */
  readonly auxv: readonly (readonly [type: number, value: number])[];
  /** The argument strings the program receives (after a `#!` line rewrote them). */
  readonly argv: readonly string[];
  readonly envp: readonly string[];
}
