// Follow one job's stream to its end with the browser's own EventSource.
//
//   const outcome = await followJob({ api: 'http://127.0.0.1:7071/api/v1', jobId, streamToken,
//     onUpdate: (update) => render(update) });
//   // outcome: 'completed' | 'failed' | 'cancelled' | 'finished' (nothing more to read)
//
// By itself EventSource reconnects after the server closes the stream (its `timeout`), waits
// the `retry:` hint and resumes with `Last-Event-ID`; it stops for good on any answer but 200
// (the 204 for a finished job included) and cannot tell you which one it got, nor send headers
// (the stream token goes in `?token=`). This recipe closes on the terminal `job_update`, and
// when the browser gave up, asks the URL once to learn why: 204 ends, 429 waits `Retry-After`
// and reopens from the last id (`?since=`), anything else (401 token_expired, 404) rejects.
function followJob({ api, jobId, streamToken, onUpdate, lastEventId = null }) {
  const TERMINAL = ['completed', 'failed', 'cancelled'];
  const url = (since) => {
    const query = new URLSearchParams({ token: streamToken });
    if (since) query.set('since', since);
    return `${api}/jobs/${encodeURIComponent(jobId)}/stream?${query}`;
  };
  return new Promise((resolve, reject) => {
    const open = () => {
      const source = new EventSource(url(lastEventId));
      source.addEventListener('job_update', (event) => {
        lastEventId = event.lastEventId;
        const update = JSON.parse(event.data);
        onUpdate(update);
        if (TERMINAL.includes(update.status)) {
          source.close(); // the server closes too: no need for the 204 round trip
          resolve(update.status);
        }
      });
      // `timeout`: nothing to do, EventSource reconnects with Last-Event-ID by itself.
      source.onerror = async () => {
        if (source.readyState !== EventSource.CLOSED) return; // reconnecting by itself
        const controller = new AbortController();
        try {
          const answer = await fetch(url(lastEventId), { signal: controller.signal });
          if (answer.status === 204) return resolve('finished');
          if (answer.status === 200) return open(); // a passing failure: open again
          if (answer.status === 429) {
            const wait = Number(answer.headers.get('Retry-After') ?? 5);
            return setTimeout(open, wait * 1000);
          }
          const { error } = await answer.json();
          reject(Object.assign(new Error(error.message), { code: error.code, status: answer.status }));
        } catch (failure) {
          reject(failure); // the network: the page decides when to try again
        } finally {
          controller.abort(); // a 200 asked only to learn why: do not keep it open
        }
      };
    };
    open();
  });
}
