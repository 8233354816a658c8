// Secrets out of text meant for people: the start-up line, logs, error messages and answers.
// Every place that prints a setting or an error that may hold one passes it through redact().

/** Shown in place of a secret. */
export const REDACTED = "***";

/** A whole URL with an authority (`scheme://...`): parsed, so any password in it is found. */
const SCHEME_AUTHORITY = /^[a-z][a-z0-9+.-]*:\/\//i;
/** A query key that holds a password: ioredis takes `?password=` (and more) from the URL. */
const PASSWORD_KEY = /password/i;
/**
 * In free text, a URL's user info: after `//`, up to the last `@` before the host ends (a
 * password may hold a raw `@`; the WHATWG parser that ioredis uses splits at the last one too).
 */
const URL_USER_INFO = /\/\/([^\s"'/?#]*)@/g;
/** `user:password@host` without a scheme, e.g. a REDIS_URL someone wrote without `redis://`. */
const BARE_USER_INFO = /(^|[\s"'(<=,])([^\s"'/?#@:]*):([^\s"'/?#]+)@/g;
/** `?password=` or `&sentinelPassword=` in free text. */
const QUERY_PASSWORD = /([?&][^\s"'=&#]*password=)[^\s"'&#]*/gi;

/**
 * The text with every password it holds replaced by {@link REDACTED}: in `scheme://user:pass@`
 * (the user name is kept), `scheme://secret@` (older clients read a lone user info as the
 * password, so all of it goes), `user:pass@host`, and `password=` query items. A text that is
 * one whole URL is parsed, so even a password with spaces in it is found; in longer text a
 * password ends at white space or a quote.
 * @example
 * redact("redis://app:hunter2@cache:6379/0"); // "redis://app:***@cache:6379/0"
 * redact("rediss://cache:6380?password=hunter2"); // "rediss://cache:6380?password=***"
 * redact("cannot reach :hunter2@cache:6379"); // "cannot reach :***@cache:6379"
 */
export function redact(text: string): string {
  const url = wholeUrl(text);
  return url === null ? redactInText(text) : redactUrl(url);
}

function wholeUrl(text: string): URL | null {
  if (!SCHEME_AUTHORITY.test(text)) return null;
  try {
    return new URL(text);
  } catch {
    return null;
  }
}

function redactUrl(url: URL): string {
  if (url.password !== "") url.password = REDACTED;
  else if (url.username !== "") url.username = REDACTED;
  for (const key of [...url.searchParams.keys()]) {
    if (PASSWORD_KEY.test(key)) url.searchParams.set(key, REDACTED);
  }
  return url.href;
}

function redactInText(text: string): string {
  return text
    .replace(URL_USER_INFO, (_match, userInfo: string) => {
      const colon = userInfo.indexOf(":");
      return colon === -1 ? `//${REDACTED}@` : `//${userInfo.slice(0, colon)}:${REDACTED}@`;
    })
    .replace(BARE_USER_INFO, (_match, before: string, user: string) => `${before}${user}:${REDACTED}@`)
    .replace(QUERY_PASSWORD, `$1${REDACTED}`);
}
