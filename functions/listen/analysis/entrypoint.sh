#!/bin/sh
# Copy the numba cache the image build filled to the only writable place, then run the handler.
mkdir -p "${NUMBA_CACHE_DIR:-/tmp/numba-cache}"
cp -R /opt/numba-cache/. "${NUMBA_CACHE_DIR:-/tmp/numba-cache}/" 2>/dev/null || true
exec python -m awslambdaric "$@"
