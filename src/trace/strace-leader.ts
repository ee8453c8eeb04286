/**
 * The leader of an strace line: everything before the syscall name (or `+++`, `---`, `<...`), that
 * is the pid of -f and the times of -t/-tt/-ttt and -r.
 */
import type { LinePrefix, Timestamp } from './strace-types.js';

/** What the leader parser needs to remember between lines. */
export interface LeaderState {
  /** Whether a bare `N.N` timestamp means -ttt (epoch) or -r (relative); decided on the first one. */
  numericStyle: 'epoch' | 'relative' | undefined;
  /** The last leader's text: the next line's is usually the same (one pid), and is then not copied again. */
  lastLeader: string;
}

const RE_CLOCK = /^(\d\d):(\d\d):(\d\d)(?:\.(\d+))? /;
const RE_NUMERIC = /^( *)(\d+)(?:\.(\d+))? /;
const RE_PAREN_REL = /^\(\+( *\d+(?:\.\d+)?)\) /;

function numericSeconds(intPart: string, frac: string | undefined): number {
  return Number(frac === undefined ? intPart : `${intPart}.${frac}`);
}

const isDigit = (ch: number) => ch >= 48 && ch <= 57;

/** The end of `[pid  N] ` at the start of `text`, or -1; the pid is in `out`. */
function bracketPid(text: string): number {
  if (text.charCodeAt(0) !== 91 /* [ */ || !text.startsWith('[pid ')) return -1;
  let i = 5;
  while (text.charCodeAt(i) === 32) i++;
  const digits = i;
  while (isDigit(text.charCodeAt(i))) i++;
  if (i === digits || text.charCodeAt(i) !== 93 || text.charCodeAt(i + 1) !== 32) return -1;
  return i + 2;
}

/**
 * The leader of `text`; its length (`prefix.text.length`) is where the rest of the line starts.
 * Scanned by index: only a line with a time stamp goes through the regular expressions.
 */
export function parseLeader(text: string, state: LeaderState): LinePrefix {
  let pos = 0;
  let prefix: LinePrefix;
  const bracketEnd = bracketPid(text);
  if (bracketEnd > 0) {
    const digits = text.lastIndexOf(' ', bracketEnd - 3) + 1;
    prefix = { text: '', pid: Number(text.slice(digits, bracketEnd - 2)), pidStyle: 'bracket' };
    pos = bracketEnd;
  } else {
    let pid = 0;
    for (let ch = text.charCodeAt(0); isDigit(ch); ch = text.charCodeAt(++pos)) pid = pid * 10 + (ch - 48);
    if (pos > 0 && text.charCodeAt(pos) === 32) {
      // strace prints "%-5u " : the pid left-aligned in 5 columns, then a space.
      const len = pos;
      prefix = { text: '', pid: len <= 15 ? pid : Number(text.slice(0, len)), pidStyle: 'bare' };
      let need = Math.max(5 - len, 0) + 1;
      while (need > 0 && text.charCodeAt(pos) === 32) {
        pos++;
        need--;
      }
    } else {
      pos = 0;
      prefix = { text: '' };
    }
  }
  const ch = text.charCodeAt(pos);
  // A time stamp starts with a digit (-t/-tt/-ttt) or, for -r, with its padding.
  if (isDigit(ch) || ch === 32) pos = parseTimes(text, pos, prefix, state);
  const last = state.lastLeader;
  if (pos === 0) prefix.text = '';
  else if (last.length === pos && text.startsWith(last)) prefix.text = last;
  else prefix.text = state.lastLeader = text.slice(0, pos);
  return prefix;
}

/** The time stamps at `pos`, put in `prefix`; returns the position after them. */
function parseTimes(text: string, from: number, prefix: LinePrefix, state: LeaderState): number {
  let pos = from;
  let rest = text.slice(pos);
  const clock = RE_CLOCK.exec(rest);
  const numeric = clock ? null : RE_NUMERIC.exec(rest);
  if (clock) {
    const seconds = Number(clock[1]) * 3600 + Number(clock[2]) * 60 + numericSeconds(clock[3], clock[4]);
    prefix.time = { text: clock[0].slice(0, -1), style: 'clock', seconds };
    pos += clock[0].length;
    rest = text.slice(pos);
  } else if (numeric) {
    const after = rest.slice(numeric[0].length);
    let style: Timestamp['style'];
    if (RE_PAREN_REL.test(after)) style = 'epoch';
    else {
      // -r pads to 6 integer digits; -ttt prints 10 (seconds since 1970).
      state.numericStyle ??= numeric[1].length > 0 || numeric[2].length < 9 ? 'relative' : 'epoch';
      style = state.numericStyle;
    }
    const ts: Timestamp = {
      text: numeric[0].slice(0, -1),
      style,
      seconds: numericSeconds(numeric[2], numeric[3]),
    };
    if (style === 'epoch') prefix.time = ts;
    else prefix.relative = ts;
    pos += numeric[0].length;
    rest = text.slice(pos);
  }
  const rel = prefix.time ? RE_PAREN_REL.exec(rest) : null;
  if (rel) {
    prefix.relative = { text: rel[1], style: 'relative', seconds: Number(rel[1].trim()) };
    pos += rel[0].length;
  }
  return pos;
}
