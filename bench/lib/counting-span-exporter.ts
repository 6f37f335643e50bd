// The bench's in-memory span exporter: counts what the BatchSpanProcessor hands it and
// keeps nothing, so a long phase does not grow the heap (sdk-trace's InMemorySpanExporter
// keeps every span) while the API still pays for creating, redacting and batching them.
import type { ExportResult } from '@opentelemetry/core';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace';

export class CountingSpanExporter implements SpanExporter {
  spans = 0;
  export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    this.spans += spans.length;
    done({ code: 0 });
  }
  async shutdown(): Promise<void> {}
}
