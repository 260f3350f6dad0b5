/** Stop signals as users write them: SIGTERM, TERM or 15. */
import { constants } from "node:os";
import { ExecError, ExecErrorCode } from "../exec/errors.ts";

/** Docker's default stop signal. */
const DEFAULT_STOP_SIGNAL = "SIGTERM";

/** The canonical name (SIGTERM) of a signal written in any of the usual ways; empty means SIGTERM. */
export function signalName(text: string): NodeJS.Signals {
  const t = text.trim().toUpperCase() || DEFAULT_STOP_SIGNAL;
  const signals = constants.signals as Record<string, number>;
  if (/^\d+$/.test(t)) {
    const found = Object.entries(signals).find(([, n]) => n === Number(t));
    if (found) return found[0] as NodeJS.Signals;
  } else {
    const name = t.startsWith("SIG") ? t : `SIG${t}`;
    if (signals[name] !== undefined) return name as NodeJS.Signals;
  }
  throw new ExecError(ExecErrorCode.InvalidSpec, `unknown stop signal "${text}"`);
}

/** A signal's number. */
export function signalNumber(name: NodeJS.Signals): number {
  return (constants.signals as Record<string, number>)[name]!;
}
