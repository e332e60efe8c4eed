"""Terminal client: upload a file, start a job, follow its progress live.

Run it as `python -m jobstream_client FILE --api http://127.0.0.1:7071/api/v1`.
"""
