// The standard OpenTelemetry variables Gavel honours for tracing, read as the OpenTelemetry
// specification documents them (they are not GAVEL_* settings): an OTLP endpoint turns tracing
// on; unset, tracing is off and its packages are never loaded.

import { ConfigError } from "./errors.ts";

/** Where spans go and what they are labelled with; null in Config when tracing is off. */
export interface OtelTracing {
  /** The full OTLP/HTTP traces URL (…/v1/traces). */
  readonly tracesUrl: string;
  /** OTEL_SERVICE_NAME: the `service.name` resource attribute. */
  readonly serviceName: string;
}

export const OtelVariable = {
  ENDPOINT: "OTEL_EXPORTER_OTLP_ENDPOINT",
  TRACES_ENDPOINT: "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
  PROTOCOL: "OTEL_EXPORTER_OTLP_PROTOCOL",
  TRACES_PROTOCOL: "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
  SERVICE_NAME: "OTEL_SERVICE_NAME",
  SDK_DISABLED: "OTEL_SDK_DISABLED",
} as const;

export const DEFAULT_SERVICE_NAME = "gavel";
/** The specification's path under a base OTEL_EXPORTER_OTLP_ENDPOINT for traces. */
const TRACES_PATH = "v1/traces";
/** The one OTLP encoding Gavel's exporter sends (OTLP/HTTP with JSON bodies). */
const SUPPORTED_PROTOCOL = "http/json";

type Source = Record<string, string | undefined>;

function setting(source: Source, name: string): string {
  return source[name]?.trim() ?? "";
}

function httpUrl(name: string, text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new ConfigError(name, `is not a URL: "${text}"`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new ConfigError(name, `must be an http:// or https:// URL (OTLP/HTTP), got ${url.protocol}`);
  return url;
}

/**
 * Tracing from the OTEL_* variables, or null when no endpoint is set (or OTEL_SDK_DISABLED=true).
 * A traces endpoint is used as given; a base endpoint gets `v1/traces` appended, as the
 * specification says. A protocol other than http/json stops start-up: the exporter would
 * otherwise send JSON to a port that expects protobuf or gRPC, and every span would be lost.
 * @example
 * otelTracing({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318" });
 * // { tracesUrl: "http://collector:4318/v1/traces", serviceName: "gavel" }
 */
export function otelTracing(source: Source): OtelTracing | null {
  if (setting(source, OtelVariable.SDK_DISABLED).toLowerCase() === "true") return null;
  const traces = setting(source, OtelVariable.TRACES_ENDPOINT);
  const base = setting(source, OtelVariable.ENDPOINT);
  if (traces === "" && base === "") return null;
  for (const name of [OtelVariable.TRACES_PROTOCOL, OtelVariable.PROTOCOL]) {
    const protocol = setting(source, name);
    if (protocol !== "" && protocol !== SUPPORTED_PROTOCOL) {
      throw new ConfigError(name, `Gavel exports traces as ${SUPPORTED_PROTOCOL} only (OTLP/HTTP with JSON bodies), got "${protocol}"`);
    }
    // The signal-specific variable wins over the general one.
    if (protocol !== "") break;
  }
  let tracesUrl: string;
  if (traces !== "") tracesUrl = httpUrl(OtelVariable.TRACES_ENDPOINT, traces).href;
  else {
    const url = httpUrl(OtelVariable.ENDPOINT, base);
    if (!url.pathname.endsWith("/")) url.pathname += "/";
    url.pathname += TRACES_PATH;
    tracesUrl = url.href;
  }
  return { tracesUrl, serviceName: setting(source, OtelVariable.SERVICE_NAME) || DEFAULT_SERVICE_NAME };
}
