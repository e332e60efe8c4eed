"""Upload a file through a presigned URL with azure-storage-blob, then enqueue a job for it.

    JOBSTREAM_API=http://127.0.0.1:7071/api/v1 [JOBSTREAM_TOKEN=<JWT>] \\
        python upload_azure_storage_blob.py cv.pdf [resume-analysis analyze-resume]

Prints the enqueue answer (`jobId`, `streamToken`, ...) as JSON. The SDK stores
`application/octet-stream` unless it is given the type in `content_settings`, and enqueue
answers 415 for that: the type from the presign answer goes there.
"""

import json
import os
import sys
import uuid
from pathlib import Path

import httpx
from azure.storage.blob import BlobClient, ContentSettings

API = os.environ.get("JOBSTREAM_API", "http://127.0.0.1:7071/api/v1")
TOKEN = os.environ.get("JOBSTREAM_TOKEN")  # none with the local stack's AUTH_MODE=none


def upload_and_enqueue(path: Path, queue: str, job: str) -> dict[str, object]:
    auth = {"Authorization": f"Bearer {TOKEN}"} if TOKEN else {}
    data = path.read_bytes()
    with httpx.Client(timeout=30) as http:
        # The content type is taken from the extension (.pdf, .docx, .txt, .md) when not sent.
        presigned = http.post(
            f"{API}/upload/presigned-url",
            json={"fileName": path.name, "size": len(data)},
            headers=auth,
        )
        presigned.raise_for_status()
        upload = presigned.json()["data"]
        blob = BlobClient.from_blob_url(upload["uploadUrl"])
        with blob:
            blob.upload_blob(
                data,
                blob_type="BlockBlob",
                content_settings=ContentSettings(content_type=upload["headers"]["Content-Type"]),
            )
        enqueued = http.post(
            f"{API}/jobs",
            json={
                "queueName": queue,
                "jobName": job,
                "data": {"blobName": upload["blobName"], "fileName": path.name},
            },
            headers={**auth, "Idempotency-Key": str(uuid.uuid4())},  # safe to replay
        )
        if enqueued.status_code != 202:
            sys.exit(f"enqueue refused: {enqueued.status_code} {enqueued.text}")
        accepted: dict[str, object] = enqueued.json()["data"]
        return accepted


if __name__ == "__main__":
    queue, job = sys.argv[2:4] if len(sys.argv) >= 4 else ("resume-analysis", "analyze-resume")
    print(json.dumps(upload_and_enqueue(Path(sys.argv[1]), queue, job)))
