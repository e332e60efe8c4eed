"""Sample files generated at test time (no binary blobs in the repo) and job-type test helpers."""
