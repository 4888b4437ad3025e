#!/usr/bin/env bash
# Build every zip function of template.yaml with `sam build` (the template's Python, 3.13, must be
# on PATH) and import each built handler with only the build's artifacts (the function and the
# Common layer) on the path: the deployable zips work, not just the source tree. Container-image
# functions (Render, TranscodeTrack, the Listen and Maps analysis) need Docker and are not built here.
# The artifacts are compiled to bytecode as `make build` does, and every module the import loads from the
# build must have its bytecode there (docs/performance.md#bytecode).
#   PATH=/path/to/python3.13/bin:$PATH tools/check_zip_build.sh
set -euo pipefail
cd "$(dirname "$0")/.."
SAM=${SAM:-.venv-tools/bin/sam}
command -v python3.13 >/dev/null || { echo "python3.13 is not on PATH (the template's runtime)"; exit 2; }
export SAM_CLI_TELEMETRY=0
# The template is read once: each zip function's environment, as the template sets it (the local stack's resolution
# of its references), one KEY=VALUE a line in a file named after the function.
environments=$(mktemp -d)
trap 'rm -rf "$environments"' EXIT
.venv/bin/python -c "
import sys
from pathlib import Path
from local_stack import template
for name, function in template.load(Path('.'), region='us-east-1').functions.items():
    if not (function.code_dir / 'Dockerfile').exists():
        (Path(sys.argv[1]) / name).write_text(''.join(f'{key}={value}\\n' for key, value in function.environment.items()))
" "$environments"
for path in "$environments"/*; do
  fn=$(basename "$path")
  PYTHONDONTWRITEBYTECODE= "$SAM" build --cached "$fn" >/dev/null  # sam's own modules keep their bytecode (Makefile)
  python3.13 -m compileall -q -j 0 --invalidation-mode unchecked-hash ".aws-sam/build/$fn" .aws-sam/build/CommonLayer
  environment=()
  while IFS= read -r line; do [ -n "$line" ] && environment+=("$line"); done <"$path"
  env "${environment[@]}" AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1 \
      POWERTOOLS_TRACE_DISABLED=true PYTHONNOUSERSITE=1 \
      PYTHONPATH=".aws-sam/build/$fn:.aws-sam/build/CommonLayer/python" \
      PYTHONDONTWRITEBYTECODE=1 python3.13 -c "
import importlib.util, os, sys
import app
built = os.path.abspath('.aws-sam/build')
sources = [os.path.abspath(m.__file__) for m in list(sys.modules.values()) if getattr(m, '__file__', None)]
sources = [f for f in sources if f.startswith(built) and f.endswith('.py')]
compiled = [f for f in sources if os.path.exists(importlib.util.cache_from_source(f))]
assert len(compiled) == len(sources), sorted(set(sources) - set(compiled))[:5]
print('$fn: built and imported under Python', sys.version.split()[0], '-', len(compiled), 'modules from bytecode')"
done
