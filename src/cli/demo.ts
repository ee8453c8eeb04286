import { seedScenario } from '../demo/seed-scenario.js';
import type { KernelOptions } from '../kernel/kernel.js';

/**
 * `levitate-mm demo`: the seed's scenario (src/demo/seed-scenario.ts) printed step by step.
 * Returns whether every step behaved (the invariant checker stayed empty and the frame counts
 * came back).
 */
export function runDemo(options: Omit<KernelOptions, 'paging'>, print: (line: string) => void): boolean {
  const scenario = seedScenario(options);
  const { kernel } = scenario;
  print(
    `levitate-mm demo: ${kernel.arch}, ${kernel.pageSize}-byte pages, ${kernel.ram.size / 2 ** 20} MiB RAM, ${kernel.paging} paging`,
  );
  let ok = true;
  scenario.steps.forEach((step, i) => {
    const out = step.run();
    print(`\n${i + 1}. ${step.title}: ${out.call} = ${out.result}`);
    for (const note of out.notes) print(`   ${note}`);
    if (!out.ok) {
      ok = false;
      print(`   !! expected ${out.expected}`);
    }
  });
  print(
    ok
      ? '\nall steps behaved: nothing leaked, nothing left behind.'
      : '\nSOME STEPS MISBEHAVED (see !! above).',
  );
  return ok;
}
