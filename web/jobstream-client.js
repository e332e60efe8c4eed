// jobstream client: presign -> upload (with progress) -> enqueue -> live progress (SSE, or
// long polling when a proxy holds the stream back).
// Dependency-free ES module; works from any origin the API and storage allow (CORS).
//
//   import { JobstreamClient } from './jobstream-client.js';
//   const client = new JobstreamClient({ apiBase: 'https://<app>.azurewebsites.net/api/v1' });
//   const [{ jobNames: [jobName] }] = await client.queues();   // what this API runs
//   const final = await client.run(file, { jobName, onUpdate: console.log });
//   const feed = client.watchAll({ onEvent: console.log });  // every job of the caller, one stream
//
// Job names and their queues are the API's (GET /queues): the client looks a job's queue up
// there unless it is given one.

const TERMINAL = new Set(['completed', 'failed', 'cancelled']);
// Files up to this size are hashed (SHA-256, WebCrypto) before upload, and the digest is
// declared so the worker verifies the bytes it reads. crypto.subtle.digest takes the whole
// file in memory at once, hence the bound; larger files are sent without a digest.
export const DEFAULT_SHA256_MAX_BYTES = 64 * 1024 * 1024;

// The file's SHA-256 as lowercase hex (WebCrypto), or null when WebCrypto is unavailable
// (a page not served from a secure context: https or localhost).
export async function sha256Hex(blob) {
  if (!globalThis.crypto || !globalThis.crypto.subtle) return null;
  const digest = await globalThis.crypto.subtle.digest('SHA-256', await blob.arrayBuffer());
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}

// `retryAfter` (seconds) is set on a 429 `throttled` answer (a per-caller limit): wait that
// long before asking again.
export class JobstreamError extends Error {
  constructor(message, { status = 0, code = 'error', details = [], retryAfter = null } = {}) {
    super(message);
    this.name = 'JobstreamError';
    this.status = status;
    this.code = code;
    this.details = details;
    this.retryAfter = retryAfter;
  }
}

// The error of a refused answer's envelope; for a 429, with its Retry-After in seconds (the
// header, or the details when the header is not readable cross-origin).
function refusal(response, envelope, fallback) {
  const error = (envelope && envelope.error) || {};
  const details = error.details || [];
  let retryAfter = null;
  if (response.status === 429) {
    const header = Number(response.headers.get('Retry-After'));
    const detail = details.length ? Number(details[0].retryAfterSeconds) : NaN;
    retryAfter = Number.isFinite(header) && header > 0 ? header : (Number.isFinite(detail) ? detail : null);
  }
  let message = error.message || fallback;
  if (response.status === 429) {
    // The API's message says how long to wait ("...; try again in 12 s").
    message = `throttled: ${error.message || 'too many requests'}`;
    if (retryAfter !== null && !message.includes('try again')) message += `; try again in ${retryAfter} s`;
  }
  return new JobstreamError(message, {
    status: response.status,
    code: error.code || 'http_error',
    details,
    retryAfter,
  });
}

// When a stream counts as held back (by a proxy that buffers responses) and what then.
export const DEFAULT_FALLBACK = Object.freeze({
  connectMs: 5000, // no `connected` this long after opening: poll instead
  silenceMs: 45000, // nothing at all (heartbeats come every 15 s) this long: poll instead
  retryStreamMs: 60000, // while polling, try the stream again after this long (0: never) ...
  maxRetryStreamMs: 600000, // ... doubling each time it is still held back, up to this
  pollWaitSeconds: null, // how long one poll may wait (null: the server's setting, 25 s)
});

function fallbackOptions(given) {
  if (given === false || given === null) return null;
  return { ...DEFAULT_FALLBACK, ...(given || {}) };
}

const sleep = (ms) => new Promise((resolve) => { setTimeout(resolve, ms); });

// Why an EventSource closed: one plain request to its URL, aborted as soon as the answer's
// head is in (a 200 would be a stream). Resolves with the refusal's JobstreamError, or null
// when the stream would open (or answers 204, nothing left).
async function streamRefusal(url) {
  const abort = new AbortController();
  try {
    const response = await fetch(url, { headers: { Accept: 'text/event-stream' }, signal: abort.signal });
    if (response.ok) return null;
    let envelope = null;
    try { envelope = await response.json(); } catch { envelope = null; }
    return refusal(response, envelope, `the stream answered ${response.status}`);
  } catch {
    return null;
  } finally {
    abort.abort();
  }
}

export class JobstreamClient {
  // apiBase: e.g. '/api/v1' or 'https://host/api/v1'. getToken: optional async () => JWT
  // (sent as a Bearer header on API calls; streams use the job's stream token instead).
  // sha256MaxBytes: files up to this size get their SHA-256 declared (0: never).
  // fallback: when a stream delivers nothing, follow the job by long polling (see `watch`);
  // {connectMs, silenceMs, retryStreamMs, maxRetryStreamMs, pollWaitSeconds} override the
  // defaults (DEFAULT_FALLBACK), false turns it off.
  constructor({ apiBase = '/api/v1', getToken = null, sha256MaxBytes = DEFAULT_SHA256_MAX_BYTES,
    fallback = {} } = {}) {
    this.apiBase = String(apiBase).replace(/\/+$/, '');
    this.getToken = getToken;
    this.sha256MaxBytes = sha256MaxBytes;
    this.fallback = fallback;
  }

  // The file's SHA-256 (hex) when it is within sha256MaxBytes and WebCrypto is there, else null.
  async digest(file) {
    if (!(file.size <= this.sha256MaxBytes)) return null;
    return sha256Hex(file);
  }

  async _call(method, path, body, extraHeaders = {}, { withToken = true } = {}) {
    const headers = { Accept: 'application/json', ...extraHeaders };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (withToken && this.getToken && !headers.Authorization) {
      headers.Authorization = `Bearer ${await this.getToken()}`;
    }
    const response = await fetch(`${this.apiBase}${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    let envelope = null;
    try {
      envelope = await response.json();
    } catch {
      envelope = null;
    }
    if (!response.ok || !envelope || envelope.success !== true) {
      throw refusal(response, envelope, `${method} ${path} answered ${response.status}`);
    }
    return envelope.data;
  }

  // POST /upload/presigned-url -> {uploadUrl, blobName, headers, maxBytes, ...}. With sha256
  // (hex), the answer's headers carry it for the PUT (the blob's x-ms-meta-sha256).
  presign(file, { sha256 = null } = {}) {
    return this._call('POST', '/upload/presigned-url', {
      fileName: file.name,
      contentType: file.type || undefined,
      size: file.size,
      sha256: sha256 || undefined,
    });
  }

  // PUT the file to the SAS URL; onProgress(loaded, total) as bytes leave the browser.
  upload(file, presigned, { onProgress = null, signal = null } = {}) {
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open(presigned.method || 'PUT', presigned.uploadUrl);
      for (const [name, value] of Object.entries(presigned.headers || {})) {
        if (value) xhr.setRequestHeader(name, value);
      }
      if (onProgress) {
        xhr.upload.onprogress = (e) => onProgress(e.loaded, e.lengthComputable ? e.total : file.size);
      }
      xhr.onload = () => {
        if (xhr.status >= 200 && xhr.status < 300) {
          if (onProgress) onProgress(file.size, file.size);
          resolve({ status: xhr.status, blobName: presigned.blobName });
        } else {
          reject(new JobstreamError(`upload refused by storage (${xhr.status})`, {
            status: xhr.status, code: 'upload_failed',
          }));
        }
      };
      xhr.onerror = () => reject(new JobstreamError('upload failed (network or CORS)', { code: 'upload_failed' }));
      xhr.onabort = () => reject(new JobstreamError('upload cancelled', { code: 'upload_cancelled' }));
      if (signal) signal.addEventListener('abort', () => xhr.abort(), { once: true });
      xhr.send(file);
    });
  }

  // GET /queues -> [{queueName, jobNames}, ...]: the queues this API serves, the job names
  // each accepts. Public: sent without a token. Read once per client.
  queues() {
    if (!this._catalog) {
      this._catalog = this._call('GET', '/queues', undefined, {}, { withToken: false })
        .then((data) => data.queues)
        .catch((err) => { this._catalog = null; throw err; });
    }
    return this._catalog;
  }

  // The queue a job name goes to, from GET /queues; no jobName: the first job name listed.
  async queueFor(jobName = null) {
    const queues = await this.queues();
    const name = jobName ?? queues[0]?.jobNames[0];
    const entry = queues.find((q) => q.jobNames.includes(name));
    if (!entry) {
      const known = queues.flatMap((q) => q.jobNames).join(', ') || 'none';
      throw new JobstreamError(`the API runs no job '${name}' (it runs: ${known})`, { code: 'unknown_job_name' });
    }
    return { jobName: name, queueName: entry.queueName };
  }

  // POST /jobs -> {jobId, streamUrl, streamToken, ...}
  async enqueue({ jobName, queueName = null, data, idempotencyKey = null }) {
    if (!queueName) ({ queueName } = await this.queueFor(jobName));
    const headers = idempotencyKey ? { 'Idempotency-Key': idempotencyKey } : {};
    return this._call('POST', '/jobs', { queueName, jobName, data }, headers);
  }

  // A stream token also reads the job's status (sent as a Bearer header).
  status(jobId, { streamToken = null } = {}) {
    const headers = streamToken && !this.getToken ? { Authorization: `Bearer ${streamToken}` } : {};
    return this._call('GET', `/jobs/${encodeURIComponent(jobId)}`, undefined, headers);
  }

  cancel(jobId) {
    return this._call('POST', `/jobs/${encodeURIComponent(jobId)}/cancel`, {});
  }

  streamUrl(jobId, { streamToken = null, queueName = null, since = null } = {}) {
    const url = new URL(`${this.apiBase}/jobs/${encodeURIComponent(jobId)}/stream`, location.href);
    if (streamToken) url.searchParams.set('token', streamToken);
    if (queueName) url.searchParams.set('queueName', queueName);
    if (since) url.searchParams.set('since', String(since));
    url.searchParams.set('events', 'jobstream'); // job_update only: this client reads no other
    return url.toString();
  }

  // GET /jobs/{id}/events?after=N: one long poll (the server waits up to ~25 s for an event).
  // Sends the stream token as a Bearer header (fetch can), so it stays out of the URL.
  async events(jobId, { after = 0, streamToken = null, wait = null, signal = null } = {}) {
    const url = new URL(`${this.apiBase}/jobs/${encodeURIComponent(jobId)}/events`, location.href);
    url.searchParams.set('after', String(after));
    url.searchParams.set('events', 'jobstream');
    if (wait !== null && wait !== undefined) url.searchParams.set('wait', String(wait));
    const headers = { Accept: 'application/json' };
    if (this.getToken) headers.Authorization = `Bearer ${await this.getToken()}`;
    else if (streamToken) headers.Authorization = `Bearer ${streamToken}`;
    const response = await fetch(url.toString(), { headers, signal, cache: 'no-store' });
    let envelope = null;
    try { envelope = await response.json(); } catch { envelope = null; }
    if (!response.ok || !envelope || envelope.success !== true) {
      throw refusal(response, envelope, `the job's events answered ${response.status}`);
    }
    return envelope.data;
  }

  // Follow a job live. EventSource resumes by itself (Last-Event-ID) after a server close or
  // a `timeout` event; sequences let us drop anything seen twice. Returns {close, done,
  // source, transport}: `done` resolves with the terminal job_update, or rejects when the
  // stream cannot continue.
  // handlers.onUpdate(update) gets each job_update: besides status, progress and message,
  // `currentStep` (the job type's step label), `phase`, `detail` and `etaSeconds` (seconds
  // left, learned from past runs; absent until there is history) say where the job is.
  // A stream refused for the caller's open-stream limit rejects `done` with a JobstreamError
  // of code 'throttled' and its `retryAfter`; nothing reconnects by itself (an EventSource
  // never retries a non-200 answer), so watch again after `retryAfter` seconds if you must.
  //
  // Behind a proxy that buffers responses a stream delivers nothing until it ends. When the
  // stream sends no `connected` within `fallback.connectMs` (5 s), or nothing at all (not even
  // a heartbeat) for `fallback.silenceMs` (45 s: three missed heartbeats), the client closes
  // it and follows the job by long polling (GET /jobs/{id}/events) from the last event it
  // has, with the same callbacks; every `fallback.retryStreamMs` (60 s, doubling up to 10
  // minutes) it opens the stream again from there and goes back to it once it says
  // `connected`. Nothing is lost or repeated across a switch: both carry the job's sequences
  // and the client passes on each one once, in order. handlers.onTransport({transport, reason})
  // says which is in use: 'polling' (reason 'no-connected' or 'silent') or 'stream' (reason
  // 'restored'). `fallback: false` (to the constructor or here) turns this off.
  watch(jobId, handlers = {}) {
    const { streamToken = null, queueName = null } = handlers;
    const fallback = fallbackOptions(handlers.fallback === undefined ? this.fallback : handlers.fallback);
    let lastId = 0;
    let ended = false;
    let transport = 'stream';
    let source = null; // the stream in use, or the one being tried again while polling
    let polling = null; // {abort: AbortController} while long polling
    let watchdog = null;
    let retryTimer = null;
    let retryMs = fallback ? fallback.retryStreamMs : 0;
    let settle;
    const done = new Promise((resolve, reject) => { settle = { resolve, reject }; });
    const stop = () => {
      ended = true;
      if (source) source.close();
      if (polling) polling.abort.abort();
      clearInterval(watchdog);
      clearTimeout(retryTimer);
    };
    const finish = (fn, value) => { if (!ended) { stop(); fn(value); } };
    const tell = (name, reason) => {
      transport = name;
      if (handlers.onTransport) handlers.onTransport({ transport: name, reason });
    };
    const deliver = (data) => {
      const id = Number(data.sequence || 0);
      if (ended || (id && id <= lastId)) return; // already seen
      lastId = id || lastId;
      if (handlers.onUpdate) handlers.onUpdate(data);
      if (TERMINAL.has(data.status)) finish(settle.resolve, data);
    };

    const open = () => {
      const url = this.streamUrl(jobId, { streamToken, queueName, since: lastId || null });
      const current = new EventSource(url);
      const state = { source: current, openedAt: Date.now(), heardAt: Date.now(), connected: false };
      source = current;
      const on = (name, fn) => current.addEventListener(name, (e) => {
        if (source !== current || ended) return; // a stream given up on
        state.heardAt = Date.now();
        fn(JSON.parse(e.data), e);
      });
      on('connected', (data) => {
        state.connected = true;
        if (transport === 'polling') restored();
        if (handlers.onConnected) handlers.onConnected(data);
      });
      on('heartbeat', (data) => handlers.onHeartbeat && handlers.onHeartbeat(data));
      on('queue_stats', (data) => handlers.onQueueStats && handlers.onQueueStats(data));
      on('timeout', (data) => handlers.onTimeout && handlers.onTimeout(data));
      on('job_update', (data) => { if (transport === 'stream') deliver(data); });
      current.onerror = () => {
        // CONNECTING: EventSource retries by itself. CLOSED: the server refused (404/401) or
        // answered 204 (nothing left): ask for the job's status once to tell the two apart.
        if (source !== current || ended || current.readyState !== EventSource.CLOSED) return;
        if (transport === 'polling') { current.close(); source = null; return; } // polling goes on
        streamRefusal(url).then((refused) => {
          if (refused && refused.status === 429) return finish(settle.reject, refused);
          return this._settleClosed(jobId, streamToken, finish, settle);
        });
      };
      return state;
    };

    // While streaming: the stream went quiet. While polling: the stream tried again did not
    // say `connected` in time, so give it up until the next try.
    let trying = null;
    const check = () => {
      if (ended || !fallback || !trying) return;
      const now = Date.now();
      if (!trying.connected && now - trying.openedAt >= fallback.connectMs) {
        if (transport === 'stream') toPolling('no-connected');
        else giveUpTry();
      } else if (trying.connected && transport === 'stream' && now - trying.heardAt >= fallback.silenceMs) {
        toPolling('silent');
      }
    };
    const giveUpTry = () => {
      if (source) source.close();
      source = null;
      trying = null;
      retryMs = Math.min(retryMs * 2, fallback.maxRetryStreamMs);
      scheduleTry();
    };
    const scheduleTry = () => {
      clearTimeout(retryTimer);
      if (!fallback.retryStreamMs) return;
      retryTimer = setTimeout(() => { if (!ended && transport === 'polling') trying = open(); }, retryMs);
    };
    const toPolling = (reason) => {
      if (source) source.close();
      source = null;
      trying = null;
      tell('polling', reason);
      poll();
      scheduleTry();
    };
    const restored = () => {
      if (polling) polling.abort.abort();
      polling = null;
      retryMs = fallback.retryStreamMs;
      tell('stream', 'restored');
    };
    const poll = async () => {
      const mine = { abort: new AbortController() };
      polling = mine;
      let failures = 0;
      while (!ended && polling === mine) {
        try {
          const page = await this.events(jobId, {
            after: lastId, streamToken, wait: fallback.pollWaitSeconds, signal: mine.abort.signal,
          });
          if (polling !== mine) return; // the stream is back: it replays from where we were
          failures = 0;
          for (const event of page.events) {
            if (event.event === 'job_update') deliver(event.data);
          }
          if (ended) return;
          if (page.finished) return this._settleClosed(jobId, streamToken, finish, settle);
          if (page.retryAfterMs) await sleep(page.retryAfterMs);
        } catch (err) {
          if (ended || polling !== mine) return;
          if (err instanceof JobstreamError && err.status >= 400 && err.status < 500) {
            return finish(settle.reject, err); // 401/404/429: asking again would not help
          }
          failures += 1; // the network or a 5xx: ask again, less and less often
          await sleep(Math.min(1000 * 2 ** (failures - 1), 15000));
        }
      }
    };

    trying = open();
    if (fallback) watchdog = setInterval(check, Math.min(1000, fallback.connectMs / 4));
    return {
      close: stop,
      done,
      get source() { return source; },
      get transport() { return transport; },
    };
  }

  _settleClosed(jobId, streamToken, finish, settle) {
    return this.status(jobId, { streamToken }).then(
        (job) => (TERMINAL.has(job.status)
          ? finish(settle.resolve, { type: 'job_update', ...job })
          : finish(settle.reject, new JobstreamError('the stream closed', { code: 'stream_closed' }))),
        (err) => finish(settle.reject, err),
      );
  }

  // POST /events/token -> {streamToken, expiresAt, eventsUrl}: a short-lived token that reads
  // the caller's feed and nothing else (an EventSource cannot send an Authorization header).
  feedToken() {
    return this._call('POST', '/events/token', {});
  }

  // The caller's feed (GET /api/events, beside /api/v1): every event of all their jobs.
  feedUrl({ token = null, eventsUrl = null, since = null } = {}) {
    const base = new URL(`${this.apiBase}/`, location.href);
    const url = new URL(eventsUrl || '../events', base);
    if (token) url.searchParams.set('token', token);
    if (since !== null && since !== undefined) url.searchParams.set('since', String(since));
    return url.toString();
  }

  // Follow ALL of the caller's jobs over ONE EventSource (a page watching many jobs must not
  // open a stream per job: browsers keep about six connections per origin). With getToken,
  // a feed token is fetched first and sent as ?token=. EventSource resumes by itself after
  // a server close (Last-Event-ID); (jobId, sequence) drops anything seen twice. If the
  // stream is refused after it had opened (e.g. the feed token expired), it fetches a new
  // token and reopens once from the last event seen (?since=<epochMs>).
  // handlers.onEvent(event) gets each `job` event: {type, jobId, jobName, queueName, epochMs,
  // sequence, status, progress: {current, total, percent}, message, data, error?, errorCode?,
  // timestamp}; onOpen(hello) on each (re)connection; onPing(ping); onError(err) when the
  // stream cannot go on (the watcher is then closed). handlers.since (epochMs): start there
  // instead of now. Returns {close, opened, source}: `opened` resolves with the first hello
  // (rejects if the stream fails first); `source` is the current EventSource. A feed refused
  // for the caller's open-stream limit fails with code 'throttled' and its `retryAfter`
  // (seconds), and is not reopened.
  watchAll(handlers = {}) {
    const seen = new Map(); // jobId -> last sequence handled
    let since = handlers.since ?? null;
    let source = null;
    let closed = false;
    let settle;
    const opened = new Promise((resolve, reject) => { settle = { resolve, reject }; });
    opened.catch(() => {}); // a caller that never awaits it must not see an unhandled rejection
    const fail = (err) => {
      closed = true;
      if (source) source.close();
      settle.reject(err);
      if (handlers.onError) handlers.onError(err);
    };
    const connect = async () => {
      const issued = this.getToken ? await this.feedToken() : {};
      if (closed) return;
      const url = this.feedUrl({ token: issued.streamToken, eventsUrl: issued.eventsUrl, since });
      const current = new EventSource(url);
      source = current;
      let hadOpened = false;
      const on = (name, fn) => current.addEventListener(name, (e) => fn(JSON.parse(e.data), e));
      on('hello', (hello) => {
        hadOpened = true;
        if (since === null && Number.isFinite(hello.epochMs)) since = hello.epochMs;
        settle.resolve(hello);
        if (handlers.onOpen) handlers.onOpen(hello);
      });
      on('ping', (ping) => handlers.onPing && handlers.onPing(ping));
      on('job', (event) => {
        const sequence = Number(event.sequence || 0);
        if (sequence && sequence <= (seen.get(event.jobId) || 0)) return; // already seen
        if (sequence) seen.set(event.jobId, sequence);
        if (Number.isFinite(event.epochMs)) since = event.epochMs;
        if (handlers.onEvent) handlers.onEvent(event);
      });
      current.onerror = () => {
        // CONNECTING: EventSource retries by itself with Last-Event-ID. CLOSED: refused.
        if (closed || current.readyState !== EventSource.CLOSED) return;
        streamRefusal(url).then((refused) => {
          if (closed) return;
          if (refused && refused.status === 429) {
            fail(refused); // throttled: reopening now would only be refused again
            return;
          }
          if (!hadOpened) {
            fail(new JobstreamError('the feed was refused', { code: 'stream_closed' }));
            return;
          }
          connect().catch(fail); // once more with a fresh token, from the last event seen
        });
      };
    };
    connect().catch(fail);
    return {
      close: () => { closed = true; if (source) source.close(); },
      opened,
      get source() { return source; },
    };
  }

  // The whole flow for one file. Resolves with the terminal job_update.
  // jobName: one GET /queues lists (default: the first listed); queueName: looked up there.
  async run(file, { jobName = null, queueName = null, data = {},
    onUploadProgress = null, onEnqueued = null, ...handlers } = {}) {
    if (!jobName || !queueName) ({ jobName, queueName } = await this.queueFor(jobName));
    const sha256 = await this.digest(file);
    const presigned = await this.presign(file, { sha256 });
    await this.upload(file, presigned, { onProgress: onUploadProgress });
    const job = await this.enqueue({
      jobName,
      queueName,
      data: { blobName: presigned.blobName, fileName: file.name, ...(sha256 ? { sha256 } : {}), ...data },
    });
    if (onEnqueued) onEnqueued(job);
    return this.watch(job.jobId, { streamToken: job.streamToken, queueName, ...handlers }).done;
  }
}
