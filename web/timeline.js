// The job's steps as a timeline: each step with its state (waiting, running, done, failed)
// and how long it took, from the events' own timestamps (so a replayed stream shows the same
// durations). The running step's time and the job's elapsed time go on between events.
import { el } from './result-view.js';

// The steps each shipped job type declares (`currentStep` labels, docs/job-types.md), so
// the steps still to come show as waiting. A job name not listed here, or a step label not
// listed, is added as it first appears.
const JOB_STEPS = {
  'analyze-resume': ['Reading the file', 'Reading the resume', 'Analysing the resume', 'Preparing the result'],
  'analyze-document': ['Reading the file', 'Detecting the file type', 'Analysing the content', 'Preparing the result'],
};
const QUEUED = 'Queued';
const STARTING = 'Starting';
const STATE_TEXT = { pending: 'waiting', active: 'running', done: 'done', failed: 'failed', cancelled: 'cancelled', skipped: 'not run' };

export function duration(ms) {
  if (!Number.isFinite(ms) || ms < 0) return '';
  const s = ms / 1000;
  if (s < 10) return `${s.toFixed(1)} s`;
  if (s < 60) return `${Math.round(s)} s`;
  return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
}

export class Timeline {
  constructor(list, jobName) {
    this.list = list;
    this.steps = [];
    this.active = -1;
    this.first = null; // server time of the job's first event
    this.ended = null; // server time of its terminal event
    this.last = null; // {server, local}: the latest event's time, and when it arrived here
    list.replaceChildren();
    for (const name of [QUEUED, STARTING, ...(JOB_STEPS[jobName] || [])]) this._add(name);
  }

  _add(name) {
    const item = el('li', { 'data-step': name, 'data-state': 'pending' },
      el('span', { class: 'dot', 'aria-hidden': 'true' }),
      el('span', { class: 'name' }, name),
      el('span', { class: 'state' }, STATE_TEXT.pending),
      el('span', { class: 'time' }),
      el('span', { class: 'detail' }));
    this.list.append(item);
    this.steps.push({ name, state: 'pending', start: null, end: null, item });
    return this.steps.length - 1;
  }

  _set(index, state) {
    const step = this.steps[index];
    step.state = state;
    step.item.dataset.state = state;
    step.item.querySelector('.state').textContent = STATE_TEXT[state];
    if (state !== 'active') step.item.querySelector('.detail').textContent = '';
  }

  // Server "now": the latest event's time plus what passed here since it arrived.
  now() {
    if (!this.last) return null;
    return this.last.server + (Date.now() - this.last.local);
  }

  // The job's time from its first event to its end (or to now while it runs).
  elapsed() {
    if (this.first === null) return null;
    return (this.ended ?? this.now()) - this.first;
  }

  // One job_update. Returns the name of the step it entered, when it entered one.
  update(update) {
    const at = Date.parse(update.timestamp);
    const time = Number.isFinite(at) ? at : Date.now();
    this.last = { server: time, local: Date.now() };
    if (this.first === null) this.first = time;
    const status = update.status;
    if (['completed', 'failed', 'cancelled'].includes(status)) {
      this.ended = time;
      if (this.active >= 0) {
        this.steps[this.active].end = time;
        this._set(this.active, status === 'completed' ? 'done' : status);
      }
      for (const [index, step] of this.steps.entries()) {
        if (step.state === 'pending') this._set(index, 'skipped');
      }
      this.active = -1;
      this.tick();
      return null;
    }
    const name = update.currentStep || (update.stage === 'queued' ? QUEUED : STARTING);
    let index = this.steps.findIndex((s) => s.name === name);
    if (index < 0) index = this._add(name);
    let entered = null;
    if (index !== this.active) {
      if (this.active >= 0) {
        this.steps[this.active].end = time;
        this._set(this.active, 'done');
      }
      // Back to an earlier step (a retry starts over): the later steps wait again.
      for (let later = index + 1; later < this.steps.length; later += 1) {
        if (this.steps[later].state !== 'pending') {
          this.steps[later] = { ...this.steps[later], start: null, end: null };
          this._set(later, 'pending');
          this.steps[later].item.querySelector('.time').textContent = '';
        }
      }
      // Steps jumped over (a job type that skips one) count as done with no time.
      for (let before = 0; before < index; before += 1) {
        if (this.steps[before].state === 'pending') this._set(before, 'skipped');
      }
      this.steps[index].start = time;
      this.steps[index].end = null;
      this.active = index;
      this._set(index, 'active');
      entered = name;
    }
    const detail = update.log ? update.message : [update.phase, update.detail].filter(Boolean).join(': ');
    const step = this.steps[index];
    step.item.querySelector('.detail').textContent = status === 'retrying' ? 'retrying' : (detail || '');
    this.tick();
    return entered;
  }

  // Refresh the times shown (called on each event and by a timer while the job runs).
  tick() {
    const now = this.now();
    for (const step of this.steps) {
      if (step.start === null) continue;
      const end = step.end ?? (step.state === 'active' ? now : null);
      if (end !== null) step.item.querySelector('.time').textContent = duration(end - step.start);
    }
  }
}
