/**
 * This host's processes: its name, this process, whether another process runs, signals. The one file that asks the OS
 * about processes (hostname(), /proc/PID/stat, process.kill); local.ts is the one that runs commands and touches files.
 */
// node:fs, not node:fs/promises: the CLI has loaded node:fs anyway, and `--help` need not load the other
import { readFile } from 'node:fs';
import { hostname } from 'node:os';
import type { LockOwner } from './lock.js';

/**
 * Start time of a process in clock ticks since boot (field 22 of /proc/PID/stat), or undefined if it is gone. With
 * the pid it names a process for good: a pid reused later has another start time. A process that has exited but not
 * been reaped yet (state Z, a zombie: its parent — a container's init that reaps nothing, say — has not waited for
 * it; X, being reaped) is gone: it holds nothing and runs nothing any more (proc(5)).
 */
function processStart(pid: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    readFile(`/proc/${pid}/stat`, 'utf8', (err, stat) => {
      if (err) return resolve(undefined);
      // the command name (field 2) may contain spaces and parentheses: split after the last ')'
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      resolve(fields[0] === 'Z' || fields[0] === 'X' ? undefined : fields[19]);
    });
  });
}

/**
 * The kernel's USER_HZ: the unit of /proc/PID/stat's start time (proc(5): "expressed in clock ticks (divide by
 * sysconf(_SC_CLK_TCK))"). It is 100 on every architecture Node runs on (include/asm-generic/param.h, which x86, arm,
 * arm64, powerpc, s390, riscv and mips use; only alpha's and ia64's differ), whatever the kernel's own HZ.
 */
const USER_HZ = 100;

/**
 * How long ago (ms) a process that began `start` clock ticks after boot began: this host's uptime (/proc/uptime, its
 * first field, seconds) less that start (USER_HZ ticks a second); undefined when either cannot be read. For messages.
 */
function runningForMs(start: string): Promise<number | undefined> {
  return new Promise((resolve) => {
    readFile('/proc/uptime', 'utf8', (err, text) => {
      const up = err ? NaN : Number(text.split(' ')[0]);
      const ticks = /^\d+$/.test(start) ? Number(start) : NaN;
      resolve(Number.isFinite(up) && Number.isFinite(ticks) ? Math.max(0, Math.round(up * 1000 - (ticks * 1000) / USER_HZ)) : undefined);
    });
  });
}

let myStart: Promise<string | undefined> | undefined;

/** This CLI process on this host: what lock files name, and the process table to judge the locks of others. */
export const thisHost: LockOwner = {
  host: hostname(),
  pid: process.pid,
  start: () => (myStart ??= processStart(process.pid)),
  startOf: processStart,
  runningForMs,
};

/** Send signal to pid (a negative pid: its process group); a process already gone, or not ours to signal, is fine. */
export function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    /* already gone, or not on this host */
  }
}
