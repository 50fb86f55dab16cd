"""``import tokentrail.auto``: trace every anthropic SDK call of this process.

Sets up an OpenTelemetry TracerProvider exporting OTLP/HTTP to
``OTEL_EXPORTER_OTLP_ENDPOINT`` (default ``http://127.0.0.1:4318``, where ``tokentrail
serve`` listens) unless the application already configured one, then instruments the
SDK. ``OTEL_SDK_DISABLED=true`` or ``TOKENTRAIL_DISABLED=1`` turn it off.
"""

from tokentrail.instrumentation.setup import enable

instrumentor = enable()
