"""One adapter per Azure service, behind the Protocols in `function_app.ports`.

- `blob_uploads.BlobUploads`: the uploads container (UploadSigner, UploadStore)
- `table_storage.TableStorage`: the jobs table (EventLog, IdempotencyKeys, SecretStore: one
  module per port over the shared `table_storage.rows` toolkit)
- `servicebus_queue.ServiceBusJobQueue`: the job queues (JobQueue)
- `queue_stats`: queue runtime counts (QueueStats), Azure or the local emulator
- `factory.Adapters`: builds them all from `Settings`, lazily, once

SDK types and exceptions stop here; callers see the ports' types and the domain's errors.
"""
