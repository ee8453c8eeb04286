/**
 * The page-table walk of the chosen address: each level's table, the index the address selects,
 * the entry there with its fields decoded by the architecture manual's names, down to the frame.
 */
import { useEffect, useState } from 'preact/hooks';
import { hex } from './colors.js';
import { memo } from './memo.js';
import { address, walk as walkSignal, worker } from './store.js';

const word = (lo: number, hi: number) =>
  `0x${(hi >>> 0).toString(16).padStart(8, '0')}_${(lo >>> 0).toString(16).padStart(8, '0')}`;

function bits(b: readonly [number, number]): string {
  return b[0] === b[1] ? `${b[0]}` : `${b[0]}:${b[1]}`;
}

export const WalkPanel = memo(function WalkPanel({ arch }: { arch: string }) {
  const walk = walkSignal.value;
  const [text, setText] = useState('');
  useEffect(() => {
    if (address.value !== null) setText(hex(address.value));
  }, [address.value]);
  const submit = (e: Event) => {
    e.preventDefault();
    const v = text.trim();
    if (!/^(0x)?[0-9a-f]+$/i.test(v)) return;
    worker().requestWalk(Number.parseInt(v.replace(/^0x/i, ''), 16));
  };
  return (
    <div class="panel walk" id="walk">
      <h2>
        Page-table walk{' '}
        <span class="sub">{arch === 'x86_64' ? 'x86-64 4-level paging' : 'AArch64 stage 1'}</span>
      </h2>
      <form onSubmit={submit} style={{ display: 'flex', gap: '6px' }}>
        <input
          type="text"
          id="walk-address"
          class="mono"
          aria-label="virtual address"
          value={text}
          onInput={(e) => setText((e.target as HTMLInputElement).value)}
          style={{ flex: 1 }}
        />
        <button type="submit">walk</button>
      </form>
      {walk === null ? (
        <div class="empty">pick an address: click a region</div>
      ) : (
        <div>
          <div class="mono" style={{ marginTop: '4px', color: '#6b7078' }}>
            pid {walk.pid} · {walk.vma === '' ? 'no VMA here' : walk.vma}
          </div>
          {walk.levels.map((l, i) => (
            <div key={l.level}>
              {i > 0 ? <div class="arrow">↓</div> : null}
              <div
                class={`level ${l.fields.length === 1 ? 'invalid' : ''}`}
                data-level={l.name}
                data-lo={l.lo >>> 0}
                data-hi={l.hi >>> 0}
                data-table={l.table}
                data-index={l.index}
              >
                <div class="head mono">
                  <b>{l.name}</b>
                  <span>
                    table {hex(l.table)} [{l.index}] @ {hex(l.entryAddress)}
                  </span>
                  <span>{word(l.lo, l.hi)}</span>
                </div>
                <table>
                  <tbody>
                    {l.fields.map((f) => (
                      <tr key={f.name} data-field={f.name} data-value={f.value}>
                        <td style={{ width: '1%', whiteSpace: 'nowrap' }}>{f.name}</td>
                        <td style={{ width: '1%', color: '#6b7078' }}>[{bits(f.bits)}]</td>
                        <td style={{ width: '1%' }}>{f.bits[0] - f.bits[1] > 8 ? hex(f.value) : f.value}</td>
                        <td class="meaning">{f.meaning ?? ''}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            </div>
          ))}
          <div class="mono" id="walk-outcome" style={{ marginTop: '6px' }}>
            {hex(walk.address)} → {walk.outcome}
            {walk.frame >= 0 ? ` · frame ${hex(walk.frame)} · user rights ${walk.rights}` : ''}
          </div>
        </div>
      )}
    </div>
  );
});
