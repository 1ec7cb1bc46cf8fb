// CPU time of this process's workerd children, from /proc (Linux only; elsewhere none are found),
// for the benchmark scripts.
import { readdirSync, readFileSync } from 'node:fs';

/** Milliseconds per clock tick of /proc's times (USER_HZ = 100 on Linux). */
export const TICK_MS = 10;

/** User and system time (ms) in a /proc stat line. */
function times(stat) {
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { userMs: Number(fields[11]) * TICK_MS, systemMs: Number(fields[12]) * TICK_MS, parent: Number(fields[1]) };
}

/** This process's workerd children: [{pid, userMs, systemMs, cpuMs}]. */
export function workerdStats() {
  const out = [];
  try {
    for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
      let stat;
      try { stat = readFileSync(`/proc/${pid}/stat`, 'utf8'); } catch { continue; }
      if (stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')) !== 'workerd') continue;
      const t = times(stat);
      if (t.parent === process.pid) out.push({ pid: Number(pid), userMs: t.userMs, systemMs: t.systemMs, cpuMs: t.userMs + t.systemMs });
    }
  } catch { /* not Linux */ }
  return out;
}

export const workerdPids = () => workerdStats().map((s) => s.pid);

/** CPU ms of the given workerd processes (all of this process's workerd children by default). */
export function workerdCpuMs(pids) {
  const s = workerdStats().filter((x) => !pids || pids.includes(x.pid));
  return s.length ? s.reduce((a, b) => a + b.cpuMs, 0) : NaN;
}

/** CPU ms of the main threads (the isolate's and the event loop's) of the given workerd processes. */
export function mainThreadCpuMs(pids) {
  return pids.reduce((sum, pid) => {
    try {
      const t = times(readFileSync(`/proc/${pid}/task/${pid}/stat`, 'utf8'));
      return sum + t.userMs + t.systemMs;
    } catch {
      return sum;
    }
  }, 0);
}
