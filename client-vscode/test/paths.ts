/** Paths the tests need, valid both from test/ (sources) and out/test/ (compiled). */
import * as fs from 'node:fs';
import * as path from 'node:path';

function findPackageRoot(start: string): string {
  let dir = start;
  for (;;) {
    if (fs.existsSync(path.join(dir, 'package.json')) && fs.existsSync(path.join(dir, 'src', 'extension.ts'))) {
      return dir;
    }
    const parent = path.dirname(dir);
    if (parent === dir) {
      throw new Error(`client-vscode's package.json not found above ${start}`);
    }
    dir = parent;
  }
}

/** client-vscode/ */
export const PACKAGE_ROOT = findPackageRoot(__dirname);
/** The repository root (client-vscode's parent). */
export const REPO_ROOT = path.dirname(PACKAGE_ROOT);
