"""CompleteBlend: records the rendering (the Render function wrote the WAV and MP3 where Compose asked)
and marks the blend COMPLETE; removes the work file. A blend that stopped meanwhile (deleted, or
failed elsewhere) has what this run wrote removed instead."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from soundcanvas.blend import blends
from soundcanvas.blend.steps import STOPPED, BlendRuntime
from soundcanvas.core.errors import BlendNotFound
from soundcanvas.core.steps import transient_aws_errors

logger = Logger()
metrics = Metrics()
runtime = BlendRuntime.from_env()


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    blend, composed, rendered = event["blend"], event["composed"], event["rendered"]
    user_id, blend_id = str(blend["userId"]), str(blend["blendId"])
    logger.append_keys(blend_id=blend_id)
    outputs = {"midiKey": composed["midiKey"], "audioKey": rendered["audioKey"], "mp3Key": rendered["previewKey"]}
    with transient_aws_errors():
        done = runtime.blends.advance(user_id, blend_id, finished="render", elapsed_ms=int(rendered.get("elapsedMs", 0)),
                                      next_stage="done", outputs=outputs,
                                      summary={"peakDbfs": rendered.get("peakDbfs"), "rmsDbfs": rendered.get("rmsDbfs")})
        record = runtime.blends.get(user_id, blend_id)
        if not done and (record is None or record["status"] != blends.COMPLETE):
            runtime.discard(*outputs.values(), blends.work_key(user_id, blend_id, "prepared.json"))
            raise BlendNotFound(STOPPED)
        runtime.discard(blends.work_key(user_id, blend_id, "prepared.json"))
    metrics.add_metric(name="BlendsCompleted", unit=MetricUnit.Count, value=1)
    logger.info("blend complete")
    return {"status": blends.COMPLETE}
