// LM Studio keeps downloads as plain trees, publisher/repo/file.gguf (and MLX models as Hugging Face layout
// folders): ~/.lmstudio/models since 0.3, ~/.cache/lm-studio/models before. Both are scanned like a user folder.
import { join } from 'node:path';
import { scanFolderTree } from './folders';
import type { DiscoveredModel, ScanBudget } from './types';

export function lmStudioRoots(home: string): string[] {
  return [join(home, '.lmstudio', 'models'), join(home, '.cache', 'lm-studio', 'models')];
}

export function scanLmStudio(root: string, budget: ScanBudget, warnings: string[]): Promise<DiscoveredModel[]> {
  return scanFolderTree(root, 'lmstudio', budget, warnings);
}
