/** The package's `trace` namespace: the pure trace layer plus reading logs from disk (Node only). */
export * from '../trace/index.js';
export { findPerPidFiles, parseStraceFile } from './trace-files.js';
