# The queue topology: the queues, the app setting naming each, the properties every queue gets.
# Written once, in function_app/queues.json, which the app, devstack and the Bicep stack read
# too (loadJsonContent); nothing here names a queue.
locals {
  topology         = jsondecode(file("${path.module}/../../function_app/queues.json"))
  queue_names      = [for queue in local.topology.queues : queue.name]
  queue_properties = local.topology.queueProperties
  # Each queue's app setting names it: the triggers bind `%SETTING%`, so the host needs them.
  queue_settings = { for queue in local.topology.queues : queue.setting => queue.name }
}
