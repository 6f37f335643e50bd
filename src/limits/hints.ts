// GraphQL's "Did you mean …?" suggestions name fields, arguments, filter operators and
// enum values: a map of the schema. With introspection off they are left out of every
// message, from validation and from variable coercion alike.
export function withoutHints(message: string): string {
  return message.replace(/ ?Did you mean [^?]*\?/g, '').trimEnd();
}
