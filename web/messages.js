// What the demo page tells a person when something fails: a short title and what they can do,
// per error code (job error codes and API error codes, docs/api.md). The code itself is shown
// beside it; the server's message is used only for a code this table does not know, and never
// when it names an internal exception or class.

const MESSAGES = {
  // A job that failed (the stream's errorCode, the status route's error.code).
  corrupt_file: ['The file could not be read', 'it looks damaged, or it is not really a PDF or Word document. Open it, save or export it again, and upload the new copy.'],
  encrypted_document: ['The document is password-protected', 'save a copy without a password and upload that.'],
  empty_document: ['No text was found in the document', 'it is empty, or a scanned image (there is no text recognition). Upload a file with selectable text.'],
  unsupported_file_type: ['This kind of file cannot be analysed as a resume', 'upload a PDF, a Word (.docx) or a text file.'],
  document_too_complex: ['The document is too complex to read safely', 'try a simpler export, e.g. "Save as PDF" with fewer pages or images.'],
  file_too_large: ['The file is too large', 'upload a smaller file.'],
  upload_changed: ['The file changed after the job was started', 'upload it again and start a new job.'],
  blob_missing: ['The uploaded file was gone before the job could read it', 'upload it again.'],
  blob_not_found: ['The uploaded file was not found', 'upload it again.'],
  unknown_job_type: ['This analysis is not available on the server', 'pick another one.'],
  unknown_job_name: ['This analysis is not available on the server', 'reload the page and pick one from the list.'],
  result_too_large: ['The result was too large to keep', 'try a shorter document.'],
  max_deliveries_exceeded: ['The job failed several times in a row', 'the server may be having trouble; try again in a few minutes.'],
  dead_lettered: ['The job could not be delivered to a worker', 'try again in a few minutes.'],
  worker_lost: ['The job stopped without finishing', 'the worker running it went away; start it again.'],
  transient_error: ['A temporary problem interrupted the job', 'it is tried again by itself.'],
  enqueue_failed: ['The job could not be queued', 'try again in a moment.'],
  enqueue_abandoned: ['The job was never queued', 'start it again.'],
  idempotency_claim_lost: ['Another request took this job over', 'start it again.'],
  cancelled: ['The job was cancelled', 'start it again if you still need it.'],
  // Answers of the API and of the page's own client.
  unsupported_media_type: ['This type of file is not accepted', 'upload a PDF, a Word (.docx), a text or a Markdown file.'],
  empty_upload: ['The file is empty', 'choose a file with content.'],
  invalid_file_name: ['The file name is not accepted', 'rename the file (letters, digits, dashes) and try again.'],
  unauthenticated: ['You are not signed in', 'paste a bearer token under Settings.'],
  invalid_token: ['The bearer token was not accepted', 'paste a new one under Settings.'],
  token_expired: ['The bearer token has expired', 'paste a fresh one under Settings.'],
  insufficient_scope: ['Your token does not allow this', 'ask for access to the API, then paste the new token under Settings.'],
  read_only_token: ['This token can only watch a job', 'paste your own bearer token under Settings.'],
  dependency_unavailable: ['The service is briefly unavailable', 'try again in a few seconds.'],
  internal_error: ['Something went wrong on the server', 'try once more; if it happens again, report the reference below.'],
  upload_failed: ['The upload did not go through', 'check your connection and try again.'],
  upload_cancelled: ['The upload was cancelled', 'start it again.'],
  stream_closed: ['Live updates stopped', 'reload the page; the job goes on without it.'],
};

// CamelCase words ending like a class of exceptions (PdfStreamError, KeyError, ...), or a
// dotted module path: never shown to a person.
const INTERNAL = /\b(?:[A-Z][a-z0-9]+){1,}(?:Error|Exception|Warning)\b|\b[a-z_]+\.[a-z_]+\.[A-Za-z_]+\b/;

// {title, advice}: advice may be empty (a code this table does not know).
export function describeError(code, serverMessage) {
  const known = code && MESSAGES[code];
  if (known) return { title: known[0], advice: known[1] };
  const text = String(serverMessage || '').trim();
  if (!text || INTERNAL.test(text)) return { title: 'Something went wrong', advice: 'try again.' };
  return { title: text.charAt(0).toUpperCase() + text.slice(1), advice: '' };
}

// One line: "Title: advice" (or just the title).
export function errorText(code, serverMessage) {
  const { title, advice } = describeError(code, serverMessage);
  return advice ? `${title}: ${advice}` : title;
}
