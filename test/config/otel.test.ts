// The OTEL_* variables that turn tracing on, and GAVEL_TRACE_SAMPLE, as start-up reads them.

import { describe, expect, test } from "bun:test";
import { ConfigError, loadConfig } from "../../src/config.ts";
import { otelTracing } from "../../src/config/otel.ts";

describe("OTEL_* variables", () => {
  test("unset (or OTEL_SDK_DISABLED=true): tracing is off", () => {
    expect(otelTracing({})).toBeNull();
    expect(otelTracing({ OTEL_EXPORTER_OTLP_ENDPOINT: "" })).toBeNull();
    expect(otelTracing({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318", OTEL_SDK_DISABLED: "true" })).toBeNull();
    expect(loadConfig({ GAVEL_STORE: "memory" }).tracing).toBeNull();
  });

  test("a base endpoint gets v1/traces appended; a traces endpoint is used as given and wins", () => {
    expect(otelTracing({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318" })).toEqual({ tracesUrl: "http://collector:4318/v1/traces", serviceName: "gavel" });
    expect(otelTracing({ OTEL_EXPORTER_OTLP_ENDPOINT: "https://otel.example/prefix/" })!.tracesUrl).toBe("https://otel.example/prefix/v1/traces");
    expect(
      otelTracing({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://a:4318", OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "http://b:4318/custom", OTEL_SERVICE_NAME: "gavel-eu" }),
    ).toEqual({ tracesUrl: "http://b:4318/custom", serviceName: "gavel-eu" });
  });

  test("a bad endpoint or a protocol other than http/json stops start-up, naming the variable", () => {
    expect(() => loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: "collector:4318" })).toThrow(ConfigError);
    expect(() => loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: "not a url" })).toThrow("OTEL_EXPORTER_OTLP_ENDPOINT: is not a URL");
    expect(() => loadConfig({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "grpc://collector:4317" })).toThrow("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: must be an http:// or https:// URL");
    expect(() => loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4317", OTEL_EXPORTER_OTLP_PROTOCOL: "grpc" })).toThrow("OTEL_EXPORTER_OTLP_PROTOCOL: Gavel exports traces as http/json only");
    // The signal's own protocol wins over the general one.
    expect(otelTracing({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318", OTEL_EXPORTER_OTLP_PROTOCOL: "http/protobuf", OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: "http/json" })).not.toBeNull();
    // No endpoint: the protocol is not looked at (tracing is off).
    expect(otelTracing({ OTEL_EXPORTER_OTLP_PROTOCOL: "grpc" })).toBeNull();
  });
});

describe("GAVEL_TRACE_SAMPLE", () => {
  test("a ratio from 0 to 1, 0.01 by default; anything else stops start-up", () => {
    expect(loadConfig({}).traceSample).toBe(0.01);
    expect(loadConfig({ GAVEL_TRACE_SAMPLE: "0.25" }).traceSample).toBe(0.25);
    expect(loadConfig({}, ["--trace-sample", "1"]).traceSample).toBe(1);
    expect(loadConfig({ GAVEL_TRACE_SAMPLE: "0" }).traceSample).toBe(0);
    expect(loadConfig({ GAVEL_TRACE_SAMPLE: ".5" }).traceSample).toBe(0.5);
    expect(() => loadConfig({ GAVEL_TRACE_SAMPLE: "1.5" })).toThrow("GAVEL_TRACE_SAMPLE: must be between 0 and 1, got 1.5");
    expect(() => loadConfig({ GAVEL_TRACE_SAMPLE: "half" })).toThrow('GAVEL_TRACE_SAMPLE: expected a number, got "half"');
    expect(() => loadConfig({ GAVEL_TRACE_SAMPLE: "-0.1" })).toThrow("GAVEL_TRACE_SAMPLE: expected a number");
    expect(() => loadConfig({ GAVEL_TRACE_SAMPLE: "1e-2" })).toThrow("GAVEL_TRACE_SAMPLE: expected a number");
  });
});
