#!/usr/bin/env bash
# Posts one EventBridge event to the receiver the way an EventBridge API destination does.
#
# Usage: examples/send.sh [file.json]      (default: examples/create_tenant.json)
#
# Environment:
#   API_KEY         required: one of the keys in the receiver's API_KEYS
#   RECEIVER_URL    default http://127.0.0.1:3000 (the event is posted to $RECEIVER_URL/events)
#   API_KEY_HEADER  default x-api-key (must match the receiver's API_KEY_HEADER)
#
# Prints the HTTP status and the response body; exits non-zero unless the status is 2xx.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
file=${1:-$here/create_tenant.json}
url=${RECEIVER_URL:-http://127.0.0.1:3000}
header=${API_KEY_HEADER:-x-api-key}

if [ -z "${API_KEY:-}" ]; then
  echo "send.sh: API_KEY is not set; export one of the receiver's API_KEYS (or the key it logged at start)" >&2
  exit 2
fi
if [ ! -r "$file" ]; then
  echo "send.sh: cannot read $file" >&2
  exit 2
fi

body=$(mktemp)
trap 'rm -f "$body"' EXIT

# The headers go through stdin (-H @-) so that the key does not appear in the process list.
status=$(printf '%s: %s\n' "$header" "$API_KEY" | curl --silent --show-error \
  --request POST "${url%/}/events" \
  --header @- \
  --header 'Content-Type: application/json; charset=utf-8' \
  --header 'User-Agent: Amazon/EventBridge/ApiDestinations' \
  --header 'Connection: close' \
  --header 'Range: bytes=0-1048575' \
  --data-binary "@$file" \
  --output "$body" \
  --write-out '%{http_code}') || {
  echo "send.sh: request to ${url%/}/events failed (is the receiver running?)" >&2
  exit 1
}

echo "HTTP $status"
cat "$body"
echo

case "$status" in
  2??) exit 0 ;;
  *) exit 1 ;;
esac
