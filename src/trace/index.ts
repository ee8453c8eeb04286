/** The trace layer: strace logs and /proc/PID/maps, parsed and printed exactly. */

export { ERRNO_TABLE, errnoName, errnoNumber, errnoText } from './errno.js';
export { TraceSyntaxError } from './errors.js';
export {
  formatMaps,
  formatMapsLine,
  formatPerms,
  MAPS_NAME_COLUMN_64,
  type MapsEntry,
  type MapsPerms,
  parseMaps,
  parseMapsLine,
} from './proc-maps.js';
export {
  type FormatOptions,
  formatAddr,
  formatCall,
  formatEvent,
  formatFlags,
  formatMemoryArgs,
  formatMmapFlags,
  formatResult,
  formatXval,
  hex,
  makePrefix,
  type PrintableCall,
} from './strace-format.js';
export {
  createParserState,
  findPerPidFiles,
  finishParse,
  type ParserState,
  type ParseStats,
  parseLine,
  parseLines,
  parseReadable,
  parseStraceFile,
  parseStraceText,
  pidFromFileName,
} from './strace-parse.js';
export * from './strace-types.js';
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
