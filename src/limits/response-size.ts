// How many bytes a result will take as JSON, measured on the data before grafserv
// serialises it, so an oversized response is refused without being written out. An
// approximation (no escapes counted) that is cheap enough to run on every response;
// the rows behind it were already bounded by the operation's cost.
export function approximateJsonBytes(value: unknown): number {
  if (value === null || value === undefined) return 4;
  switch (typeof value) {
    case 'string':
      return value.length + 2;
    case 'number':
    case 'bigint':
      return 12;
    case 'boolean':
      return 5;
    case 'object': {
      if (Array.isArray(value))
        return value.reduce<number>((sum, item) => sum + approximateJsonBytes(item) + 1, 2);
      let bytes = 2;
      for (const key in value)
        bytes += key.length + 4 + approximateJsonBytes((value as Record<string, unknown>)[key]);
      return bytes;
    }
    default:
      return 4;
  }
}
