/**
 * The differential suite, aarch64: sequences of raw memory syscalls recorded on an arm64 kernel under
 * qemu with tools/linux-harness-arm64, replayed in the model (recorded-sequences.ts says how).
 */
import { describeRecordedSequences } from './recorded-sequences.js';

describeRecordedSequences('linux-aarch64', 'aarch64', 100);
