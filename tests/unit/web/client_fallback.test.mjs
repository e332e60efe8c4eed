// The browser client's stream-to-polling switch (web/jobstream-client.js `watch`), in Node
// with a fake EventSource, a fake fetch and mocked timers and Date: no network, no real
// waiting. Run by tests/unit/web/test_client_fallback.py (`node --test`).
import assert from 'node:assert/strict';
import { afterEach, beforeEach, mock, test } from 'node:test';

class FakeEventSource {
  static CONNECTING = 0;
  static OPEN = 1;
  static CLOSED = 2;
  static opened = [];

  constructor(url) {
    this.url = new URL(url);
    this.readyState = FakeEventSource.CONNECTING;
    this.listeners = {};
    this.onerror = null;
    FakeEventSource.opened.push(this);
  }

  addEventListener(name, fn) { (this.listeners[name] ||= []).push(fn); }

  close() { this.readyState = FakeEventSource.CLOSED; }

  emit(name, data) {
    if (this.readyState === FakeEventSource.CLOSED) return;
    this.readyState = FakeEventSource.OPEN;
    for (const fn of this.listeners[name] || []) fn({ data: JSON.stringify(data) });
  }
}

// Long polls: each call waits for the test to answer it (`answer(page)`), as a server would.
const calls = [];
function fakeFetch(url, options = {}) {
  return new Promise((resolve, reject) => {
    const call = { url: new URL(url), options, answered: false };
    call.answer = (data, status = 200) => {
      call.answered = true;
      const body = status === 200 ? { success: true, data } : { success: false, error: data };
      resolve({ ok: status === 200, status, headers: new Map(), json: async () => body });
    };
    if (options.signal) {
      options.signal.addEventListener('abort', () => reject(new DOMException('aborted', 'AbortError')));
    }
    calls.push(call);
  });
}

const update = (sequence, status = 'in_progress') => ({ type: 'job_update', sequence, status, progress: sequence });
const page = (sequences, { finished = false } = {}) => ({
  jobId: 'j1',
  events: sequences.map((n) => ({ id: String(n), event: 'job_update', data: update(n, finished && n === sequences.at(-1) ? 'completed' : 'in_progress') })),
  after: String(sequences.at(-1) ?? 0),
  finished,
  more: false,
  retryAfterMs: finished ? null : 0,
});

let JobstreamClient;
beforeEach(async () => {
  FakeEventSource.opened = [];
  calls.length = 0;
  globalThis.EventSource = FakeEventSource;
  globalThis.fetch = fakeFetch;
  globalThis.location = { href: 'http://app.test/' };
  mock.timers.enable({ apis: ['setTimeout', 'setInterval', 'Date'] });
  ({ JobstreamClient } = await import('../../../web/jobstream-client.js'));
});
afterEach(() => mock.timers.reset());

// Let promises settle between timer ticks.
const settle = async () => { for (let i = 0; i < 20; i += 1) await Promise.resolve(); };
async function advance(ms, step = 250) {
  for (let t = 0; t < ms; t += step) {
    mock.timers.tick(Math.min(step, ms - t));
    await settle();
  }
}

function watchJob(options = {}) {
  const seen = [];
  const transports = [];
  const client = new JobstreamClient({ apiBase: '/api/v1', fallback: options.fallback });
  const watcher = client.watch('j1', {
    streamToken: 'tok',
    onUpdate: (u) => seen.push(u.sequence),
    onTransport: (t) => transports.push(`${t.transport}:${t.reason}`),
  });
  watcher.done.catch(() => {});
  return { watcher, seen, transports };
}

test('a stream with no connected in time is left for long polling from the start', async () => {
  const { watcher, seen, transports } = watchJob();
  const [stream] = FakeEventSource.opened;
  await advance(4750);
  assert.deepEqual(transports, []);
  assert.equal(calls.length, 0);
  await advance(500);
  assert.deepEqual(transports, ['polling:no-connected']);
  assert.equal(stream.readyState, FakeEventSource.CLOSED);
  assert.equal(calls.length, 1);
  assert.equal(calls[0].url.pathname, '/api/v1/jobs/j1/events');
  assert.equal(calls[0].url.searchParams.get('after'), '0');
  assert.equal(calls[0].url.searchParams.get('events'), 'jobstream');
  assert.equal(calls[0].url.searchParams.get('token'), null);
  assert.equal(calls[0].options.headers.Authorization, 'Bearer tok');
  calls[0].answer(page([1, 2]));
  await settle();
  assert.equal(calls[1].url.searchParams.get('after'), '2');
  calls[1].answer(page([3], { finished: true }));
  const final = await watcher.done;
  assert.equal(final.status, 'completed');
  assert.deepEqual(seen, [1, 2, 3]);
});

test('a stream gone silent is left for polling from its last event, nothing repeated', async () => {
  const { watcher, seen, transports } = watchJob();
  const [stream] = FakeEventSource.opened;
  stream.emit('connected', { connectionId: 'c1' });
  for (const n of [1, 2, 3]) stream.emit('job_update', update(n));
  await advance(20000);
  stream.emit('heartbeat', {}); // heard: the silence starts again
  await advance(44000);
  assert.deepEqual(transports, []);
  await advance(1500);
  assert.deepEqual(transports, ['polling:silent']);
  assert.equal(calls[0].url.searchParams.get('after'), '3');
  stream.emit('job_update', update(4)); // a closed stream's late event is not taken
  calls[0].answer(page([3, 4, 5]));
  await settle();
  calls[1].answer(page([6], { finished: true }));
  await watcher.done;
  assert.deepEqual(seen, [1, 2, 3, 4, 5, 6]);
});

test('while polling the stream is tried again and taken back once it says connected', async () => {
  const { watcher, seen, transports } = watchJob();
  await advance(5250);
  calls[0].answer(page([1, 2]));
  await settle();
  assert.equal(FakeEventSource.opened.length, 1);
  await advance(60000);
  assert.equal(FakeEventSource.opened.length, 2);
  const again = FakeEventSource.opened[1];
  assert.equal(again.url.searchParams.get('since'), '2');
  const pending = calls.at(-1);
  again.emit('connected', { connectionId: 'c2' });
  assert.deepEqual(transports, ['polling:no-connected', 'stream:restored']);
  pending.answer(page([3])); // the poll was given up: its answer is not taken ...
  await settle();
  for (const n of [3, 4]) again.emit('job_update', update(n)); // ... the stream has it
  again.emit('job_update', update(5, 'completed'));
  await watcher.done;
  assert.deepEqual(seen, [1, 2, 3, 4, 5]);
  assert.equal(calls.filter((c) => !c.answered).length, 0);
});

test('a stream tried again that stays silent is closed and tried later, twice as late', async () => {
  const { watcher, transports } = watchJob();
  await advance(5250);
  await advance(60000);
  assert.equal(FakeEventSource.opened.length, 2);
  await advance(5250);
  assert.equal(FakeEventSource.opened[1].readyState, FakeEventSource.CLOSED);
  await advance(110000);
  assert.equal(FakeEventSource.opened.length, 2);
  await advance(11000);
  assert.equal(FakeEventSource.opened.length, 3);
  assert.deepEqual(transports, ['polling:no-connected']);
  watcher.close();
  assert.equal(FakeEventSource.opened[2].readyState, FakeEventSource.CLOSED);
});

test('a refused long poll ends the watch with its error', async () => {
  const { watcher } = watchJob();
  await advance(5250);
  calls[0].answer({ code: 'not_found', message: 'job not found', details: [] }, 404);
  await assert.rejects(watcher.done, (err) => err.code === 'not_found' && err.status === 404);
});

test('with the fallback off the stream is never left', async () => {
  const { watcher, transports } = watchJob({ fallback: false });
  await advance(120000);
  assert.deepEqual(transports, []);
  assert.equal(calls.length, 0);
  assert.equal(FakeEventSource.opened[0].readyState, FakeEventSource.CONNECTING);
  watcher.close();
});
