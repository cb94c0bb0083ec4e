// One status line for long CLI work (steps, loss, tokens/s, ETA), redrawn in place on a terminal and
// printed every few seconds otherwise; always on stderr, so stdout stays clean for --json.
import type { TrainProgress } from '@shared/contract/training';

function formatEta(seconds: number): string {
  if (!Number.isFinite(seconds)) return '—';
  const s = Math.max(0, Math.round(seconds));
  return s >= 3600 ? `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m` : `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
}

export function progressBar(done: number, total: number, width = 24): string {
  const filled = total > 0 ? Math.round((Math.min(done, total) / total) * width) : 0;
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`;
}

export function describeProgress(p: TrainProgress, label = ''): string {
  // With nothing held out of the training file the job reports the test file's metrics as the eval ones too: shown once, as test.
  const isTestCopy = p.testLoss !== undefined && p.evalLoss === p.testLoss && p.evalAccuracy === p.testAccuracy;
  const evalPart =
    p.evalLoss !== undefined && !isTestCopy ? ` eval ${p.evalLoss.toFixed(4)}${p.evalAccuracy !== undefined ? ` acc ${(p.evalAccuracy * 100).toFixed(1)}%` : ''}` : '';
  // The test file's (`--eval-data`) beside the eval split's, named apart so neither is read for the other.
  const testPart = p.testLoss !== undefined ? ` · test ${p.testLoss.toFixed(4)}${p.testAccuracy !== undefined ? ` acc ${(p.testAccuracy * 100).toFixed(1)}%` : ''}` : '';
  return `${label}${progressBar(p.step, p.totalSteps)} ${p.step}/${p.totalSteps} loss ${p.trainLoss.toFixed(4)}${evalPart}${testPart} · ${p.tokensPerSecond.toFixed(0)} tok/s · ETA ${formatEta(p.etaSeconds)}`;
}

export function createProgressPrinter(stream: NodeJS.WriteStream = process.stderr): { update(line: string): void; done(): void } {
  const isTty = Boolean(stream.isTTY);
  // Non-terminal output (logs, CI) gets a line every 5 s, starting 5 s in: quick work prints nothing.
  let lastPrinted = Date.now();
  let printedAny = false;
  let pending = '';
  return {
    update(line) {
      pending = line;
      if (isTty) {
        stream.write(`\r\x1b[2K${line}`);
      } else if (Date.now() - lastPrinted > 5000) {
        stream.write(line + '\n');
        lastPrinted = Date.now();
        printedAny = true;
      }
    },
    done() {
      if (isTty && pending) stream.write('\n');
      else if (!isTty && printedAny && pending) stream.write(pending + '\n');
      pending = '';
    },
  };
}
