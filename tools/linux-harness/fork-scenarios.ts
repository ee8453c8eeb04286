/**
 * Hand-written fork sequences, each pinning one behaviour of Linux 6.18 that the generated
 * sequences meet only by chance. Every line is an op of the harness input format (README.md); a
 * `# text` after it becomes the op's kind. Fixed addresses are in the generator's arena
 * (0x300000000 + n MiB), where nothing else is mapped; op 0 is the usual sentinel.
 */
import type { Op, OpName } from './generate.js';

const SENTINEL = 'mmap 0 0x4001000 0 0x4022 -1 0 # sentinel';

/** Each scenario: its name (the fixture is `scenario-<name>.json`) and its ops. */
export const FORK_SCENARIOS: { name: string; text: string }[] = [
  {
    // A fork child's faulted VMA never lends its anon_vma to a new neighbour; an unfaulted one, or
    // one the child faulted itself, does. Pieces split before the fork get different anon_vmas in
    // the child, so restoring the split merges them in the parent only.
    name: 'merge-after-fork',
    text: `${SENTINEL}
mmap 0x300000000 0x4000 3 0x100022 -1 0 # faulted A
touch $1 1
mmap 0x300100000 0x4000 3 0x100022 -1 0 # unfaulted U
mmap 0x300200000 0x4000 3 0x100022 -1 0 # faulted S, split
touch $4 1
mprotect $4+0x1000 0x1000 1
fork
@1 mmap $1+0x4000 0x2000 3 0x100022 -1 0 # child: next to inherited faulted
mmap $1+0x4000 0x2000 3 0x100022 -1 0 # parent: merges
@1 mmap $3+0x4000 0x2000 3 0x100022 -1 0 # child: next to inherited unfaulted
mmap $3+0x4000 0x2000 3 0x100022 -1 0
@1 mmap 0x300300000 0x2000 3 0x100022 -1 0 # child's own
@1 touch $12 1
@1 mmap 0x300302000 0x2000 3 0x100022 -1 0 # next to the child's own faulted
@1 mprotect $4+0x1000 0x1000 3 # child: restore the split
mprotect $4+0x1000 0x1000 3 # parent: restore the split
@1 peek $4
peek $1+0x4000`,
  },
  {
    // mprotect of an existing range: an unfaulted VMA may not take a fork child's anon_vma, nor may
    // a fork child's VMA give its anon_vma to an unfaulted neighbour. A child's heap is a fork
    // child too, so brk grows a second [heap] VMA there.
    name: 'mprotect-and-brk-after-fork',
    text: `${SENTINEL}
mmap 0x300000000 0x2000 3 0x104022 -1 0 # faulted RW noreserve
touch $1 1
mmap 0x300002000 0x2000 1 0x104022 -1 0 # unfaulted R noreserve
mmap 0x300100000 0x2000 3 0x104022 -1 0 # faulted RW noreserve
touch $4 1
mmap 0x300102000 0x2000 1 0x104022 -1 0 # unfaulted R noreserve
brk $brk+0x3000
touch $brkpage 1
fork
@1 mprotect $3 0x2000 3 # child: unfaulted takes the fork child's?
mprotect $3 0x2000 3
@1 mprotect $4 0x2000 1 # child: fork child gives to unfaulted?
mprotect $4 0x2000 1
@1 brk $brk+0x6000 # child: the heap grows as a new VMA
brk $brk+0x6000
@1 touch $brkpage+0x4000 7
@1 peek $brkpage
@1 brk $brk+0x2000 # child: shrinks into the first heap VMA
@1 brk $brk+0x8000`,
  },
  {
    // mremap: a fork child's faulted VMA moved back to its own place does not merge with a new
    // unfaulted neighbour (vmg->copied_from); in the parent it does.
    name: 'mremap-after-fork',
    text: `${SENTINEL}
mmap 0x300100000 0x2000 3 0x100022 -1 0
touch $1 1
mremap $1 0x2000 0x2000 3 0x300800000 # away
mmap 0x300200000 0x2000 3 0x100022 -1 0
touch $4 2
mremap $4 0x2000 0x2000 3 0x300900000 # away
fork
@1 mmap 0x3000fe000 0x2000 3 0x100022 -1 0 # unfaulted prev
@1 mremap $3 0x2000 0x2000 3 0x300100000 # back, after prev
@1 mmap 0x300202000 0x2000 3 0x100022 -1 0 # unfaulted next
@1 mremap $6 0x2000 0x2000 3 0x300200000 # back, before next
mmap 0x3000fe000 0x2000 3 0x100022 -1 0
mremap $3 0x2000 0x2000 3 0x300100000
mmap 0x300202000 0x2000 3 0x100022 -1 0
mremap $6 0x2000 0x2000 3 0x300200000
@1 peek 0x300100000
peek 0x300200000
@1 mremap 0x300200000 0x2000 0x4000 1 0 # a fork child's VMA grows in place
@1 mremap 0x300200000 0x4000 0x2000 0 0`,
  },
  {
    // MADV_DONTFORK leaves a range out of the child, MADV_WIPEONFORK leaves it empty (the flag
    // stays), mlock is not inherited (two look-alike VMAs in the child), shared memory stays shared.
    name: 'dontfork-wipeonfork-mlock-shared',
    text: `${SENTINEL}
mmap 0x300000000 0x4000 3 0x100022 -1 0
touch $1+0x1000 1
madvise $1+0x1000 0x1000 10 # DONTFORK
mmap 0x300100000 0x4000 3 0x100022 -1 0
touch $4 7
touch $4+0x3000 9
madvise $4+0x2000 0x2000 18 # WIPEONFORK
mmap 0x300200000 0x2000 3 0x102022 -1 0 # MAP_LOCKED
mmap 0x300202000 0x2000 3 0x100022 -1 0
mmap 0x300300000 0x2000 3 0x100021 -1 0 # shared
touch $10 5
fork
@1 peek $4
@1 peek $4+0x3000 # wiped
@1 touch $10 6
peek $10 # the child's write
@1 peek $1+0x1000 # not there
peek $4+0x3000
@1 madvise $4 0x4000 19 # KEEPONFORK
@1 touch $4+0x2000 3
@1 madvise $1 0x4000 11 # DOFORK over a hole
madvise $1+0x1000 0x1000 11`,
  },
  {
    // Copy-on-write: each side keeps its own data; a child's write copies, the parent's reuses a
    // page once the child has its own copy; exit of a child leaves the parent intact, and a
    // grandchild still sees what it inherited.
    name: 'cow-and-exit',
    text: `${SENTINEL}
mmap 0x300000000 0x3000 3 0x100022 -1 0
touch $1 1
touch $1+0x1000 2
peek $1+0x2000 # zero page
fork
@1 peek $1
@1 touch $1 11
peek $1
touch $1+0x1000 22
@1 peek $1+0x1000
@1 fork
@2 peek $1
@1 munmap $1 0x3000
@1 exit
@2 touch $1+0x2000 33
@2 peek $1+0x1000
touch $1 111
peek $1+0x2000
@2 fork
@3 peek $1+0x2000
@3 mmap $1+0x3000 0x1000 3 0x100022 -1 0
@2 mmap $1+0x3000 0x1000 3 0x100022 -1 0
mmap $1+0x3000 0x1000 3 0x100022 -1 0`,
  },
  {
    // fork charges every VM_ACCOUNT VMA again, one VMA at a time: two adjacent 16 GiB mappings,
    // each within the heuristic's limit, merge into a 32 GiB one that no fork can charge (more than
    // RAM and swap): -ENOMEM, with the parent unchanged. Once it is smaller, fork works.
    name: 'fork-enomem',
    text: `${SENTINEL}
mmap 0x300000000 0x400000000 3 0x100022 -1 0 # 16 GiB accounted
mmap 0x700000000 0x400000000 3 0x100022 -1 0 # 16 GiB more, merged
touch $1 1
fork # 32 GiB to charge
touch $1 2
mremap $1 0x800000000 0x400000000 0 0 # 16 GiB
fork
@2 peek $1
@2 touch $1+0x1000 3
peek $1+0x1000`,
  },
];

/** The ops of a scenario, in the generator's form (the text after `#` is the kind). */
export function scenarioOps(text: string): Op[] {
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((line, i) => {
      const [code, comment] = line.split(' # ');
      const words = code.trim().split(/\s+/);
      let proc = 0;
      if (words[0].startsWith('@')) proc = Number(words.shift()!.slice(1));
      const op = words[0] as OpName;
      const o: Op = { op, args: words.slice(1), kind: comment?.trim() ?? `scenario:${op}-${i}` };
      if (proc > 0) o.proc = proc;
      return o;
    });
}
