#!/usr/bin/env bash
# The Gemini rows of cloud.sh (kept so the commands recorded in docs/benchmarks.md still run).
exec env UPSTREAM=gemini bash "$(dirname "$0")/cloud.sh" "$@"
