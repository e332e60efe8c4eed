// Mounts seed 001's Vue component (./Component.vue, copied in by build.mjs) with the jobId
// and jobName props from the page's query string: /...?jobId=...&jobName=...
import { createApp } from 'vue';
import JobMonitor from './Component.vue';

const query = new URLSearchParams(location.search);
createApp(JobMonitor, { jobId: query.get('jobId'), jobName: query.get('jobName') }).mount('#app');
