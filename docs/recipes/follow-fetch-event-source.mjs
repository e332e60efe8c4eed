// Follow one job's stream to its end with @microsoft/fetch-event-source (2.x), in Node.
//
//   JOBSTREAM_API=http://127.0.0.1:7071/api/v1 JOB_ID=... STREAM_TOKEN=... \
//     node follow-fetch-event-source.mjs
//
// Prints each `job_update` as one JSON line. Exit 0: completed (or already finished and seen),
// 1: failed or cancelled, 2: refused (401 token_expired, 404, ...).
// By itself the library sends headers, keeps `Last-Event-ID` and honours `retry:`, but:
// when the server closes the stream (its `timeout`) it calls `onclose` and stops unless
// `onclose` throws; its default `onopen` throws on the 204 for a finished job and it then
// retries every second forever; it reads `window` and `document`, which Node lacks. This
// recipe throws from `onclose` to resume, stops on the 204 and a 401, and waits `Retry-After`.
import { fetchEventSource } from '@microsoft/fetch-event-source';

globalThis.window ??= globalThis; // the library's timers are `window.setTimeout`
globalThis.document ??= { hidden: false, addEventListener() {}, removeEventListener() {} };

const api = process.env.JOBSTREAM_API ?? 'http://127.0.0.1:7071/api/v1';
const { JOB_ID: jobId, STREAM_TOKEN: streamToken } = process.env;
const TERMINAL = new Set(['completed', 'failed', 'cancelled']);

class Stop extends Error {
  constructor(exitCode, message) {
    super(message);
    this.exitCode = exitCode;
  }
}
class Reconnect extends Error {
  constructor(afterMs) {
    super('reconnect');
    this.afterMs = afterMs;
  }
}

async function follow() {
  const stopped = new AbortController();
  const headers = { Authorization: `Bearer ${streamToken}` };
  if (process.env.LAST_EVENT_ID) headers['Last-Event-ID'] = process.env.LAST_EVENT_ID;
  let lastEventId = process.env.LAST_EVENT_ID;
  try {
    await fetchEventSource(`${api}/jobs/${jobId}/stream`, {
      headers,
      signal: stopped.signal,
      openWhenHidden: true, // no page visibility in Node
      async onopen(response) {
        if (response.status === 200) return;
        if (response.status === 204) throw new Stop(0, 'the job has finished: nothing more to read');
        if (response.status === 429) {
          const wait = Number(response.headers.get('Retry-After') ?? 5);
          console.error(`throttled: retrying in ${wait} s`);
          throw new Reconnect(wait * 1000);
        }
        throw new Stop(2, `refused: ${response.status} ${await response.text()}`);
      },
      onmessage(message) {
        if (message.event === 'timeout') {
          console.error(`stream timed out at ${lastEventId}: resuming`);
        }
        if (message.event !== 'job_update') return; // connected, heartbeat, timeout, steps
        lastEventId = message.id;
        const update = JSON.parse(message.data);
        console.log(JSON.stringify(update));
        if (TERMINAL.has(update.status)) {
          stopped.abort(); // resolves fetchEventSource: no reconnect, no 204 round trip
          process.exitCode = update.status === 'completed' ? 0 : 1;
        }
      },
      onclose() {
        throw new Reconnect(); // the server closed the stream (max age): resume
      },
      onerror(error) {
        if (error instanceof Reconnect) return error.afterMs; // undefined: the `retry:` hint
        if (error instanceof Stop) throw error;
        return undefined; // a network failure: retry after the `retry:` hint
      },
    });
  } catch (error) {
    if (!(error instanceof Stop)) throw error;
    console.error(error.message);
    process.exitCode = error.exitCode;
  }
}

await follow();
