/**
 * Durations as the user writes them and as messages print them: a leaf (imports nothing of src), so that every layer
 * words a limit the same way — the engine's "timed out after 1.5s", the CLI's flag errors, an executor's `timeout`
 * argument on a node. Units as Go's time.ParseDuration takes them (kubectl's --request-timeout is one): ns, us (µs,
 * μs), ms, s, m, h, each with an optional decimal fraction ("1.5s", "2m30s", "0.4ms").
 */

const UNIT_NS: Record<string, bigint> = { ns: 1n, us: 1000n, 'µs': 1000n, 'μs': 1000n, ms: 1_000_000n, s: 1_000_000_000n, m: 60_000_000_000n, h: 3_600_000_000_000n };

/**
 * Go's time.ParseDuration (src/time/format.go), to the letter: `[-+]?([0-9]*(\.[0-9]*)?[a-z]+)+`, units ns, us (µs,
 * μs), ms, s, m, h, "0" alone without a unit; a sign is taken (a negative duration is a value); nothing around it
 * (no spaces). Its value in whole nanoseconds (a fraction finer than a nanosecond dropped), or Go's error words:
 * `time: invalid duration "abc"` (also for a value beyond ±2^63 ns, as Go's overflow), `time: missing unit in
 * duration "1.5"`, `time: unknown unit "x" in duration "5x"`. Pure.
 */
export function goParseDuration(orig: string): { ns: bigint } | { error: string } {
  const q = (t: string) => JSON.stringify(t);
  const invalid = { error: `time: invalid duration ${q(orig)}` };
  const neg = orig.startsWith('-');
  let s = /^[-+]/.test(orig) ? orig.slice(1) : orig;
  if (s === '0') return { ns: 0n };
  if (s === '') return invalid;
  const max = 2n ** 63n;
  let d = 0n;
  while (s !== '') {
    if (!/^[0-9.]/.test(s)) return invalid;
    const num = /^(\d*)(?:\.(\d*))?/.exec(s)!;
    const [whole, frac] = [num[1]!, num[2] ?? ''];
    if (whole === '' && frac === '') return invalid;
    // Go's leadingInt: more than 2^63 before the point is an error of its own
    if (whole !== '' && BigInt(whole) > max) return invalid;
    s = s.slice(num[0].length);
    const unitText = /^[^0-9.]*/.exec(s)![0];
    if (unitText === '') return { error: `time: missing unit in duration ${q(orig)}` };
    const unit = UNIT_NS[unitText];
    if (unit === undefined) return { error: `time: unknown unit ${q(unitText)} in duration ${q(orig)}` };
    s = s.slice(unitText.length);
    const v = (whole === '' ? 0n : BigInt(whole)) * unit + (frac ? (BigInt(frac) * unit) / 10n ** BigInt(frac.length) : 0n);
    d += v;
    if (v > max || d > max) return invalid;
  }
  if (!neg && d > max - 1n) return invalid;
  return { ns: neg ? -d : d };
}

/**
 * What Go's time.ParseDuration says of text when it cannot parse it — the words pflag prints for a duration flag
 * (`invalid argument "5x" for "--timeout" flag: time: unknown unit "x" in duration "5x"`): goParseDuration's error.
 * undefined when Go would parse it (which durationNs may still refuse: a sign, a fraction without a leading digit; a
 * bare number, which Go refuses with "missing unit", is taken here as seconds, so its error is never asked for).
 */
export function goDurationError(orig: string): string | undefined {
  const d = goParseDuration(orig);
  return 'error' in d ? d.error : undefined;
}

/** n / unit as a decimal without trailing zeros ("1.5", "400", "0.0015"); n and unit whole numbers. */
function decimal(n: number, unit: number): string {
  const whole = Math.floor(n / unit);
  const rest = n - whole * unit;
  if (rest === 0) return String(whole);
  const digits = String(unit).length - 1;
  return `${whole}.${String(rest).padStart(digits, '0').replace(/0+$/, '')}`;
}

/**
 * A duration of `ms` milliseconds (a fraction allowed: 0.4 is 400 µs) as Go prints one, without its zero parts:
 * "400µs", "1.5ms", "500ms", "1.5s", "2m30s", "1h", "1h0m5s" is "1h5s". Exact to the nanosecond: what the user gave,
 * or an exact equivalent ("90s" prints as "1m30s"), never rounded to 0; zero is "0s", as Go prints it.
 */
export function formatDuration(ms: number): string {
  const ns = Math.round(ms * 1e6);
  // Go's time.Duration.String: "0s" for zero (not "0ns")
  if (ns === 0) return '0s';
  if (ns < 1000) return `${ns}ns`;
  if (ns < 1e6) return `${decimal(ns, 1000)}µs`;
  if (ns < 1e9) return `${decimal(ns, 1e6)}ms`;
  const h = Math.floor(ns / 3600e9);
  const m = Math.floor((ns - h * 3600e9) / 60e9);
  const s = ns - h * 3600e9 - m * 60e9;
  return `${h ? `${h}h` : ''}${m ? `${m}m` : ''}${s ? `${decimal(s, 1e9)}s` : ''}`;
}

/** `ms` milliseconds as decimal seconds, exactly ("0.0015" for 1.5 ms): for a command that takes seconds (timeout(1)). */
export function decimalSeconds(ms: number): string {
  return decimal(Math.round(ms * 1e6), 1e9);
}

/** How long a command has run, to the second ("0s", "42s", "3m12s", "2h5m"): a reader's words, not a tick count. */
export function runningFor(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (h) return `${h}h${m}m`;
  return m ? `${m}m${s % 60}s` : `${s}s`;
}

/** An ISO time to the second, as every message prints one ("2026-12-02T19:10:29Z"); `at`: ms since the epoch, or a Date. */
export function isoSecond(at: number | Date): string {
  return new Date(at).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** An ISO 8601 UTC time to the second, rounded up (a bound that must not come before the moment it says). */
export function isoSecondUp(ms: number): string {
  return isoSecond(Math.ceil(ms / 1000) * 1000);
}
