// Everything a handler may use: the services (created once per process) and the event bus.
import { EventBus } from '../rpc/event-bus';
import { SystemService } from '../services/system-service';
import { PathGuard } from './path-guard';

export interface AppOptions {
  home: string;
  shell: 'electron' | 'headless';
  /** Folders the user picked; file paths from clients must stay inside these or the home folder. */
  roots?: string[];
}

export interface AppContext {
  readonly options: AppOptions;
  readonly events: EventBus;
  readonly system: SystemService;
  /** Which file paths clients may read or write. */
  readonly paths: PathGuard;
}

export function createAppContext(options: AppOptions): AppContext {
  const events = new EventBus();
  return {
    options,
    events,
    system: new SystemService(options.home, options.shell),
    paths: new PathGuard([options.home, ...(options.roots ?? [])]),
  };
}
