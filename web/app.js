// The demo page: wires the form to JobstreamClient and renders upload and job progress.
// The job list is the API's (GET /queues), read when the page opens and when the API changes.
import { JobstreamClient } from './jobstream-client.js';

const $ = (id) => document.getElementById(id);

function apiBase() {
  const fromQuery = new URLSearchParams(location.search).get('api');
  const typed = $('api-base').value.trim();
  const meta = document.querySelector('meta[name="jobstream-api"]');
  return typed || fromQuery || (meta && meta.content) || '/api/v1';
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
