#!/usr/bin/env bash
# Posts the events in the dead-letter queue back to the receiver, once the cause of their failure is fixed.
# A dead-letter message's body is the EventBridge event itself; each is posted with examples/send.sh (the same
# request EventBridge makes). Posting an event the receiver already has is harmless: it answers "duplicate".
#
# Usage:
#   examples/redrive-dlq.sh <queue-url>      receive from SQS with the aws CLI (the stack's DeadLetterQueueUrl
#                                            output) and delete each message only after the receiver answered 2xx
#   examples/redrive-dlq.sh --file <file>    read messages from a file ('-': standard input) in the shape
#                                            `aws sqs receive-message --output json` prints; nothing is deleted
#
# Environment: API_KEY (required), RECEIVER_URL and API_KEY_HEADER as for send.sh; the aws CLI's own
# (AWS_PROFILE, AWS_REGION, ...) in the SQS mode. VISIBILITY_TIMEOUT (default 300 s): how long a received
# message stays hidden from other consumers while this script posts it.
#
# Prints one line per message and a summary; exits 0 when every message was delivered, 1 when any was not
# (those stay in the queue), 2 on a usage error.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
usage() { sed -n '5,10p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2; }

mode=sqs
case "${1:-}" in
  '' | -h | --help) usage ;;
  --file) [ $# -eq 2 ] || usage; mode=file; source_=$2 ;;
  -*) usage ;;
  *) [ $# -eq 1 ] || usage; queue_url=$1 ;;
esac
if [ -z "${API_KEY:-}" ]; then
  echo "redrive-dlq.sh: API_KEY is not set; export one of the receiver's API_KEYS" >&2
  exit 2
fi
if [ "$mode" = sqs ] && ! command -v aws >/dev/null 2>&1; then
  echo "redrive-dlq.sh: the aws CLI is not installed (or use --file with saved messages)" >&2
  exit 2
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
delivered=0 failed=0

# Splits one receive-message answer into $work/<n>.{id,body,handle,error}; prints how many messages it held.
split_messages() {
  rm -f "$work"/*.id "$work"/*.body "$work"/*.handle "$work"/*.error
  node -e '
    const fs = require("fs")
    const dir = process.argv[1]
    const text = fs.readFileSync(0, "utf8").trim()
    let messages = []
    if (text !== "") {
      let parsed
      try { parsed = JSON.parse(text) } catch { parsed = undefined }
      if (parsed === null || typeof parsed !== "object" || !("Messages" in parsed ? Array.isArray(parsed.Messages) : true)) {
        console.error("redrive-dlq.sh: not the output of aws sqs receive-message --output json")
        process.exit(2)
      }
      messages = parsed.Messages ?? []
    }
    messages.forEach((m, i) => {
      if (typeof m.Body !== "string") { console.error(`redrive-dlq.sh: message ${i + 1} has no Body`); process.exit(2) }
      fs.writeFileSync(`${dir}/${i}.id`, String(m.MessageId ?? i + 1))
      fs.writeFileSync(`${dir}/${i}.body`, m.Body)
      fs.writeFileSync(`${dir}/${i}.handle`, String(m.ReceiptHandle ?? ""))
      fs.writeFileSync(`${dir}/${i}.error`, String(m.MessageAttributes?.ERROR_MESSAGE?.StringValue ?? ""))
    })
    console.log(messages.length)
  ' "$work"
}

# Posts message n; deletes it from the queue only after a 2xx when delete=yes.
redrive() {
  local n=$1 delete=$2 id error answer
  id=$(cat "$work/$n.id")
  error=$(cat "$work/$n.error")
  if answer=$("$here/send.sh" "$work/$n.body" 2>&1); then
    if [ "$delete" = yes ]; then
      aws sqs delete-message --queue-url "$queue_url" --receipt-handle "$(cat "$work/$n.handle")"
    fi
    delivered=$((delivered + 1))
    echo "delivered $id: $(tr '\n' ' ' <<<"$answer")"
  else
    failed=$((failed + 1))
    echo "NOT delivered $id${error:+ (it failed with: $error)}: $(tr '\n' ' ' <<<"$answer")"
  fi
}

if [ "$mode" = file ]; then
  if [ "$source_" = - ]; then count=$(split_messages); else
    [ -r "$source_" ] || { echo "redrive-dlq.sh: cannot read $source_" >&2; exit 2; }
    count=$(split_messages <"$source_")
  fi
  for ((n = 0; n < count; n++)); do redrive "$n" no; done
else
  # Received messages stay hidden for VISIBILITY_TIMEOUT; one that comes back within this run was not delivered
  # before (it is not deleted), so meeting an id again ends the run instead of posting it in a loop.
  seen="$work/seen"
  : >"$seen"
  while :; do
    answer=$(aws sqs receive-message --queue-url "$queue_url" --max-number-of-messages 10 --wait-time-seconds 1 \
      --visibility-timeout "${VISIBILITY_TIMEOUT:-300}" --message-attribute-names All --output json)
    count=$(split_messages <<<"$answer")
    [ "$count" -gt 0 ] || break
    again=0
    for ((n = 0; n < count; n++)); do
      if grep -qxF "$(cat "$work/$n.id")" "$seen"; then again=1; continue; fi
      cat "$work/$n.id" >>"$seen"; echo >>"$seen"
      redrive "$n" yes
    done
    [ "$again" -eq 0 ] || break
  done
fi

echo "$delivered delivered, $failed not delivered"
[ "$failed" -eq 0 ]
