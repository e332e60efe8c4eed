#!/usr/bin/env bash
# Follow one job's stream to its end with `curl -N` and jq, resuming across reconnects.
#
#   JOBSTREAM_API=http://127.0.0.1:7071/api/v1 JOB_ID=... STREAM_TOKEN=... bash follow-curl.sh
#
# Prints each `job_update` as one JSON line. Exit 0: completed (or already finished and seen),
# 1: failed or cancelled, 2: refused (401 token_expired, 404, ...).
# `curl -N` prints the stream as it comes and exits when the server closes it; it neither
# parses events nor reconnects: this loop keeps the last `id:`, reconnects with
# `Last-Event-ID` after the `timeout` close, and reads the status line for 204, 401 and 429.
set -euo pipefail
shopt -s lastpipe # the `while read` below runs in this shell: its variables survive the pipe

api=${JOBSTREAM_API:-http://127.0.0.1:7071/api/v1}
last_id=${LAST_EVENT_ID:-}
retry_ms=2000
headers=$(mktemp)
trap 'rm -f "$headers"' EXIT

while true; do
  ended=""
  event="" id="" data=""
  : >"$headers"
  curl -sS -N -D "$headers" -H "Authorization: Bearer $STREAM_TOKEN" \
    ${last_id:+-H "Last-Event-ID: $last_id"} "$api/jobs/$JOB_ID/stream" |
    while IFS= read -r line; do
      line=${line%$'\r'}
      case $line in
        "event: "*) event=${line#event: } ;;
        "id: "*) id=${line#id: } ;;
        "retry: "*) retry_ms=${line#retry: } ;;
        "data: "*) data=${line#data: } ;;
        "") # the end of one event
          if [[ $event == job_update ]]; then
            last_id=$id
            echo "$data"
            status=$(jq -r .status <<<"$data")
            case $status in completed | failed | cancelled) ended=$status ;; esac
          elif [[ $event == timeout ]]; then
            echo "stream timed out at $last_id: resuming" >&2
          fi
          event="" id="" data=""
          ;;
      esac
    done || true # a network failure: see below
  case $ended in completed) exit 0 ;; failed | cancelled) exit 1 ;; esac
  code=$(awk 'NR == 1 { print $2 }' "$headers")
  case $code in
    200) sleep "$((retry_ms / 1000)).$(printf '%03d' $((retry_ms % 1000)))" ;; # closed: resume
    204) echo "the job has finished: nothing more to read" >&2; exit 0 ;;
    429)
      wait=$(awk 'tolower($1) == "retry-after:" { print $2 + 0 }' "$headers")
      echo "throttled: retrying in ${wait:-5} s" >&2
      sleep "${wait:-5}"
      ;;
    "") sleep 2 ;; # no answer at all (network): try again
    *) echo "refused: $code" >&2; exit 2 ;;
  esac
done
