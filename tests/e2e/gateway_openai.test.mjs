// End-to-end: the official `openai` npm client pointed at the gateway (`sluice demo`: simulated models behind
// sluice, in one process), unchanged: non-streamed and streamed chat completions, routing by model name, and a
// gateway error surfacing as the client's typed error.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';

import { waitFor } from './sim.mjs';

const SLUICE = process.env.SLUICE_BIN ?? new URL('../../build/sluice', import.meta.url).pathname;

let demo;
let exited = null;
let client;
let info;

before(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-e2e-gw-'));
  const ready = join(dir, 'ready.json');
  demo = spawn(SLUICE, ['demo', '--listen', '127.0.0.1:0', '--admin', '127.0.0.1:0', '--ready-file', ready], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  demo.on('exit', (code, signal) => { exited = { code, signal }; });
  info = await waitFor(() => {
    if (exited) throw new Error(`sluice demo exited early: ${JSON.stringify(exited)}`);
    try { return JSON.parse(readFileSync(ready, 'utf8')); } catch { return null; }
  }, 10000, 'sluice demo to become ready');
  client = new OpenAI({ baseURL: `http://${info.listen[0]}/v1`, apiKey: 'sk-e2e', maxRetries: 0, timeout: 10000 });
});

after(async () => {
  demo.kill('SIGTERM');
  const exit = await waitFor(() => exited, 15000, 'sluice demo to exit');
  assert.deepEqual(exit, { code: 0, signal: null });
});

test('non-streamed chat completion through the gateway', async () => {
  const { data, response } = await client.chat.completions.create({
    model: 'whatever-the-client-says',
    messages: [{ role: 'user', content: 'Hello there' }],
  }).withResponse();
  assert.equal(data.object, 'chat.completion');
  // the demo's chat route is a cascade: the small model, or the large one when the small one was unsure
  const backend = response.headers.get('x-sluice-backend');
  assert.ok(['small', 'large'].includes(backend));
  assert.equal(data.model, `demo-${backend}`); // rewritten to the backend's upstream model
  assert.equal(response.headers.get('x-sluice-tier'), backend === 'small' ? '0' : '1');
  assert.equal(data.choices[0].message.role, 'assistant');
  assert.ok(data.choices[0].message.content.length > 0);
  assert.equal(data.choices[0].logprobs, null); // asked upstream for the judge, not given to this client
  assert.equal(data.usage.total_tokens, data.usage.prompt_tokens + data.usage.completion_tokens);
  assert.match(response.headers.get('x-request-id'), /^[0-9a-f]{32}$/);
});

test('streamed chat completion routed by model name', async () => {
  const stream = await client.chat.completions.create({
    model: 'large',
    messages: [{ role: 'user', content: 'Tell me something' }],
    stream: true,
    stream_options: { include_usage: true },
    max_tokens: 6,
  });
  let text = '';
  let chunks = 0;
  let usage = null;
  let finish = null;
  for await (const chunk of stream) {
    assert.equal(chunk.object, 'chat.completion.chunk');
    assert.equal(chunk.model, 'demo-large');
    chunks += 1;
    if (chunk.usage) usage = chunk.usage;
    for (const choice of chunk.choices) {
      if (choice.delta?.content) text += choice.delta.content;
      if (choice.finish_reason) finish = choice.finish_reason;
    }
  }
  assert.ok(chunks >= 3);
  assert.ok(text.length > 0);
  assert.ok(['stop', 'length'].includes(finish));
  assert.ok(usage !== null && usage.completion_tokens >= 1 && usage.completion_tokens <= 6);
});

test('a gateway error is a typed client error', async () => {
  await assert.rejects(
    client.embeddings.create({ model: 'x', input: 'no route serves embeddings in the demo' }),
    (err) => {
      assert.ok(err instanceof OpenAI.NotFoundError);
      assert.equal(err.status, 404);
      assert.equal(err.code, 'no_route');
      assert.equal(err.type, 'invalid_request_error');
      return true;
    },
  );
});
