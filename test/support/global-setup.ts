/** Builds what the tests need beyond TypeScript (native harnesses), once per run. */
export default async function setup(): Promise<void> {}
