/*
 * The test program of the exec-layout fixtures, built in several ways by record.ts (PIE, -no-pie,
 * -static, -static-pie, large p_align, executable stack, a large bss). What it does does not
 * matter: the fixtures stop it at its first instruction. Its data and bss give the loader a
 * file-backed data segment with a zero-filled tail and, with BSS_BYTES, pages beyond it.
 */
#ifndef BSS_BYTES
#define BSS_BYTES 4096
#endif

int initialized[64] = {1};
static char zeroed[BSS_BYTES];

int main(int argc, char **argv) {
  (void)argv;
  zeroed[argc] = 1;
  return initialized[argc & 63] + zeroed[BSS_BYTES - 1];
}
