/**
 * The trace layer: strace logs and /proc/PID/maps, parsed and printed exactly. Pure TypeScript, with
 * no file access (it runs in a browser too): lines come in from the caller.
 *
 * Parsing (one event per input line; constant memory apart from calls left `<unfinished ...>`):
 *
 *   const state = createParserState({ file: 'app.strace', lenient: false, arch: 'x86_64' });
 *   for await (const ev of parseLines(lines, {}, state)) {
 *     if (ev.kind === 'memory') {            // mmap, munmap, mprotect, pkey_mprotect, brk, mremap, madvise
 *       const answer = model.run(ev.call);   // ev.call: MemoryCall, values TraceInt (number < 2^53, else bigint)
 *       out.write(`${formatCall(ev, { result: answer })}\n`);  // the original line if the answers agree
 *     } else {
 *       out.write(`${formatEvent(ev)}\n`);  // every other line verbatim
 *     }
 *   }
 *   finishParse(state);                      // calls never resumed
 *
 * `parseLine(line, state)` is the synchronous core; `parseLines` takes any (async) iterable of lines
 * (in Node, `readline.createInterface({ input: stream })`), `parseStraceText` a string. Bad input throws
 * `TraceSyntaxError` (`file:line:column: expected ..., found ...`); with `lenient: true` it becomes an
 * `invalid` event and is counted in `state.stats.invalid`.
 *
 * A joined `<unfinished ...>`/`<... resumed>` call is reported once, as a `memory`/`other` event on its
 * resumed line (with `resumed` set); the `<unfinished ...>` line itself is an `unfinished` event that
 * prints verbatim, and formatCall prints the resumed line, so the printed log lines up with the input.
 *
 * /proc/PID/maps: `parseMaps(text)` / `formatMaps(entries)`, exact to the byte (bigint addresses).
 */

export {
  formatMaps,
  formatMapsLine,
  formatPerms,
  MAPS_NAME_COLUMN_64,
  type MapsEntry,
  type MapsPerms,
  parseMaps,
  parseMapsLine,
} from '../abi/proc-maps.js';
export { ERRNO_TABLE, errnoName, errnoNumber, errnoText } from './errno.js';
export { TraceSyntaxError } from './errors.js';
export {
  type FormatOptions,
  formatAddr,
  formatCall,
  formatEvent,
  formatFlags,
  formatHex,
  formatMemoryArgs,
  formatMmapFlags,
  formatResult,
  formatXval,
  makePrefix,
  type PrintableCall,
} from './strace-format.js';
export {
  createParserState,
  finishParse,
  type ParserState,
  type ParseStats,
  parseLine,
  parseLines,
  parseStraceText,
  pidFromFileName,
} from './strace-parse.js';
export * from './strace-types.js';
export { addInt, bigOf, isZero, low32, safeOf, sameInt, type TraceInt, traceInt } from './trace-int.js';
export {
  ARCHES,
  type Arch,
  type ArchXlat,
  MADV,
  MAP,
  MREMAP,
  PROT,
  SIGNALS,
  type XlatEntry,
  xlatFor,
} from './xlat.js';
