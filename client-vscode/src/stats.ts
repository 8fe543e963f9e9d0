/**
 * Formatting the result of the server's `winnow.showStats` command for the
 * output channel. Pure: no `vscode` import.
 */

function formatScalar(value: unknown): string {
  if (value === null || value === undefined) {
    return '—';
  }
  if (typeof value === 'number') {
    return Number.isInteger(value) ? String(value) : String(Number(value.toPrecision(4)));
  }
  if (typeof value === 'string') {
    return value;
  }
  return JSON.stringify(value);
}

function formatLines(value: unknown, indent: string): string[] {
  if (Array.isArray(value)) {
    if (value.every((item) => typeof item !== 'object' || item === null)) {
      return [`${indent}${value.map(formatScalar).join(', ') || '(none)'}`];
    }
    return value.flatMap((item, index) => [`${indent}- [${index}]`, ...formatLines(item, `${indent}    `)]);
  }
  if (typeof value === 'object' && value !== null) {
    const lines: string[] = [];
    for (const [key, child] of Object.entries(value as Record<string, unknown>)) {
      const nested = typeof child === 'object' && child !== null && !(Array.isArray(child) && child.every((item) => typeof item !== 'object' || item === null));
      if (nested) {
        lines.push(`${indent}${key}:`, ...formatLines(child, `${indent}  `));
      } else if (Array.isArray(child)) {
        lines.push(`${indent}${key}: ${child.map(formatScalar).join(', ') || '(none)'}`);
      } else {
        lines.push(`${indent}${key}: ${formatScalar(child)}`);
      }
    }
    return lines.length > 0 ? lines : [`${indent}(empty)`];
  }
  return [`${indent}${formatScalar(value)}`];
}

/** Readable `key: value` lines for whatever JSON the server returned. */
export function formatStats(result: unknown): string {
  return ['Winnow stats', ...formatLines(result, '  ')].join('\n');
}
