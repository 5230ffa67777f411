#!/usr/bin/env bash
# The web console: install the locked npm packages, lint, type-check and build it into
# chaoshub/static/ (served by the hub at /). Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/../../frontend"
npm ci --no-audit --no-fund
npm run lint
npm run typecheck
npm run build
