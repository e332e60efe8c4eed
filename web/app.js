// The demo page: wires the form to JobstreamClient and shows the job as a person follows it:
// upload and job progress, a step timeline (timeline.js), the result as a card
// (result-view.js), failures as a code plus a human message (messages.js), the event log.
// The job list is the API's (GET /queues), read when the page opens and when the API changes.
// Below the job, a list of every job of the session, live from one feed (client.watchAll).
import { JobstreamClient } from './jobstream-client.js';
import { describeError, errorText } from './messages.js';
import { resultCard } from './result-view.js';
import { Timeline, duration } from './timeline.js';

const $ = (id) => document.getElementById(id);
const TICK_MS = 500;

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

function announce(text) {
  $('live').textContent = text;
}

// The error, once: a heading word ("Job failed"), the human message for its code, the code in
// its own <code>, and the correlation id of a server error to quote when reporting it.
function showError(text, code = null, details = []) {
  const box = $('error');
  box.textContent = text;
  if (code) {
    const tag = document.createElement('code');
    tag.className = 'error-code';
    tag.textContent = code;
    box.append(' (', tag, ')');
  }
  const reference = (details || []).find((d) => d && d.correlationId);
  if (reference) box.append(` Reference: ${reference.correlationId}.`);
  box.hidden = false;
  announce(''); // role=alert reads it out: the live region must not say it a second time
}

// A terminal update's error: the stream sends `error` (text) and `errorCode` beside it; the
// status route (the client's fallback after a 204) sends `error` as {code, message}.
function failureOf(final) {
  const error = final.error;
  if (error && typeof error === 'object') return { message: error.message, code: error.code };
  return { message: error, code: final.errorCode || (final.status === 'cancelled' ? 'cancelled' : null) };
}

// The job being shown: its timeline, whether it still runs, the timer refreshing its times.
let current = null;

function reset(jobName) {
  if (current) clearInterval(current.timer);
  setBar('upload-progress', 'upload-percent', 0);
  setBar('job-progress', 'job-percent', 0);
  for (const id of ['job-id', 'job-stage', 'job-phase', 'job-eta', 'job-elapsed', 'job-message', 'queue-stats', 'transport', 'result', 'result-json', 'event-count']) {
    $(id).textContent = '';
  }
  $('job-status').textContent = 'starting';
  $('queue-stats').hidden = true;
  $('transport').hidden = true;
  delete $('transport').dataset.transport;
  $('events').replaceChildren();
  $('result-box').hidden = true;
  $('error').hidden = true;
  announce('');
  const timeline = new Timeline($('timeline'), jobName);
  current = { timeline, running: true, timer: setInterval(() => tick(), TICK_MS) };
}

function tick() {
  if (!current) return;
  current.timeline.tick();
  const elapsed = current.timeline.elapsed();
  $('job-elapsed').textContent = elapsed === null ? '' : `Elapsed ${duration(elapsed)}`;
}

function finish() {
  if (!current) return;
  current.running = false;
  clearInterval(current.timer);
  tick();
  $('queue-stats').hidden = true; // the job is no longer in any queue: nothing to show
  $('job-eta').textContent = '';
}

// How live updates arrive: said only once the client had to leave the stream (a proxy on
// the way held it back) and when it could go back to it.
function showTransport({ transport }) {
  const line = $('transport');
  line.dataset.transport = transport;
  line.textContent = transport === 'polling'
    ? 'Live updates through polling: the stream is held back somewhere on the way.'
    : 'Live updates through the stream again.';
  line.hidden = false;
}

// One line of the event log. A failure or a retry names its code and the human message,
// never the server's text (it may name an internal exception).
function logLine(update) {
  const parts = [`#${update.sequence ?? '?'}`, update.status, `${Math.round(update.progress ?? 0)}%`];
  if (update.currentStep) parts.push(update.currentStep);
  let text = parts.join(' ');
  if (update.errorCode || update.status === 'failed') {
    text += ` — ${describeError(update.errorCode, update.error).title} (${update.errorCode || 'error'})`;
  } else if (update.message) {
    text += ` — ${update.message}`;
  }
  return text;
}

// Append to the log; follow the job (scroll to the newest) unless the reader scrolled up.
function logEvent(update) {
  const list = $('events');
  const following = list.scrollTop + list.clientHeight >= list.scrollHeight - 24;
  const item = document.createElement('li');
  item.dataset.sequence = String(update.sequence ?? '');
  item.dataset.status = update.status;
  if (update.log) item.className = 'log-line';
  item.textContent = logLine(update);
  list.append(item);
  $('event-count').textContent = `(${list.children.length})`;
  if (following) list.scrollTop = list.scrollHeight;
}

function render(update) {
  setBar('job-progress', 'job-percent', update.progress ?? 0);
  $('job-status').textContent = update.status;
  const ended = ['completed', 'failed', 'cancelled'].includes(update.status);
  // The job type's step label when it has one (currentStep), its phase and detail, the ETA.
  if (!ended) $('job-stage').textContent = update.currentStep || update.stage || '—';
  if (update.status === 'completed') $('job-stage').textContent = 'all steps done';
  const phase = ended || update.log ? '' : [update.phase, update.detail].filter(Boolean).join(': ');
  $('job-phase').textContent = phase ? `(${phase})` : '';
  $('job-eta').textContent = ended || !Number.isFinite(update.etaSeconds) ? ''
    : (update.etaSeconds < 1 ? 'Almost done' : `About ${duration(update.etaSeconds * 1000)} left`);
  // A failure is told once, in #error; a retry's message is the worker's own plain words.
  if (update.status !== 'failed' && !update.log) $('job-message').textContent = update.message || '';
  if (update.status === 'failed') $('job-message').textContent = '';
  const entered = current ? current.timeline.update(update) : null;
  if (entered) announce(`Step: ${entered}`);
  logEvent(update);
}

function showQueueStats(stats) {
  if (!current || !current.running) return;
  const line = $('queue-stats');
  const at = stats.timestamp ? new Date(stats.timestamp) : new Date();
  const time = Number.isNaN(at.getTime()) ? '' : ` · as of ${at.toLocaleTimeString('en-GB')}`;
  line.textContent = `Queue ${stats.queueName}: ${stats.activeMessages ?? '?'} waiting, ${stats.deadLetterMessages ?? '?'} dead-lettered${time}`;
  line.hidden = false;
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
  for (const name of SESSION_CELLS) row.insertCell().className = `job-${name}`;
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
  const failed = event.errorCode || event.error;
  cell('message').textContent = failed
    ? `${describeError(event.errorCode, event.error).title} (${event.errorCode || 'error'})`
    : (event.message || '');
}

// Resolves once the feed said hello, or after FEED_OPEN_WAIT_MS: a feed that cannot open
// must not stop the job itself (its own stream still shows it).
function openSession(client, key) {
  if (!session || session.key !== key || session.failed) {
    if (session) session.feed.close();
    feedState('connecting', 'Connecting to the feed…');
    const opening = { key, failed: false };
    opening.feed = client.watchAll({
      onOpen: () => {
        const line = $('session-feed');
        line.dataset.connections = String(Number(line.dataset.connections || 0) + 1);
        feedState('open', 'Live: every job of this caller, on one stream.');
      },
      onEvent: renderSessionEvent,
      onError: (err) => {
        opening.failed = true;
        feedState('error', `The feed stopped: ${errorText(err.code, err.message)}`);
      },
    });
    session = opening;
  }
  const waited = new Promise((resolve) => { setTimeout(resolve, FEED_OPEN_WAIT_MS); });
  return Promise.race([session.feed.opened.catch(() => {}), waited]);
}

function showResult(result) {
  $('result').replaceChildren(resultCard(result));
  $('result-json').textContent = JSON.stringify(result ?? {}, null, 2);
  $('result-box').hidden = false;
  const score = Number.isFinite(result?.score) ? `: score ${result.score} of ${result.maxScore || 100}` : '';
  announce(`Job completed${score}.`);
}

async function start(event) {
  event.preventDefault();
  const file = $('file').files[0];
  if (!file) return;
  const choice = $('job-name').selectedOptions[0];
  reset(choice.value);
  $('start').disabled = true;
  document.body.dataset.state = 'running';
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
      onQueueStats: showQueueStats,
      onTransport: showTransport,
    });
    finish();
    if (final.status === 'completed') {
      showResult(final.result);
    } else {
      const { message, code } = failureOf(final);
      showError(`Job ${final.status}: ${errorText(code, message || final.message)}`, code);
      $('job-message').textContent = '';
    }
    document.body.dataset.state = final.status;
  } catch (err) {
    finish();
    showError(errorText(err.code, err.message || String(err)), err.code, err.details);
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
    showError(errorText(err.code, err.message || String(err)), err.code, err.details);
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
