"""MLflow's names of span attributes, trace metadata and tags (``mlflow.*``)."""

from __future__ import annotations

SPAN_TYPE = "mlflow.spanType"
SPAN_INPUTS = "mlflow.spanInputs"
SPAN_OUTPUTS = "mlflow.spanOutputs"
SPAN_FUNCTION_NAME = "mlflow.spanFunctionName"
TRACE_REQUEST_ID = "mlflow.traceRequestId"
CHAT_USAGE = "mlflow.chat.tokenUsage"
LLM_COST = "mlflow.llm.cost"
TRACE_TOKEN_USAGE = "mlflow.trace.tokenUsage"
TRACE_COST = "mlflow.trace.cost"
SOURCE_RUN = "mlflow.sourceRun"
TRACE_INPUTS = "mlflow.traceInputs"
TRACE_OUTPUTS = "mlflow.traceOutputs"
TRACE_NAME_TAG = "mlflow.traceName"
PREVIEW_CHARS = 1_000
