// Learning-rate schedules: constant, or linear warm-up followed by cosine or linear decay.
//
// lrAt(step) is the rate used by optimiser step `step` (0-based, step < totalSteps):
//   warm-up  (step < W):  peak · (step + 1) / W          — reaches the peak on step W − 1, never 0
//   decay    (step ≥ W):  p = (step − W) / (totalSteps − W) ∈ [0, 1)
//     cosine:  min + (peak − min) · ½(1 + cos πp)
//     linear:  min + (peak − min) · (1 − p)
//   constant: peak after warm-up
// where min = peak · minLrRatio. The last step's rate stays above min (no step is wasted at rate 0).

export type ScheduleKind = 'constant' | 'cosine' | 'linear';

export interface ScheduleConfig {
  kind: ScheduleKind;
  peakLr: number;
  totalSteps: number;
  warmupSteps: number;
  /** Rate at the end of the decay as a fraction of the peak (0 = decay to zero). */
  minLrRatio: number;
}

export function lrAt(config: ScheduleConfig, step: number): number {
  const { kind, peakLr, totalSteps, warmupSteps, minLrRatio } = config;
  if (step < warmupSteps) return (peakLr * (step + 1)) / warmupSteps;
  if (kind === 'constant') return peakLr;
  const decaySteps = Math.max(1, totalSteps - warmupSteps);
  const progress = Math.min(1, Math.max(0, (step - warmupSteps) / decaySteps));
  const minLr = peakLr * minLrRatio;
  const shape = kind === 'cosine' ? 0.5 * (1 + Math.cos(Math.PI * progress)) : 1 - progress;
  return minLr + (peakLr - minLr) * shape;
}
