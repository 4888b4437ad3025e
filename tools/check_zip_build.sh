#!/usr/bin/env bash
# Build every zip function of template.yaml with `sam build` (the template's Python, 3.13, must be
# on PATH) and import each built handler with only the build's artifacts (the function and the
# Common layer) on the path: the deployable zips work, not just the source tree. Container-image
# functions (Render, TranscodeTrack) need Docker and are not built here.
#   PATH=/path/to/python3.13/bin:$PATH tools/check_zip_build.sh
set -euo pipefail
cd "$(dirname "$0")/.."
SAM=${SAM:-.venv-tools/bin/sam}
command -v python3.13 >/dev/null || { echo "python3.13 is not on PATH (the template's runtime)"; exit 2; }
export SAM_CLI_TELEMETRY=0
functions=$(.venv/bin/python -c "
from pathlib import Path
from local_stack import template
t = template.load(Path('.'), region='us-east-1')
print(' '.join(n for n, f in t.functions.items() if (f.code_dir / 'Dockerfile').exists() is False))")
for fn in $functions; do
  "$SAM" build --cached "$fn" >/dev/null
  env TABLE_NAME=t BUCKET_NAME=b AWS_REGION=us-east-1 STATE_MACHINE_ARN=arn:aws:states:us-east-1:0:stateMachine:x \
      TRACKS_TABLE_NAME=tt USERS_TABLE_NAME=u QUOTAS_TABLE_NAME=q TRACK_STATE_MACHINE_ARN=arn:aws:states:us-east-1:0:stateMachine:y \
      TRANSCRIPTIONS_TABLE_NAME=tr SONGS_TABLE_NAME=s BLENDS_TABLE_NAME=bl MAPS_TABLE_NAME=m FINGERPRINTS_TABLE_NAME=f \
      COMMUNITY_TABLE_NAME=c NOTIFICATIONS_TABLE_NAME=n BILLING_TABLE_NAME=bt \
      LISTEN_STATE_MACHINE_ARN=arn:aws:states:us-east-1:0:stateMachine:l BLEND_STATE_MACHINE_ARN=arn:aws:states:us-east-1:0:stateMachine:b \
      SONG_STATE_MACHINE_ARN=arn:aws:states:us-east-1:0:stateMachine:s MAP_STATE_MACHINE_ARN=arn:aws:states:us-east-1:0:stateMachine:m \
      TOKEN_ISSUER=https://cognito-idp.us-east-1.amazonaws.com/us-east-1_x TOKEN_AUDIENCE=client \
      POWERTOOLS_TRACE_DISABLED=true PYTHONNOUSERSITE=1 \
      PYTHONPATH=".aws-sam/build/$fn:.aws-sam/build/CommonLayer/python" \
      python3.13 -c "import app, sys; print('$fn: built and imported under Python', sys.version.split()[0])"
done
