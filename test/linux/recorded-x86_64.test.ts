/**
 * The differential suite, x86_64: sequences of raw memory syscalls recorded on this machine's kernel
 * with tools/linux-harness, replayed in the model (recorded-sequences.ts says how).
 */
import { describeRecordedSequences } from './recorded-sequences.js';

describeRecordedSequences('linux-x86_64', 'x86_64', 150);
