// Upload a file through a presigned URL with @azure/storage-blob (12.x), then enqueue a job.
//
//   JOBSTREAM_API=http://127.0.0.1:7071/api/v1 [JOBSTREAM_TOKEN=<JWT>] \
//     node upload-storage-blob.mjs cv.pdf [resume-analysis analyze-resume]
//
// Prints the enqueue answer (`jobId`, `streamToken`, ...) as JSON. The SDK stores
// `application/octet-stream` unless it is given the type in `blobHTTPHeaders.blobContentType`,
// and enqueue answers 415 for that: the type from the presign answer goes there. It also sends
// one Put Blob for anything under 256 MiB unless `maxSingleShotSize` is set: with it, a large
// file goes up in 4 MiB blocks (Put Block, then Put Block List), which the same URL allows.
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { BlockBlobClient } from '@azure/storage-blob';

const api = process.env.JOBSTREAM_API ?? 'http://127.0.0.1:7071/api/v1';
const token = process.env.JOBSTREAM_TOKEN; // none with the local stack's AUTH_MODE=none
const BLOCK = 4 * 1024 * 1024;

async function call(path, body, headers = {}) {
  const auth = token ? { Authorization: `Bearer ${token}` } : {};
  const response = await fetch(`${api}${path}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...auth, ...headers },
    body: JSON.stringify(body),
  });
  const answer = await response.json();
  if (!answer.success) throw new Error(`${path}: ${response.status} ${JSON.stringify(answer.error)}`);
  return answer.data;
}

async function uploadAndEnqueue(path, queueName, jobName) {
  const data = await readFile(path);
  const fileName = basename(path);
  // The content type is taken from the extension (.pdf, .docx, .txt, .md) when not sent.
  const upload = await call('/upload/presigned-url', { fileName, size: data.length });
  await new BlockBlobClient(upload.uploadUrl).uploadData(data, {
    blobHTTPHeaders: { blobContentType: upload.headers['Content-Type'] },
    maxSingleShotSize: BLOCK, // above it: blocks of `blockSize`
    blockSize: BLOCK,
  });
  return call(
    '/jobs',
    { queueName, jobName, data: { blobName: upload.blobName, fileName } },
    { 'Idempotency-Key': randomUUID() }, // safe to replay
  );
}

const [file, queueName = 'resume-analysis', jobName = 'analyze-resume'] = process.argv.slice(2);
console.log(JSON.stringify(await uploadAndEnqueue(file, queueName, jobName)));
