// `prefixlab info`: the system.info response (app, tfjs, backends with reasons, machine).
import type { Command } from '../command';
import { bootstrap } from '../bootstrap';

export const infoCommand: Command = {
  name: 'info',
  summary: 'Show the app version, TensorFlow.js version and compute backends',
  usage: 'prefixlab info [--backend NAME] [--json]',
  options: {},
  async run(args) {
    const app = await bootstrap(args);
    const info = await app.system.info();
    const lines = [
      `PrefixLab ${info.appVersion} · TensorFlow.js ${info.tfjsVersion} · backend: ${info.backend}`,
      ...info.backends.map((b) => `  ${b.available ? '✓' : '✗'} ${b.name}${b.reason ? ` — ${b.reason}` : ''}`),
      `  ${info.cpuCores} cores, ${(info.totalMemoryBytes / 2 ** 30).toFixed(1)} GiB memory, home ${info.home}`,
    ];
    return { json: info, text: lines.join('\n') };
  },
};
