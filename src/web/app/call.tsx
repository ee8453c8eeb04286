/** The call at the current position: its line, its arguments decoded, the model's result beside Linux's, and why they differ. */
import type { CallView, Timeline } from '../protocol.js';
import { VERDICT_COLOR, VERDICT_NAME } from './colors.js';
import { memo } from './memo.js';
import { positionOfLine, worker } from './store.js';

export const CallPanel = memo(function CallPanel({ call, t }: { call: CallView; t: Timeline }) {
  const demo = t.kind === 'demo';
  return (
    <div class="panel call" id="call" data-verdict={call.verdict}>
      <h2>
        {demo ? 'Step' : 'Call'}{' '}
        <span class="badge" style={{ background: VERDICT_COLOR[call.verdict] }}>
          {VERDICT_NAME[call.verdict]}
        </span>
        <span class="sub">
          {demo ? '' : `line ${call.line}`}
          {call.pid >= 0 && !demo ? ` · pid ${call.pid}` : ''}
        </span>
      </h2>
      <div class="line">{call.title}</div>
      <table>
        <tbody>
          {call.args.map((a) => (
            <tr key={a.name}>
              <td class="mono" style={{ color: '#6b7078' }}>
                {a.name}
              </td>
              <td class="mono">{a.value}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <div class="results">
        <div>
          <div class="label">{demo ? 'expected' : 'Linux (the log)'}</div>
          <div class="mono" id="linux-result">
            {call.linux}
          </div>
        </div>
        <div>
          <div class="label">the model</div>
          <div class="mono" id="model-result">
            {call.model === '' ? '(not run)' : call.model}
          </div>
        </div>
      </div>
      {call.reason ? (
        <div class="reason" id="reason">
          {call.reason}
          {call.causeLine !== undefined ? (
            <>
              {' '}
              (
              <button
                type="button"
                class="link"
                onClick={() => worker().seek(positionOfLine(t, call.causeLine!))}
              >
                line {call.causeLine}
              </button>
              )
            </>
          ) : null}
        </div>
      ) : null}
      {call.notes.length > 0 ? (
        <ul class="notes">
          {call.notes.map((n, i) => (
            <li key={i}>{n}</li>
          ))}
        </ul>
      ) : null}
    </div>
  );
});
