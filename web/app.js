// The demo page: wires the form to JobstreamClient and renders upload and job progress.
// The job list is the API's (GET /queues), read when the page opens and when the API changes.
// Below the job, a list of every job of the session, live from one feed (client.watchAll).
import { JobstreamClient } from './jobstream-client.js';

const $ = (id) => document.getElementById(id);

// The API: what the user typed, else the page's own configuration (its jobstream-api meta tag),
// else this origin's /api/v1. Never the page's URL: a crafted link would choose where the
// requests, and the bearer token typed into the page, are sent.
function apiBase() {
  const typed = $('api-base').value.trim();
  const meta = document.querySelector('meta[name="jobstream-api"]');
  return typed || (meta && meta.content) || '/api/v1';
}

function setBar(bar, label, percent) {
  const p = Math.max(0, Math.min(100, Math.round(percent)));
  $(bar).value = p;
  $(label).textContent = `${p}%`;
}

// The message as text, then the machine-readable code (e.g. corrupt_file) in its own <code>.
function showError(message, code = null) {
  const box = $('error');
  box.textContent = message;
  if (code) {
    const tag = document.createElement('code');
    tag.className = 'error-code';
    tag.textContent = code;
    box.append(' (', tag, ')');
  }
  box.hidden = false;
}

// A terminal update's error: the stream sends `error` (text) and `errorCode` beside it; the
// status route (the client's fallback after a 204) sends `error` as {code, message}.
function failureOf(final) {
  const error = final.error;
  if (error && typeof error === 'object') return { message: error.message, code: error.code };
  return { message: error, code: final.errorCode };
}

function reset() {
  setBar('upload-progress', 'upload-percent', 0);
  setBar('job-progress', 'job-percent', 0);
  for (const id of ['job-id', 'job-stage', 'job-phase', 'job-eta', 'job-message', 'queue-stats', 'result']) {
    $(id).textContent = '';
  }
  $('job-status').textContent = 'starting';
  $('events').replaceChildren();
  $('result-box').hidden = true;
  $('error').hidden = true;
}

function render(update) {
  setBar('job-progress', 'job-percent', update.progress ?? 0);
  $('job-status').textContent = update.status;
  // The job type's step label when it has one (currentStep), its phase and detail, the ETA.
  $('job-stage').textContent = update.currentStep || update.stage || '—';
  const phase = [update.phase, update.detail].filter(Boolean).join(': ');
  $('job-phase').textContent = phase ? `(${phase})` : '';
  $('job-eta').textContent = Number.isFinite(update.etaSeconds) ? `· about ${Math.round(update.etaSeconds)} s left` : '';
  $('job-message').textContent = update.message || '';
  const item = document.createElement('li');
  item.dataset.sequence = String(update.sequence ?? '');
  item.textContent = `#${update.sequence ?? '?'} ${update.status} ${update.progress}% ${update.stage}: ${update.message}`;
  $('events').append(item);
}

// This session's jobs: ONE feed (client.watchAll, GET /api/events) carries every event of
// every job of the caller; a row per job, updated in place. Opened before the first job is
// enqueued (so its first event is seen) and kept open; reopened if the API or token changes.
const FEED_OPEN_WAIT_MS = 5000;
const SESSION_CELLS = ['id', 'name', 'status', 'percent', 'message'];
let session = null; // {key, feed, failed}

function feedState(state, text) {
  const line = $('session-feed');
  line.dataset.state = state;
  line.textContent = text;
}

function sessionRow(jobId) {
  const body = $('session-jobs').tBodies[0];
  const found = [...body.rows].find((row) => row.dataset.jobId === jobId);
  if (found) return found;
  const row = body.insertRow();
  row.dataset.jobId = jobId;
  row.dataset.events = '0';
  for (const name of SESSION_CELLS) row.insertCell().className = name;
  row.cells[0].textContent = jobId;
  return row;
}

function renderSessionEvent(event) {
  const row = sessionRow(event.jobId);
  const cell = (name) => row.cells[SESSION_CELLS.indexOf(name)];
  row.dataset.status = event.status;
  row.dataset.sequence = String(event.sequence ?? '');
  row.dataset.events = String(Number(row.dataset.events) + 1);
  cell('name').textContent = event.jobName || '';
  cell('status').textContent = event.status;
  cell('percent').textContent = `${Math.round(event.progress?.percent ?? 0)}%`;
  cell('message').textContent = event.error ? `${event.error}${event.errorCode ? ` (${event.errorCode})` : ''}` : (event.message || '');
}

// Resolves once the feed said hello, or after FEED_OPEN_WAIT_MS: a feed that cannot open
// must not stop the job itself (its own stream still shows it).
function openSession(client, key) {
  if (!session || session.key !== key || session.failed) {
    if (session) session.feed.close();
    feedState('connecting', 'Connecting to the feed…');
    const current = { key, failed: false };
    current.feed = client.watchAll({
      onOpen: () => {
        const line = $('session-feed');
        line.dataset.connections = String(Number(line.dataset.connections || 0) + 1);
        feedState('open', 'Live: every job of this caller, on one stream.');
      },
      onEvent: renderSessionEvent,
      onError: (err) => {
        current.failed = true;
        feedState('error', `The feed stopped: ${err.message || err}`);
      },
    });
    session = current;
  }
  const waited = new Promise((resolve) => { setTimeout(resolve, FEED_OPEN_WAIT_MS); });
  return Promise.race([session.feed.opened.catch(() => {}), waited]);
}

async function start(event) {
  event.preventDefault();
  const file = $('file').files[0];
  if (!file) return;
  reset();
  $('start').disabled = true;
  document.body.dataset.state = 'running';
  const choice = $('job-name').selectedOptions[0];
  const token = $('token').value.trim();
  const client = new JobstreamClient({ apiBase: apiBase(), getToken: token ? async () => token : null });
  try {
    await openSession(client, `${apiBase()}\n${token}`);
    const final = await client.run(file, {
      jobName: choice.value,
      queueName: choice.dataset.queue,
      onUploadProgress: (loaded, total) => setBar('upload-progress', 'upload-percent', total ? (100 * loaded) / total : 100),
      onEnqueued: (job) => { $('job-id').textContent = job.jobId; },
      onUpdate: render,
      onQueueStats: (s) => {
        $('queue-stats').textContent = `queue ${s.queueName}: ${s.activeMessages} waiting, ${s.deadLetterMessages} dead-lettered`;
      },
    });
    if (final.status === 'completed') {
      $('result').textContent = JSON.stringify(final.result ?? {}, null, 2);
      $('result-box').hidden = false;
    } else {
      const { message, code } = failureOf(final);
      showError(`Job ${final.status}: ${message || final.message}`, code);
    }
    document.body.dataset.state = final.status;
  } catch (err) {
    showError(err.message || String(err), err.code);
    document.body.dataset.state = 'error';
  } finally {
    $('start').disabled = false;
  }
}

// One option per job name the API runs, each knowing its queue; the form waits for them.
async function loadJobs() {
  $('start').disabled = true;
  $('error').hidden = true;
  document.body.dataset.state = 'loading';
  const select = $('job-name');
  select.replaceChildren();
  try {
    for (const { queueName, jobNames } of await new JobstreamClient({ apiBase: apiBase() }).queues()) {
      for (const jobName of jobNames) {
        const option = new Option(`${jobName} (queue ${queueName})`, jobName);
        option.dataset.queue = queueName;
        select.append(option);
      }
    }
  } catch (err) {
    showError(err.message || String(err), err.code);
    document.body.dataset.state = 'error';
    return;
  }
  $('start').disabled = select.options.length === 0;
  document.body.dataset.state = 'ready';
}

$('api-base').placeholder = apiBase();
$('api-base').addEventListener('change', loadJobs);
$('job-form').addEventListener('submit', start);
loadJobs();
