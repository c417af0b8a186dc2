#!/bin/sh
# The demo's health check: exit 0 when the product answers. relbot retries it with backoff.
test -s "deployed/$1" && echo "$1 $(cat "deployed/$1"): /healthz 200 OK"
