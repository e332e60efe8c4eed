// Follow one job's stream to its end with the `eventsource` npm package (5.x), in Node.
//
//   JOBSTREAM_API=http://127.0.0.1:7071/api/v1 JOB_ID=... STREAM_TOKEN=... node follow-eventsource.mjs
//
// Prints each `job_update` as one JSON line. Exit 0: completed (or already finished and seen),
// 1: failed or cancelled, 2: refused (401 token_expired, 404, ...).
// By itself the package reconnects after the server closes the stream (its `timeout`), waits
// the `retry:` hint and resumes with `Last-Event-ID`. Any answer but 200 closes it for good,
// with only the status in `error.code`: this recipe stops on the 204 and a 401, and waits
// `Retry-After` (read through its `fetch` option) before reopening after a 429. Its reconnect
// timer is `unref()`ed, so Node would exit while it waits: a timer here keeps the process up.
import { EventSource } from 'eventsource';

const api = process.env.JOBSTREAM_API ?? 'http://127.0.0.1:7071/api/v1';
const { JOB_ID: jobId, STREAM_TOKEN: streamToken } = process.env;
const TERMINAL = new Set(['completed', 'failed', 'cancelled']);

function follow(lastEventId = process.env.LAST_EVENT_ID) {
  return new Promise((resolve) => {
    let retryAfter = null;
    const source = new EventSource(`${api}/jobs/${jobId}/stream`, {
      fetch: async (url, init) => {
        const headers = { ...init.headers, Authorization: `Bearer ${streamToken}` };
        // A fresh EventSource has no last id: resume where the one before stopped.
        if (lastEventId && !headers['Last-Event-ID']) headers['Last-Event-ID'] = lastEventId;
        const response = await fetch(url, { ...init, headers });
        retryAfter = response.headers.get('Retry-After');
        return response;
      },
    });
    source.addEventListener('job_update', (event) => {
      lastEventId = event.lastEventId;
      const update = JSON.parse(event.data);
      console.log(JSON.stringify(update));
      if (TERMINAL.has(update.status)) {
        source.close(); // the server closes too: do not wait for the 204
        resolve(update.status === 'completed' ? 0 : 1);
      }
    });
    source.addEventListener('timeout', () => {
      console.error(`stream timed out at ${lastEventId}: resuming`); // EventSource reconnects
    });
    source.addEventListener('error', (error) => {
      if (source.readyState !== EventSource.CLOSED) return; // reconnecting by itself
      if (error.code === 204) {
        console.error('the job has finished: nothing more to read');
        resolve(0);
      } else if (error.code === 429) {
        const wait = Number(retryAfter ?? 5);
        console.error(`throttled: retrying in ${wait} s`);
        setTimeout(() => follow(lastEventId).then(resolve), wait * 1000);
      } else {
        console.error(`refused: ${error.code ?? ''} ${error.message ?? ''}`);
        resolve(2);
      }
    });
  });
}

const keepAlive = setInterval(() => {}, 60_000); // until the job is followed to its end
process.exitCode = await follow();
clearInterval(keepAlive);
