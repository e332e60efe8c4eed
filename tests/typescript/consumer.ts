// A small consumer of web/types/jobstream-api.d.ts, type-checked by test_typescript_types.py
// (tsc --noEmit --strict): what a frontend writes against the generated types.
import type {
  components,
  paths,
  JobOut,
  JobAcceptedOut,
  JobStreamEvents,
  FeedEvents,
  Error409,
  EnqueueIn,
} from "../../web/types/jobstream-api";

type EnqueueBody = paths["/api/v1/jobs"]["post"]["requestBody"]["content"]["application/json"];
type Accepted =
  paths["/api/v1/jobs"]["post"]["responses"][202]["content"]["application/json"]["data"];

const body: EnqueueBody = {
  queueName: "resume-analysis",
  jobName: "analyze-resume",
  data: { blobName: "u/abc/cv.pdf" },
};
const same: EnqueueIn = body;

function describe(job: JobOut): string {
  const done = job.status === "completed" ? `result ${JSON.stringify(job.result ?? {})}` : "";
  const failed = job.error ? `${job.error.code}: ${job.error.message}` : "";
  return `${job.jobId} ${job.status} ${job.progress}% ${done}${failed}`;
}

function streamUrl(accepted: Accepted | JobAcceptedOut): string {
  return `${accepted.streamUrl}?token=${encodeURIComponent(accepted.streamToken)}`;
}

// Every job stream event name has its payload type.
function onEvent<K extends keyof JobStreamEvents>(name: K, data: JobStreamEvents[K]): string {
  return `${name}: ${JSON.stringify(data)}`;
}

const update: JobStreamEvents["job_update"] = {
  type: "job_update",
  jobId: "j1",
  sequence: 3,
  status: "in_progress",
  progress: 40,
  stage: "processing",
  message: "reading",
  attempt: 1,
  timestamp: "2026-01-01T00:00:00Z",
};
const ping: FeedEvents["ping"] = { type: "ping", epochMs: 1, timestamp: "2026-01-01T00:00:00Z" };

function isRetryable(error: Error409): boolean {
  return error.error.code === "idempotency_in_progress";
}

const schemas: (keyof components["schemas"])[] = ["JobOut", "JobUpdateEvent"];

export { body, same, describe, streamUrl, onEvent, update, ping, isRetryable, schemas };
