// End-to-end: the official `openai` npm client against `sluice sim`: non-streamed and streamed chat completions,
// logprobs, legacy completions and a typed error, as an application would use them.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';

import { startSim } from './sim.mjs';

let sim;
let client;

before(async () => {
  sim = await startSim(['--model', 'sim-small', '--ttft-ms', '5', '--ttft-jitter-ms', '1', '--tpot-ms', '2',
    '--tpot-jitter-ms', '0', '--output-tokens-mean', '8']);
  client = new OpenAI({ baseURL: `http://${sim.addr}/v1`, apiKey: 'sk-e2e', maxRetries: 0, timeout: 10000 });
});

after(async () => {
  const exit = await sim.stop();
  assert.deepEqual(exit, { code: 0, signal: null });
});

test('non-streamed chat completion with logprobs', async () => {
  const { data, response } = await client.chat.completions.create({
    model: 'sim-small',
    messages: [{ role: 'system', content: 'You are terse.' }, { role: 'user', content: 'classify: great movie' }],
    logprobs: true,
    top_logprobs: 2,
  }).withResponse();
  assert.equal(data.object, 'chat.completion');
  assert.equal(data.model, 'sim-small');
  assert.match(data.id, /^chatcmpl-/);
  const choice = data.choices[0];
  assert.equal(choice.message.role, 'assistant');
  assert.ok(['positive', 'negative'].includes(choice.message.content));
  assert.equal(response.headers.get('x-sim-truth'), 'positive'); // FNV-1a 64("great movie") mod 2 == 0
  assert.equal(response.headers.get('x-sim-correct'), choice.message.content === 'positive' ? '1' : '0');
  const lp = choice.logprobs.content;
  assert.equal(lp.length, 1);
  const confidence = Number(response.headers.get('x-sim-confidence'));
  assert.ok(Math.abs(Math.exp(lp[0].logprob) - confidence) < 1e-5);
  assert.equal(lp[0].top_logprobs.length, 2);
  assert.equal(data.usage.total_tokens, data.usage.prompt_tokens + data.usage.completion_tokens);
  assert.equal(data.usage.completion_tokens, 1);
});

test('streamed chat completion with usage', async () => {
  const stream = await client.chat.completions.create({
    model: 'sim-small',
    messages: [{ role: 'user', content: 'Tell me something' }],
    stream: true,
    stream_options: { include_usage: true },
  });
  let text = '';
  let contentChunks = 0;
  let finish = null;
  let usage = null;
  let role = null;
  for await (const chunk of stream) {
    assert.equal(chunk.object, 'chat.completion.chunk');
    if (chunk.usage) usage = chunk.usage;
    for (const c of chunk.choices) {
      if (c.delta.role) role = c.delta.role;
      if (c.delta.content) { text += c.delta.content; contentChunks += 1; }
      if (c.finish_reason) finish = c.finish_reason;
    }
  }
  assert.equal(role, 'assistant');
  assert.ok(text.length > 0);
  assert.ok(['stop', 'length'].includes(finish));
  assert.ok(usage, 'a usage chunk arrives when include_usage is set');
  assert.equal(usage.completion_tokens, contentChunks);
  assert.equal(text.split(' ').length, contentChunks);
});

test('streamed chat completion through the helper accumulates the message', async () => {
  const runner = client.chat.completions.stream({
    model: 'sim-small',
    messages: [{ role: 'user', content: 'classify: terrible plot' }],
  });
  const completion = await runner.finalChatCompletion();
  assert.ok(['positive', 'negative'].includes(completion.choices[0].message.content));
});

test('legacy completion', async () => {
  const data = await client.completions.create({ model: 'sim-small', prompt: 'Say this is a test', max_tokens: 3 });
  assert.equal(data.object, 'text_completion');
  assert.ok(data.usage.completion_tokens >= 1 && data.usage.completion_tokens <= 3);
  assert.equal(typeof data.choices[0].text, 'string');
});

test('models list and a typed 404 error', async () => {
  const models = [];
  for await (const m of client.models.list()) models.push(m.id);
  assert.deepEqual(models, ['sim-small']);
  await assert.rejects(
    client.chat.completions.create({ model: 'gpt-unknown', messages: [{ role: 'user', content: 'hi' }] }),
    (err) => err instanceof OpenAI.NotFoundError && err.status === 404 && err.code === 'model_not_found',
  );
});
