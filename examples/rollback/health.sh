#!/bin/sh
# Example health check: exit 0 when the product is healthy. relbot retries it with backoff.
echo "$1: /healthz 200 OK"
