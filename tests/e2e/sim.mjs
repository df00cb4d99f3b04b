// Starts `sluice sim` for an end-to-end test and stops it; shared by the e2e test files.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const SLUICE = process.env.SLUICE_BIN ?? new URL('../../build/sluice', import.meta.url).pathname;

// Waits (polling, bounded by timeoutMs) until cond() returns a truthy value, which it returns.
export async function waitFor(cond, timeoutMs, what) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = cond();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

// Starts `sluice sim --listen 127.0.0.1:0 ARGS`; resolves to {proc, addr, stop()} once its ready file exists.
export async function startSim(args) {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-e2e-'));
  const ready = join(dir, 'ready.json');
  const proc = spawn(SLUICE, ['sim', '--listen', '127.0.0.1:0', ...args, '--ready-file', ready], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  let exited = null;
  proc.on('exit', (code, signal) => { exited = { code, signal }; });
  const info = await waitFor(() => {
    if (exited) throw new Error(`sluice sim exited early: ${JSON.stringify(exited)}`);
    try { return JSON.parse(readFileSync(ready, 'utf8')); } catch { return null; }
  }, 10000, 'sluice sim to become ready');
  return {
    proc,
    addr: info.listen[0],
    async stop() {
      proc.kill('SIGTERM');
      return await waitFor(() => exited, 15000, 'sluice sim to exit');
    },
  };
}
